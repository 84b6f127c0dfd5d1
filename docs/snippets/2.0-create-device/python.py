"""2.0: create a device with a name and a reference of your own.

Run: python3 create_device.py (Python 3.11 or newer, standard library only)
"""

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

API_URL = os.environ.get("ZEVVY_API_URL", "http://127.0.0.1:8000")

token = json.loads(Path("zevvy-token.json").read_text())
device = {"name": "zevvy Test Device Example Charging Station", "reference": "garage/wallbox 1"}
request = urllib.request.Request(
    f"{API_URL}/devices",
    data=json.dumps(device).encode(),
    headers={"Authorization": f"Bearer {token['access_token']}", "Content-Type": "application/json"},
)
try:
    with urllib.request.urlopen(request) as response:
        body = response.read()
except urllib.error.HTTPError as error:
    sys.exit(f"{error.code} {error.read().decode()}")

print(json.dumps(json.loads(body), indent=2, ensure_ascii=False))
