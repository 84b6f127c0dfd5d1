"""5.0: trade the refresh token for a new access token (and a new refresh token).

Run: python3 refresh_token.py (Python 3.11 or newer, standard library only)
"""

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

AUTH_URL = os.environ.get("ZEVVY_AUTH_URL", "http://127.0.0.1:8000/realms/zevvy")
CLIENT_ID = os.environ.get("ZEVVY_CLIENT_ID", "zevvy-cli")
CLIENT_SECRET = os.environ.get("ZEVVY_CLIENT_SECRET")  # not set for a public client

token = json.loads(Path("zevvy-token.json").read_text())
form = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"], "client_id": CLIENT_ID}
if CLIENT_SECRET:
    form["client_secret"] = CLIENT_SECRET
request = urllib.request.Request(
    f"{AUTH_URL}/protocol/openid-connect/token", data=urllib.parse.urlencode(form).encode()
)
try:
    with urllib.request.urlopen(request) as response:
        body = response.read()
except urllib.error.HTTPError as error:
    sys.exit(f"{error.code} {error.read().decode()}")

Path("zevvy-token.json").write_bytes(body)  # the old refresh token is spent: keep the new one
print(json.dumps(json.loads(body), indent=2, ensure_ascii=False))
