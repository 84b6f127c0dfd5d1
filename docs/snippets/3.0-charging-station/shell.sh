#!/bin/sh
# 3.0: send one day of 15-minute meter readings of a charging station, by device and register name.
# Run: sh charging-station.sh (needs curl and jq)
set -eu
api_url=${ZEVVY_API_URL:-http://127.0.0.1:8000}

access_token=$(jq -r .access_token zevvy-token.json)
# 00:00, 00:15, ... 24:00 on 3 June 2024 in Zurich (UTC+2 in summer): the meter total in Wh;
# a car charges 18:00-21:00 at 11 kW, 2750 Wh per quarter-hour.
status=$(jq -n '{
    deviceName: "zevvy Test Device Example Charging Station",
    registerName: "zevvy Test Register Example Charging Station",
    measurements: [range(97) as $quarter | {
      readAt: (("2024-06-02T22:00:00Z" | fromdate) + 900 * $quarter | todate),
      value: (1520000 + 2750 * ([[$quarter - 72, 0] | max, 12] | min))
    }]
  }' |
  curl --silent --show-error --output zevvy-import.json --write-out '%{http_code}' \
    --header "Authorization: Bearer $access_token" \
    --header "Content-Type: application/json" \
    --data-binary @- \
    "$api_url/measurements/_bulk_create")
# 409: stored, but some readings differ from stored ones (see "conflicts")
if [ "$status" != 201 ] && [ "$status" != 409 ]; then echo "$status $(cat zevvy-import.json)" >&2; exit 1; fi

jq . zevvy-import.json  # steps 4.0 and 4.1 read the register's id from this file
