"""3.0: send one day of 15-minute meter readings of a charging station, by device and register name.

Run: python3 charging_station.py (Python 3.11 or newer, standard library only)
"""

import json
import os
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

API_URL = os.environ.get("ZEVVY_API_URL", "http://127.0.0.1:8000")

token = json.loads(Path("zevvy-token.json").read_text())
midnight = datetime(2024, 6, 2, 22, 0, tzinfo=UTC)  # 3 June 2024, 00:00 in Zurich (UTC+2 in summer)
measurements = []
for quarter in range(97):  # 00:00, 00:15, ... 24:00: the meter total every 15 minutes, in Wh
    charging = min(max(quarter - 72, 0), 12)  # a car charges 18:00-21:00 at 11 kW: 2750 Wh per quarter-hour
    read_at = midnight + timedelta(minutes=15 * quarter)
    measurements.append({"readAt": read_at.isoformat(), "value": 1_520_000 + 2750 * charging})
series = {
    "deviceName": "zevvy Test Device Example Charging Station",
    "registerName": "zevvy Test Register Example Charging Station",
    "measurements": measurements,
}
request = urllib.request.Request(
    f"{API_URL}/measurements/_bulk_create",
    data=json.dumps(series).encode(),
    headers={"Authorization": f"Bearer {token['access_token']}", "Content-Type": "application/json"},
)
try:
    with urllib.request.urlopen(request) as response:
        body = response.read()
except urllib.error.HTTPError as error:
    if error.code != 409:  # 409: stored, but some readings differ from stored ones (see "conflicts")
        sys.exit(f"{error.code} {error.read().decode()}")
    body = error.read()

Path("zevvy-import.json").write_bytes(body)  # steps 4.0 and 4.1 read the register's id from here
print(json.dumps(json.loads(body), indent=2, ensure_ascii=False))
