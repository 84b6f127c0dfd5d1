#!/bin/sh
# 3.1: send readings by device and register reference, as gateways do.
# Run: sh readings-by-reference.sh (needs curl and jq)
set -eu
api_url=${ZEVVY_API_URL:-http://127.0.0.1:8000}

access_token=$(jq -r .access_token zevvy-token.json)
device_ref=$(jq -rn '"garage/wallbox 1" | @uri')  # each reference is one path segment
register_ref=$(jq -rn '"connector 2" | @uri')
status=$(curl --silent --show-error --output zevvy-response.json --write-out '%{http_code}' \
  --header "Authorization: Bearer $access_token" \
  --header "Content-Type: application/json" \
  --data-binary '[
    {"readAt": "2024-06-03T16:00:00Z", "value": 310000},
    {"readAt": "2024-06-03T16:15:00Z", "value": 312750},
    {"readAt": "2024-06-03T16:30:00Z", "value": 315500},
    {"readAt": "2024-06-03T16:45:00Z", "value": 318250}
  ]' \
  "$api_url/deviceRef/$device_ref/registerRef/$register_ref/measurements/_bulk_create")
# 409: stored, but some readings differ from stored ones (see "conflicts")
if [ "$status" != 201 ] && [ "$status" != 409 ]; then echo "$status $(cat zevvy-response.json)" >&2; exit 1; fi

jq . zevvy-response.json
