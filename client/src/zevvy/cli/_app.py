"""The ``zevvy`` commands (typer): login, logout, whoami, devices, registers, push, export."""

from __future__ import annotations

import csv
import io
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from zevvy import Client, ConsumptionBucket, Device, Register, Tokens, ZevvyError, __version__
from zevvy._wire import instant_text
from zevvy.cli._common import (
    ApiUrl,
    AuthUrl,
    ClientId,
    ClientSecret,
    JsonOutput,
    ProfileName,
    invocation,
    reports_errors,
)
from zevvy.cli._output import ExitCode, Output, escape
from zevvy.cli._profiles import HOSTED_API_URL, HOSTED_AUTH_URL, Profile
from zevvy.cli._push_command import push
from zevvy.cli._qr import qr_text

app = typer.Typer(
    name="zevvy",
    help="Push meter readings to a zevvy server (self-hosted or hosted) and read them back.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
devices_app = typer.Typer(help="List, create and show devices.", no_args_is_help=True)
registers_app = typer.Typer(help="List and create a device's registers.", no_args_is_help=True)
app.add_typer(devices_app, name="devices")
app.add_typer(registers_app, name="registers")
app.command(help="Send a CSV or JSON file of readings, in batches, resumably.")(push)


def _version(value: bool) -> None:
    if value:
        print(f"zevvy {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Push meter readings to a zevvy server (self-hosted or hosted) and read them back.

    Exit codes: 0 ok, 1 error, 2 usage, 3 login needed, 4 conflicts (--fail-on-conflict),
    5 partial failure (re-run to resume), 130 interrupted.
    """


# -- login ----------------------------------------------------------------------------------------
def _when(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _identity(profile: Profile, tokens: Tokens) -> dict[str, Any]:
    claims = tokens.claims
    scope = claims.get("scope") if isinstance(claims.get("scope"), str) else tokens.scope
    exp = claims.get("exp")
    return {
        "profile": profile.name,
        "authUrl": profile.auth_url,
        "apiUrl": profile.api_url,
        "clientId": profile.client_id,
        "sub": claims.get("sub"),
        "preferredUsername": claims.get("preferred_username"),
        "orgId": claims.get("org_id"),
        "scopes": (scope or "").split(),
        "expiresAt": _when(float(exp)) if isinstance(exp, int | float) else _when(tokens.expires_at),
        "refreshExpiresAt": _when(tokens.refresh_expires_at),
    }


def _print_identity(out: Output, info: dict[str, Any], *, heading: str) -> None:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("user", info["preferredUsername"] or "-"),
        ("subject", info["sub"] or "-"),
        ("organization", info["orgId"] or "-"),
        ("scopes", " ".join(info["scopes"]) or "-"),
        ("access token expires", info["expiresAt"] or "-"),
        ("login renewable until", info["refreshExpiresAt"] or "no fixed end"),
        ("profile", info["profile"]),
        ("identity server", info["authUrl"]),
        ("API", info["apiUrl"]),
        ("client", info["clientId"]),
    ]
    for key, value in rows:
        table.add_row(key, escape(str(value)))
    if heading:
        out.out.print(heading)
    out.out.print(table)


@app.command()
@reports_errors()
def login(
    auth_url: AuthUrl = None,
    api_url: ApiUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    profile: ProfileName = None,
    hosted: Annotated[
        bool, typer.Option("--hosted", help=f"Use the hosted zevvy ({HOSTED_API_URL}); needs --client-id.")
    ] = False,
    scope: Annotated[
        str | None,
        typer.Option(help="Scopes to ask for (default: offline_access device register measurement)."),
    ] = None,
    qr: Annotated[bool, typer.Option("--qr/--no-qr", help="Show a QR code of the link.")] = True,
    json: JsonOutput = False,
) -> None:
    """Log in with the device flow: open the link (or scan the QR code), check the code, approve."""
    out = Output(json)
    if hosted:
        auth_url, api_url = auth_url or HOSTED_AUTH_URL, api_url or HOSTED_API_URL
        if not client_id:
            out.fail("the hosted zevvy needs your --client-id and --client-secret", code=ExitCode.USAGE)
    with invocation(
        out,
        profile=profile,
        auth_url=auth_url,
        api_url=api_url,
        client_id=client_id,
        client_secret=client_secret,
        for_login=True,
    ) as current:
        client = current.client()
        authorization = client.start_login(scope)
        if json:
            out.data(
                {
                    "event": "authorization",
                    "verificationUri": authorization.verification_uri,
                    "verificationUriComplete": authorization.verification_uri_complete,
                    "userCode": authorization.user_code,
                    "expiresIn": authorization.expires_in,
                    "interval": authorization.interval,
                }
            )
        else:
            err = out.err
            err.print("To log in, open this link on any device and check that it shows the code", end=" ")
            err.print(f"[bold]{escape(authorization.user_code)}[/]:\n", highlight=False)
            err.print(f"  {escape(authorization.url)}\n", highlight=False, soft_wrap=True)
            drawing = qr_text(authorization.url, colour=err.color_system is not None) if qr else None
            if drawing is not None:
                err.print(drawing)
            if authorization.verification_uri_complete:
                err.print(
                    f"(or open {escape(authorization.verification_uri)} and type the code)",
                    highlight=False,
                )
            err.print(f"Waiting for approval (the code expires in {authorization.expires_in // 60} min)...")
        tokens = client.finish_login(authorization)
        current.profile.save()
        current.profiles.set_default(current.profile.name)
        info = _identity(current.profile, tokens)
        if json:
            out.data({"event": "logged_in", **info})
        else:
            _print_identity(out, info, heading="[green]Logged in.[/]")


@app.command()
@reports_errors()
def logout(
    auth_url: AuthUrl = None,
    api_url: ApiUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    profile: ProfileName = None,
    local: Annotated[
        bool, typer.Option("--local", help="Only delete the stored tokens; do not revoke them at the server.")
    ] = False,
    json: JsonOutput = False,
) -> None:
    """Revoke the login at the identity server and delete the stored tokens."""
    out = Output(json)
    with invocation(
        out,
        profile=profile,
        auth_url=auth_url,
        api_url=api_url,
        client_id=client_id,
        client_secret=client_secret,
    ) as current:
        had_tokens = current.profile.token_store.load() is not None
        if local:
            current.profile.token_store.clear()
        else:
            client = current.client()
            try:
                client.logout()
            except ZevvyError as exc:
                out.fail(
                    f"could not revoke the login ({exc}); the tokens are kept: try again, or use --local",
                    code=ExitCode.ERROR,
                    error=exc.code,
                )
        if json:
            out.data(
                {"profile": current.profile.name, "revoked": had_tokens and not local, "deleted": had_tokens}
            )
        elif had_tokens:
            out.out.print(f"Logged out of {escape(current.profile.auth_url)}.", highlight=False)
        else:
            out.out.print("Not logged in; nothing to do.")


@app.command()
@reports_errors()
def whoami(
    auth_url: AuthUrl = None,
    api_url: ApiUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    profile: ProfileName = None,
    json: JsonOutput = False,
) -> None:
    """Show who the stored login acts as (from the access token's claims), refreshing it if due."""
    out = Output(json)
    with invocation(
        out,
        profile=profile,
        auth_url=auth_url,
        api_url=api_url,
        client_id=client_id,
        client_secret=client_secret,
    ) as current:
        client = current.client()
        info = _identity(current.profile, client.tokens())
        if json:
            out.data(info)
        else:
            _print_identity(out, info, heading="")


# -- devices --------------------------------------------------------------------------------------
def _devices_table(devices: list[Device]) -> Table:
    table = Table("id", "name", "reference", "status", "last reading", box=None, header_style="bold")
    for device in devices:
        table.add_row(
            device.id,
            escape(device.name),
            escape(device.reference or ""),
            device.status or "",
            instant_text(device.last_read_at) if device.last_read_at else "",
        )
    return table


def _registers_table(registers: list[Register]) -> Table:
    columns = ("id", "name", "reference", "kind", "period", "unit", "last reading", "last value")
    table = Table(*columns, box=None, header_style="bold")
    for register in registers:
        table.add_row(
            register.id,
            escape(register.name),
            escape(register.reference or ""),
            register.kind,
            register.period,
            register.unit,
            instant_text(register.last_read_at) if register.last_read_at else "",
            format(register.last_value, "f") if register.last_value is not None else "",
        )
    return table


@devices_app.command("list")
@reports_errors()
def devices_list(
    name: Annotated[str | None, typer.Option(help="Only devices with this name.")] = None,
    reference: Annotated[str | None, typer.Option(help="Only the device with this reference.")] = None,
    status: Annotated[str | None, typer.Option(help="assigned, partial or unassigned.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
    auth_url: AuthUrl = None,
    api_url: ApiUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    profile: ProfileName = None,
    json: JsonOutput = False,
) -> None:
    """List the organization's devices."""
    out = Output(json)
    with invocation(
        out,
        profile=profile,
        auth_url=auth_url,
        api_url=api_url,
        client_id=client_id,
        client_secret=client_secret,
    ) as current:
        client = current.client()
        devices: list[Device] = []
        for device in client.iter_devices(name=name, reference=reference, status=status):
            if limit is not None and len(devices) >= limit:
                break
            devices.append(device)
        if json:
            out.data(devices)
        else:
            out.out.print(_devices_table(devices))


@devices_app.command("create")
@reports_errors()
def devices_create(
    name: Annotated[str, typer.Argument(help="The device's name.")],
    reference: Annotated[str | None, typer.Option(help="Your reference for it (unique).")] = None,
    auth_url: AuthUrl = None,
    api_url: ApiUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    profile: ProfileName = None,
    json: JsonOutput = False,
) -> None:
    """Create a device."""
    out = Output(json)
    with invocation(
        out,
        profile=profile,
        auth_url=auth_url,
        api_url=api_url,
        client_id=client_id,
        client_secret=client_secret,
    ) as current:
        client = current.client()
        device = client.create_device(name, reference=reference)
        if json:
            out.data(device)
        else:
            out.out.print(_devices_table([device]))


def _find_device(client: Client, device_id: str | None, device_ref: str | None, out: Output) -> Device:
    if device_ref is not None:
        return client.get_device_by_reference(device_ref)
    if device_id is not None:
        return client.get_device(device_id)
    return out.fail("name the device: an ID, or --device-ref / --ref REFERENCE", code=ExitCode.USAGE)


@devices_app.command("show")
@reports_errors()
def devices_show(
    device_id: Annotated[str | None, typer.Argument(help="The device's id.", show_default=False)] = None,
    ref: Annotated[
        str | None, typer.Option("--ref", help="Find the device by its reference instead.")
    ] = None,
    auth_url: AuthUrl = None,
    api_url: ApiUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    profile: ProfileName = None,
    json: JsonOutput = False,
) -> None:
    """Show a device and its registers."""
    out = Output(json)
    with invocation(
        out,
        profile=profile,
        auth_url=auth_url,
        api_url=api_url,
        client_id=client_id,
        client_secret=client_secret,
    ) as current:
        client = current.client()
        device = _find_device(client, device_id, ref, out)
        registers = list(client.iter_registers(device.id))
        if json:
            out.data({"device": device, "registers": registers})
        else:
            out.out.print(_devices_table([device]))
            out.out.print()
            out.out.print(_registers_table(registers) if registers else "No registers yet.")


# -- registers ------------------------------------------------------------------------------------
DeviceOpt = Annotated[str | None, typer.Option("--device", help="The device's id.")]
DeviceRefOpt = Annotated[str | None, typer.Option("--device-ref", help="The device's reference.")]


@registers_app.command("list")
@reports_errors()
def registers_list(
    device: DeviceOpt = None,
    device_ref: DeviceRefOpt = None,
    auth_url: AuthUrl = None,
    api_url: ApiUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    profile: ProfileName = None,
    json: JsonOutput = False,
) -> None:
    """List a device's registers."""
    out = Output(json)
    with invocation(
        out,
        profile=profile,
        auth_url=auth_url,
        api_url=api_url,
        client_id=client_id,
        client_secret=client_secret,
    ) as current:
        client = current.client()
        found = _find_device(client, device, device_ref, out)
        registers = list(client.iter_registers(found.id))
        if json:
            out.data(registers)
        else:
            out.out.print(_registers_table(registers))


@registers_app.command("create")
@reports_errors()
def registers_create(
    name: Annotated[str, typer.Argument(help="The register's name.")],
    device: DeviceOpt = None,
    device_ref: DeviceRefOpt = None,
    reference: Annotated[
        str | None, typer.Option(help="Your reference for it (unique on the device).")
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="counter (meter reading) or interval (consumption).")
    ] = None,
    period: Annotated[str | None, typer.Option(help="ISO 8601 duration (default: PT15M).")] = None,
    unit: Annotated[str | None, typer.Option(help="Unit (default: Wh).")] = None,
    obis_code: Annotated[str | None, typer.Option(help="OBIS code, e.g. 1-0:1.8.0.")] = None,
    auth_url: AuthUrl = None,
    api_url: ApiUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    profile: ProfileName = None,
    json: JsonOutput = False,
) -> None:
    """Create a register on a device."""
    out = Output(json)
    with invocation(
        out,
        profile=profile,
        auth_url=auth_url,
        api_url=api_url,
        client_id=client_id,
        client_secret=client_secret,
    ) as current:
        client = current.client()
        found = _find_device(client, device, device_ref, out)
        register = client.create_register(
            found.id, name, reference=reference, kind=kind, period=period, unit=unit, obis_code=obis_code
        )
        if json:
            out.data(register)
        else:
            out.out.print(_registers_table([register]))


# -- export ---------------------------------------------------------------------------------------
def _instants(bucket: ConsumptionBucket) -> list[str]:
    return [instant_text(bucket.from_), instant_text(bucket.to)]


def _number(value: Any) -> str:
    return "" if value is None else format(value, "f")


@app.command()
@reports_errors()
def export(
    register: Annotated[str | None, typer.Option("--register", help="The register's id.")] = None,
    device_ref: Annotated[str | None, typer.Option(help="Or: the device's reference...")] = None,
    register_ref: Annotated[str | None, typer.Option(help="...and the register's reference.")] = None,
    from_: Annotated[
        str, typer.Option("--from", help="Start: YYYY-MM-DD (local) or an RFC 3339 instant.")
    ] = "",
    to: Annotated[str, typer.Option("--to", help="End (exclusive), like --from.")] = "",
    interval: Annotated[str, typer.Option(help="15min, hour, day, month or year.")] = "day",
    time_zone: Annotated[str | None, typer.Option(help="Where days begin (default: Europe/Zurich).")] = None,
    readings: Annotated[bool, typer.Option("--readings", help="Export the stored readings instead.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")
    ] = None,
    auth_url: AuthUrl = None,
    api_url: ApiUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    profile: ProfileName = None,
    json: JsonOutput = False,
) -> None:
    """Export a register's consumption per interval (or its readings) as CSV or JSON."""
    from zevvy._wire import as_json, dumps

    out = Output(json)
    if fmt not in {"csv", "json"}:
        out.fail("--format is csv or json", code=ExitCode.USAGE)
    if not from_ or not to:
        out.fail("give --from and --to (YYYY-MM-DD or RFC 3339)", code=ExitCode.USAGE)
    if register is None and not (device_ref and register_ref):
        out.fail("name the register: --register ID, or --device-ref and --register-ref", code=ExitCode.USAGE)
    with invocation(
        out,
        profile=profile,
        auth_url=auth_url,
        api_url=api_url,
        client_id=client_id,
        client_secret=client_secret,
    ) as current:
        client = current.client()
        register_id = register or _register_by_refs(client, str(device_ref), str(register_ref), out)
        if readings:
            rows: list[Any] = list(client.iter_measurements(register_id, from_, to))
            header = ["readAt", "value"]
            table = [[instant_text(r.read_at), _number(r.value)] for r in rows]
        else:
            rows = client.consumption(register_id, from_, to, interval=interval, time_zone=time_zone).buckets
            header = [
                "from",
                "to",
                "value",
                "estimated",
                "partial",
                "resets",
                "expectedSlots",
                "receivedSlots",
            ]
            table = [
                [
                    *_instants(b),
                    _number(b.value),
                    str(b.estimated).lower(),
                    str(b.partial).lower(),
                    str(b.resets),
                    str(b.expected_slots),
                    str(b.received_slots),
                ]
                for b in rows
            ]
    if fmt == "json":
        text = dumps(as_json(rows)) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(table)
        text = buffer.getvalue()
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    if json:
        out.data({"output": str(output), "rows": len(rows), "registerId": register_id})
    else:
        out.note(f"Wrote {len(rows)} row(s) to {output}.")


def _register_by_refs(client: Client, device_ref: str, register_ref: str, out: Output) -> str:
    device = client.get_device_by_reference(device_ref)
    for register in client.iter_registers(device.id):
        if register.reference == register_ref:
            return register.id
    return out.fail(
        f"device {device_ref!r} has no register with reference {register_ref!r}", error="not_found"
    )
