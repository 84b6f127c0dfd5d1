"""3.1: send readings by device and register reference, as gateways do.

Run: python3 readings_by_reference.py (Python 3.11 or newer, standard library only)
"""

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

API_URL = os.environ.get("ZEVVY_API_URL", "http://127.0.0.1:8000")

token = json.loads(Path("zevvy-token.json").read_text())
device_ref = urllib.parse.quote("garage/wallbox 1", safe="")  # each reference is one path segment
register_ref = urllib.parse.quote("connector 2", safe="")
readings = [
    {"readAt": "2024-06-03T16:00:00Z", "value": 310000},
    {"readAt": "2024-06-03T16:15:00Z", "value": 312750},
    {"readAt": "2024-06-03T16:30:00Z", "value": 315500},
    {"readAt": "2024-06-03T16:45:00Z", "value": 318250},
]
request = urllib.request.Request(
    f"{API_URL}/deviceRef/{device_ref}/registerRef/{register_ref}/measurements/_bulk_create",
    data=json.dumps(readings).encode(),
    headers={"Authorization": f"Bearer {token['access_token']}", "Content-Type": "application/json"},
)
try:
    with urllib.request.urlopen(request) as response:
        body = response.read()
except urllib.error.HTTPError as error:
    if error.code != 409:  # 409: stored, but some readings differ from stored ones (see "conflicts")
        sys.exit(f"{error.code} {error.read().decode()}")
    body = error.read()

print(json.dumps(json.loads(body), indent=2, ensure_ascii=False))
