"""4.0: read back the stored readings of the charging station's register for one hour.

Run: python3 readings.py (Python 3.11 or newer, standard library only)
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
register_id = json.loads(Path("zevvy-import.json").read_text())["register"]["id"]
query = urllib.parse.urlencode({"from": "2024-06-03T16:00:00Z", "to": "2024-06-03T17:00:00Z"})
request = urllib.request.Request(
    f"{API_URL}/registers/{register_id}/measurements?{query}",
    headers={"Authorization": f"Bearer {token['access_token']}"},
)
try:
    with urllib.request.urlopen(request) as response:
        body = response.read()
except urllib.error.HTTPError as error:
    sys.exit(f"{error.code} {error.read().decode()}")

print(json.dumps(json.loads(body), indent=2, ensure_ascii=False))
