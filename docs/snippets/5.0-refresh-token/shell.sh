#!/bin/sh
# 5.0: trade the refresh token for a new access token (and a new refresh token).
# Run: sh refresh-token.sh (needs curl and jq)
set -eu
auth_url=${ZEVVY_AUTH_URL:-http://127.0.0.1:8000/realms/zevvy}
client_id=${ZEVVY_CLIENT_ID:-zevvy-cli}

refresh_token=$(jq -r .refresh_token zevvy-token.json)
status=$(curl --silent --show-error --output zevvy-response.json --write-out '%{http_code}' \
  --data-urlencode "grant_type=refresh_token" \
  --data-urlencode "refresh_token=$refresh_token" \
  --data-urlencode "client_id=$client_id" \
  ${ZEVVY_CLIENT_SECRET:+--data-urlencode "client_secret=$ZEVVY_CLIENT_SECRET"} \
  "$auth_url/protocol/openid-connect/token")
if [ "$status" != 200 ]; then echo "$status $(cat zevvy-response.json)" >&2; exit 1; fi

mv zevvy-response.json zevvy-token.json  # the old refresh token is spent: keep the new one
jq . zevvy-token.json
