"""The charging-station example of the zevvy API guide, end to end, with the zevvy SDK.

1. log in with the device flow (once; the tokens are kept and refreshed),
2. push a day of the charging station's 15-minute meter readings (cumulative Wh) with the body
   form ``POST /measurements/_bulk_create``, naming the device and register (created when new),
3. read back the day's consumption.

Run it against your own server (the defaults: http://127.0.0.1:8000 and its public ``zevvy-cli``
client) or the hosted zevvy::

    python examples/charging_station.py
    ZEVVY_AUTH_URL=https://iam.zevvy.org/realms/zevvy-prod ZEVVY_API_URL=https://api.zevvy.org \\
    ZEVVY_CLIENT_ID=... ZEVVY_CLIENT_SECRET=... python examples/charging_station.py

Running it again changes nothing: the server answers the same readings as ``unchanged``.
"""

from __future__ import annotations

import csv
import os
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import zevvy

DEVICE_NAME = "zevvy Test Device Example Charging Station"
REGISTER_NAME = "zevvy Test Register Example Charging Station"
HERE = Path(__file__).resolve().parent


def read_day(path: Path) -> list[tuple[datetime, Decimal]]:
    """The CSV's readings: ``timestamp`` (ISO 8601 with offset) and ``energy_wh`` (the counter)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.DictReader(handle)
        return [(datetime.fromisoformat(row["timestamp"]), Decimal(row["energy_wh"])) for row in rows]


def main() -> None:
    """Log in if needed, push the day, print what the server made of it."""
    csv_path = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "charging_station.csv"
    default_tokens = Path.home() / ".config" / "zevvy" / "charging-station.json"
    token_file = os.environ.get("ZEVVY_TOKEN_FILE") or default_tokens
    client = zevvy.Client(
        os.environ.get("ZEVVY_API_URL", "http://127.0.0.1:8000"),
        auth_url=os.environ.get("ZEVVY_AUTH_URL", "http://127.0.0.1:8000/realms/zevvy"),
        client_id=os.environ.get("ZEVVY_CLIENT_ID", "zevvy-cli"),
        client_secret=os.environ.get("ZEVVY_CLIENT_SECRET"),
        token_store=zevvy.FileTokenStore(token_file),
    )
    with client:
        # 1. Log in once; later runs reuse (and refresh) the stored tokens.
        if client.token_store.load() is None:
            client.login(
                on_code=lambda a: print(f"Open {a.url} and check the code {a.user_code}", flush=True)
            )

        # 2. A day of 15-minute readings, device and register named in the body.
        readings = read_day(csv_path)
        result = client.bulk_create_series(readings, device_name=DEVICE_NAME, register_name=REGISTER_NAME)
        print(
            f"{len(readings)} readings: {result.created} created, {result.unchanged} unchanged, "
            f"{result.conflicts} conflicts (import {result.import_id})"
        )
        assert result.register is not None

        # 3. The day's consumption (the counter's increase over the local day).
        day: date = readings[0][0].date()
        consumption = client.consumption(
            result.register.id, day, day + timedelta(days=1), interval="day", time_zone="Europe/Zurich"
        )
        for bucket in consumption:
            print(f"{bucket.from_:%Y-%m-%d %H:%M}Z to {bucket.to:%Y-%m-%d %H:%M}Z: {bucket.value} Wh")


if __name__ == "__main__":
    main()
