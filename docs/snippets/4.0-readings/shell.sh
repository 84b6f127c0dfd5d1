#!/bin/sh
# 4.0: read back the stored readings of the charging station's register for one hour.
# Run: sh readings.sh (needs curl and jq)
set -eu
api_url=${ZEVVY_API_URL:-http://127.0.0.1:8000}

access_token=$(jq -r .access_token zevvy-token.json)
register_id=$(jq -r .register.id zevvy-import.json)
status=$(curl --silent --show-error --output zevvy-response.json --write-out '%{http_code}' --get \
  --header "Authorization: Bearer $access_token" \
  --data-urlencode "from=2024-06-03T16:00:00Z" \
  --data-urlencode "to=2024-06-03T17:00:00Z" \
  "$api_url/registers/$register_id/measurements")
if [ "$status" != 200 ]; then echo "$status $(cat zevvy-response.json)" >&2; exit 1; fi

jq . zevvy-response.json
