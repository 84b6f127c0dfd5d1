#!/bin/sh
# 4.1: the register's consumption per day, days cut at midnight in Zurich.
# Run: sh daily-consumption.sh (needs curl and jq)
set -eu
api_url=${ZEVVY_API_URL:-http://127.0.0.1:8000}

access_token=$(jq -r .access_token zevvy-token.json)
register_id=$(jq -r .register.id zevvy-import.json)
status=$(curl --silent --show-error --output zevvy-response.json --write-out '%{http_code}' --get \
  --header "Authorization: Bearer $access_token" \
  --data-urlencode "from=2024-06-03" \
  --data-urlencode "to=2024-06-04" \
  --data-urlencode "interval=day" \
  --data-urlencode "timeZone=Europe/Zurich" \
  "$api_url/registers/$register_id/consumption")
if [ "$status" != 200 ]; then echo "$status $(cat zevvy-response.json)" >&2; exit 1; fi

jq . zevvy-response.json
