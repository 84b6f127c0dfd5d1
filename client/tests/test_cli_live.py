"""The ``zevvy`` command against the real server: login, whoami, devices, push, export, exit codes."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path

import pytest
from clitools import Cli
from conftest import Account, Server, unique
from proxies import Breakage, run_proxy

import zevvy

EXAMPLE_CSV = Path(__file__).resolve().parents[2] / "examples" / "charging_station.csv"
COLUMNS = ["--time-column", "timestamp", "--value-column", "energy_wh"]


@pytest.fixture
def cli(live_server: Server, tmp_path: Path) -> Cli:
    """The command with a fresh config folder, pointed at the live server."""
    return Cli.for_server(tmp_path / "config", live_server.auth_url, live_server.url)


@pytest.fixture
def logged_in(cli: Cli, live_server: Server, account: Account) -> Cli:
    """The command after `zevvy login`."""
    cli.login(live_server, account)
    return cli


def test_login_stores_private_tokens_and_whoami_reads_them(
    cli: Cli, live_server: Server, account: Account
) -> None:
    """Tokens land in the profile folder (0600); whoami names the user, organization and scopes."""
    result = cli.login(live_server, account)
    assert result["event"] == "logged_in"
    assert result["preferredUsername"] == account.username
    tokens = cli.config_dir / "profiles" / result["profile"] / "tokens.json"
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    who = cli.run("whoami", "--json")
    assert who.returncode == 0, who.stderr
    info = json.loads(who.stdout)
    assert info["orgId"] == str(account.organization_id)
    assert {"device", "register", "measurement"} <= set(info["scopes"])
    assert info["authUrl"] == live_server.auth_url and info["apiUrl"] == live_server.url
    human = cli.run("whoami")
    assert account.username in human.stdout


def test_logout_revokes_and_later_commands_need_a_login(logged_in: Cli) -> None:
    """After logout the token file is gone and commands exit with 3."""
    result = logged_in.run("logout", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["revoked"] is True
    assert list(logged_in.config_dir.glob("profiles/*/tokens.json")) == []
    after = logged_in.run("devices", "list")
    assert after.returncode == 3
    assert "login" in after.stderr


def test_commands_before_any_login_exit_with_3(cli: Cli) -> None:
    """Exit code 3 says: log in first."""
    result = cli.run("devices", "list", "--json")
    assert result.returncode == 3
    assert json.loads(result.stderr)["error"] == "login_required"


def test_devices_and_registers_commands(logged_in: Cli) -> None:
    """create, list and show, in JSON and as tables."""
    ref = unique("cs")
    created = logged_in.run("devices", "create", "Charging station P1", "--reference", ref, "--json")
    assert created.returncode == 0, created.stderr
    device = json.loads(created.stdout)
    register = logged_in.run(
        "registers", "create", "Energy", "--device-ref", ref, "--reference", "energy", "--json"
    )
    assert register.returncode == 0, register.stderr
    listed = json.loads(logged_in.run("devices", "list", "--json").stdout)
    assert device["id"] in {d["id"] for d in listed}
    shown = json.loads(logged_in.run("devices", "show", "--ref", ref, "--json").stdout)
    assert [r["reference"] for r in shown["registers"]] == ["energy"]
    table = logged_in.run("devices", "show", device["id"])
    assert "Charging station P1" in table.stdout and "energy" in table.stdout
    taken = logged_in.run("devices", "create", "Again", "--reference", ref)
    assert taken.returncode == 1 and "taken" in taken.stderr


def test_push_a_day_then_export_it(logged_in: Cli, tmp_path: Path) -> None:
    """The example CSV: 97 readings created, then the day's consumption exported as CSV and JSON."""
    ref = unique("cs")
    pushed = logged_in.run(
        "push", str(EXAMPLE_CSV), "--device-ref", ref, "--register-ref", "energy", *COLUMNS, "--json"
    )
    assert pushed.returncode == 0, pushed.stderr
    summary = json.loads(pushed.stdout)
    assert (summary["total"], summary["created"], summary["conflicts"], summary["complete"]) == (
        97,
        97,
        0,
        True,
    )

    day = ["--from", "2024-06-03", "--to", "2024-06-04"]
    exported = logged_in.run(
        "export",
        "--device-ref",
        ref,
        "--register-ref",
        "energy",
        *day,
        "--interval",
        "day",
        "--format",
        "csv",
    )
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(r["from"], r["to"], r["value"]) for r in rows] == [
        ("2024-06-02T22:00:00Z", "2024-06-03T22:00:00Z", "48946")
    ]
    hourly = logged_in.run(
        "export",
        "--register",
        summary["registerId"],
        "--from",
        "2024-06-03",
        "--to",
        "2024-06-04",
        "--interval",
        "hour",
        "--format",
        "json",
        "-o",
        str(tmp_path / "hours.json"),
        "--json",
    )
    assert hourly.returncode == 0, hourly.stderr
    hours = json.loads((tmp_path / "hours.json").read_text())
    assert len(hours) == 24 and sum(int(h["value"]) for h in hours) == 48946
    readings = logged_in.run(
        "export",
        "--register",
        summary["registerId"],
        "--from",
        "2024-06-03",
        "--to",
        "2024-06-04",
        "--readings",
    )
    assert len(readings.stdout.strip().splitlines()) == 1 + 96


