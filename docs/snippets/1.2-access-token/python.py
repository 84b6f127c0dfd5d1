"""1.2: poll for the access token until the user has approved the device code.

Run: python3 access_token.py (Python 3.11 or newer, standard library only)
"""

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

AUTH_URL = os.environ.get("ZEVVY_AUTH_URL", "http://127.0.0.1:8000/realms/zevvy")
CLIENT_ID = os.environ.get("ZEVVY_CLIENT_ID", "zevvy-cli")
CLIENT_SECRET = os.environ.get("ZEVVY_CLIENT_SECRET")  # not set for a public client

authorization = json.loads(Path("zevvy-device-authorization.json").read_text())
form = {
    "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
    "device_code": authorization["device_code"],
    "client_id": CLIENT_ID,
}
if CLIENT_SECRET:
    form["client_secret"] = CLIENT_SECRET
interval = authorization["interval"]
while True:
    request = urllib.request.Request(
        f"{AUTH_URL}/protocol/openid-connect/token", data=urllib.parse.urlencode(form).encode()
    )
    try:
        with urllib.request.urlopen(request) as response:
            body = response.read()
        break
    except urllib.error.HTTPError as error:
        problem = error.read().decode()
        code = json.loads(problem).get("error")
        if code == "slow_down":
            interval += 5  # RFC 8628: poll 5 seconds slower from now on
        elif code != "authorization_pending":
            sys.exit(f"{error.code} {problem}")
    time.sleep(interval)

Path("zevvy-token.json").write_bytes(body)  # the next steps read the access token from here
print(json.dumps(json.loads(body), indent=2, ensure_ascii=False))
