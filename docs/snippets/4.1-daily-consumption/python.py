"""4.1: the register's consumption per day, days cut at midnight in Zurich.

Run: python3 daily_consumption.py (Python 3.11 or newer, standard library only)
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
query = urllib.parse.urlencode(
    {"from": "2024-06-03", "to": "2024-06-04", "interval": "day", "timeZone": "Europe/Zurich"}
)
request = urllib.request.Request(
    f"{API_URL}/registers/{register_id}/consumption?{query}",
    headers={"Authorization": f"Bearer {token['access_token']}"},
)
try:
    with urllib.request.urlopen(request) as response:
        body = response.read()
except urllib.error.HTTPError as error:
    sys.exit(f"{error.code} {error.read().decode()}")

print(json.dumps(json.loads(body), indent=2, ensure_ascii=False))
