"""1.0: ask for a device code, then show where the user approves it.

Run: python3 device_authorization.py (Python 3.11 or newer, standard library only)
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

form = {"client_id": CLIENT_ID, "scope": "offline_access measurement register device"}
if CLIENT_SECRET:
    form["client_secret"] = CLIENT_SECRET
request = urllib.request.Request(
    f"{AUTH_URL}/protocol/openid-connect/auth/device", data=urllib.parse.urlencode(form).encode()
)
try:
    with urllib.request.urlopen(request) as response:
        body = response.read()
except urllib.error.HTTPError as error:
    sys.exit(f"{error.code} {error.read().decode()}")

Path("zevvy-device-authorization.json").write_bytes(body)  # step 1.2 reads the device code from here
answer = json.loads(body)
print(json.dumps(answer, indent=2, ensure_ascii=False))
message = f"Open {answer['verification_uri_complete']} and approve the code {answer['user_code']}."
print(message, file=sys.stderr)
