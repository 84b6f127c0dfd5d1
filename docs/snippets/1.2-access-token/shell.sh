#!/bin/sh
# 1.2: poll for the access token until the user has approved the device code.
# Run: sh access-token.sh (needs curl and jq)
set -eu
auth_url=${ZEVVY_AUTH_URL:-http://127.0.0.1:8000/realms/zevvy}
client_id=${ZEVVY_CLIENT_ID:-zevvy-cli}

device_code=$(jq -r .device_code zevvy-device-authorization.json)
interval=$(jq -r .interval zevvy-device-authorization.json)
while :; do
  status=$(curl --silent --show-error --output zevvy-response.json --write-out '%{http_code}' \
    --data-urlencode "grant_type=urn:ietf:params:oauth:grant-type:device_code" \
    --data-urlencode "device_code=$device_code" \
    --data-urlencode "client_id=$client_id" \
    ${ZEVVY_CLIENT_SECRET:+--data-urlencode "client_secret=$ZEVVY_CLIENT_SECRET"} \
    "$auth_url/protocol/openid-connect/token")
  [ "$status" = 200 ] && break
  case $(jq -r .error zevvy-response.json) in
    authorization_pending) ;;
    slow_down) interval=$((interval + 5)) ;;  # RFC 8628: poll 5 seconds slower from now on
    *) echo "$status $(cat zevvy-response.json)" >&2; exit 1 ;;
  esac
  sleep "$interval"
done

mv zevvy-response.json zevvy-token.json  # the next steps read the access token from here
jq . zevvy-token.json
