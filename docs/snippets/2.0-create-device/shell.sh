#!/bin/sh
# 2.0: create a device with a name and a reference of your own.
# Run: sh create-device.sh (needs curl and jq)
set -eu
api_url=${ZEVVY_API_URL:-http://127.0.0.1:8000}

access_token=$(jq -r .access_token zevvy-token.json)
status=$(curl --silent --show-error --output zevvy-response.json --write-out '%{http_code}' \
  --header "Authorization: Bearer $access_token" \
  --header "Content-Type: application/json" \
  --data-binary '{"name": "zevvy Test Device Example Charging Station", "reference": "garage/wallbox 1"}' \
  "$api_url/devices")
if [ "$status" != 201 ]; then echo "$status $(cat zevvy-response.json)" >&2; exit 1; fi

jq . zevvy-response.json
