#!/bin/sh
# 1.0: ask for a device code, then show where the user approves it.
# Run: sh device-authorization.sh (needs curl and jq)
set -eu
auth_url=${ZEVVY_AUTH_URL:-http://127.0.0.1:8000/realms/zevvy}
client_id=${ZEVVY_CLIENT_ID:-zevvy-cli}

# Step 1.2 reads the device code from zevvy-device-authorization.json.
status=$(curl --silent --show-error --output zevvy-device-authorization.json --write-out '%{http_code}' \
  --data-urlencode "client_id=$client_id" \
  ${ZEVVY_CLIENT_SECRET:+--data-urlencode "client_secret=$ZEVVY_CLIENT_SECRET"} \
  --data-urlencode "scope=offline_access measurement register device" \
  "$auth_url/protocol/openid-connect/auth/device")
if [ "$status" != 200 ]; then echo "$status $(cat zevvy-device-authorization.json)" >&2; exit 1; fi

jq . zevvy-device-authorization.json
jq -r '"Open \(.verification_uri_complete) and approve the code \(.user_code)."' zevvy-device-authorization.json >&2