def test_a_rerun_sends_nothing_and_restart_sends_everything_unchanged(logged_in: Cli) -> None:
    """The state file remembers a complete push; --restart re-sends and the server answers unchanged."""
    args = [
        "push",
        str(EXAMPLE_CSV),
        "--device-ref",
        unique("cs"),
        "--register-ref",
        "energy",
        *COLUMNS,
        "--json",
    ]
    assert logged_in.run(*args).returncode == 0
    again = json.loads(logged_in.run(*args).stdout)
    assert again["alreadyDelivered"] is True and again["sent"] == 0
    restarted = logged_in.run(*args, "--restart")
    summary = json.loads(restarted.stdout)
    assert (summary["sent"], summary["created"], summary["unchanged"]) == (97, 0, 97)


def test_conflicts_are_counted_written_and_optionally_fatal(logged_in: Cli, tmp_path: Path) -> None:
    """Changed values are reported, written to --conflicts-file, and exit 4 with --fail-on-conflict."""
    ref = unique("cs")
    base = ["--device-ref", ref, "--register-ref", "energy", *COLUMNS]
    assert logged_in.run("push", str(EXAMPLE_CSV), *base).returncode == 0
    changed = tmp_path / "changed.csv"
    lines = EXAMPLE_CSV.read_text().splitlines()
    lines[5] = lines[5].split(",")[0] + ",1"
    changed.write_text("\n".join(lines) + "\n")
    conflicts = tmp_path / "conflicts.csv"
    result = logged_in.run(
        "push", str(changed), *base, "--conflicts-file", str(conflicts), "--fail-on-conflict"
    )
    assert result.returncode == 4, result.stderr
    assert "96 unchanged" in result.stdout and "1 conflicts" in result.stdout
    rows = list(csv.DictReader(io.StringIO(conflicts.read_text())))
    assert rows == [{"readAt": "2024-06-02T23:00:00Z", "storedValue": "1254308", "sentValue": "1"}]


def test_an_invalid_file_is_refused_before_anything_is_sent(logged_in: Cli, tmp_path: Path) -> None:
    """Exit 2 with the bad lines named; the device is not even created."""
    bad = tmp_path / "bad.csv"
    bad.write_text("readAt,value\n2024-06-03T00:00:00Z,1\nnot-a-time,2\n2024-06-03T00:30:00,3\n")
    ref = unique("cs")
    result = logged_in.run("push", str(bad), "--device-ref", ref, "--register-ref", "energy")
    assert result.returncode == 2
    assert "line 3" in result.stderr and "line 4" in result.stderr and "--timezone" in result.stderr
    assert logged_in.run("devices", "show", "--ref", ref).returncode == 1


def test_push_rides_out_429_and_503_with_retry_after(
    live_server: Server, account: Account, tmp_path: Path
) -> None:
    """A busy server (through a proxy) is retried, waiting as told; the push completes."""
    with run_proxy(live_server.url) as proxy:
        proxy.breakages.append(Breakage(429, 1, lambda m, p: p.endswith("/_bulk_create"), retry_after="1"))
        proxy.breakages.append(Breakage(503, 1, lambda m, p: p.endswith("/_bulk_create"), retry_after="1"))
        cli = Cli.for_server(tmp_path / "config", live_server.auth_url, proxy.url)
        cli.login(live_server, account)
        ref = unique("cs")
        result = cli.run(
            "push",
            str(EXAMPLE_CSV),
            "--device-ref",
            ref,
            "--register-ref",
            "energy",
            *COLUMNS,
            "--batch-size",
            "40",
        )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("retrying in") == 2
    assert "97 created" in result.stdout
    bulk = [p for m, p in proxy.seen if p.endswith("/_bulk_create")]
    assert len(bulk) == 3 + 2


def test_a_failing_server_ends_with_exit_5_and_the_rerun_resumes(
    live_server: Server, account: Account, tmp_path: Path
) -> None:
    """After two delivered batches the server fails for good: exit 5; the re-run sends only the rest."""
    with run_proxy(live_server.url) as proxy:
        cli = Cli.for_server(tmp_path / "config", live_server.auth_url, proxy.url)
        cli.login(live_server, account)
        ref = unique("cs")
        args = [
            "push",
            str(EXAMPLE_CSV),
            "--device-ref",
            ref,
            "--register-ref",
            "energy",
            *COLUMNS,
            "--batch-size",
            "20",
            "--retries",
            "1",
            "--json",
        ]
        calls = {"n": 0}

        def third_and_later(method: str, path: str) -> bool:
            if not path.endswith("/_bulk_create"):
                return False
            calls["n"] += 1
            return calls["n"] > 2

        proxy.breakages.append(Breakage(500, 10**6, third_and_later))
        failed = cli.run(*args)
        assert failed.returncode == 5, failed.stderr
        partial = json.loads(failed.stdout)
        assert partial["delivered"] == 40 and partial["complete"] is False
        assert "re-run to resume" in json.loads(failed.stderr)["message"]
        proxy.breakages.clear()
        resumed = cli.run(*args)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert (summary["skipped"], summary["sent"], summary["created"], summary["unchanged"]) == (40, 57, 97, 0)


def test_the_sdk_sees_what_the_cli_pushed(logged_in: Cli, live_server: Server, account: Account) -> None:
    """Values pushed from a file read back exactly through the SDK."""
    ref = unique("cs")
    assert (
        logged_in.run(
            "push", str(EXAMPLE_CSV), "--device-ref", ref, "--register-ref", "energy", *COLUMNS
        ).returncode
        == 0
    )
    from conftest import log_in

    with zevvy.Client(live_server.url, auth_url=live_server.auth_url) as client:
        log_in(client, live_server, account)
        device = client.get_device_by_reference(ref)
        register = next(iter(client.iter_registers(device.id)))
        values = [m.value for m in client.iter_measurements(register.id)]
    assert values[0] == 1254300 and values[-1] == 1303246 and len(values) == 97
