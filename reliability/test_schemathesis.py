"""Property-based requests against every operation of the server's own /openapi.json.

Schemathesis loads the document from a running server and runs its phases in order: the
documented examples, the coverage phase (boundary and invalid values for every parameter and
body, deterministic), the fuzzing phase (random valid and invalid requests, `schema_examples` per
operation), and the stateful phase (sequences along the links it infers between operations: the
id a POST answers is used by the GETs, PATCHes and DELETEs that take it). Every request carries a
real access token with all scopes; the identity endpoints get a real client's credentials in their
form bodies, and ids of things created or listed earlier are reused, so requests reach stored data
and not only 404s. Every answer must be a non-5xx whose status, content type, headers and body are
the ones the document gives for that operation.

The run is seeded (`ZEVVY_RELIABILITY_SEED`, default below), on one worker, so a run repeats.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import schemathesis
from schemathesis.engine import events, from_schema

from conftest import BACKEND, Scale
from db_checks import integrity_problems
from harness import Figures, ServerProcess, Tenant, add_client, database, make_tenant

DEFAULT_SEED = 20240101
REALM = "zevvy"  # the harness's servers keep the default realm
IDENTITY_PREFIXES = ("/realms/", "/.well-known/")


@schemathesis.check
def error_shape(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """Every 4xx is JSON in the API's error shape (`error`, `message`, `details`), or, from the
    identity server, in Keycloak's (`error`, with `error_description` when it has one)."""
    if response.status_code < 400:
        return
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str), f"not an error object: {body!r}"
    if not case.operation.path.startswith(IDENTITY_PREFIXES):
        assert isinstance(body.get("message"), str) and isinstance(body.get("details"), list), (
            f"not the API's error shape: {body!r}"
        )


CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "error_shape",
    # Stateful: a thing answered 201 can be read back, a deleted one answers 404 afterwards, and an
    # operation that needs a token refuses a request without one.
    "ensure_resource_availability",
    "use_after_free",
    "ignored_auth",
)
# Operations that must have answered 2xx at least once: reads and changes of stored things by id,
# which a run answering only 404s (ids never found) would not exercise.
MUST_REACH = (
    "GET /devices/{device_id}",
    "PATCH /devices/{device_id}",
    "GET /registers/{register_id}",
    "GET /registers/{register_id}/measurements",
    "GET /registers/{register_id}/consumption",
    "GET /deviceRef/{deviceRef}/registerRef/{registerRef}/measurements",
    "GET /properties/{property_id}",
    "GET /usage-units/{unit_id}",
    "GET /measurement-points/{point_id}",
    "GET /registers/{register_id}/conflicts",
    "POST /registers/{register_id}/conflicts/{conflict_id}/accept",
    "POST /measurements/_bulk_create",
    "POST /realms/{realm}/protocol/openid-connect/auth/device",
)


def logged_errors(server: ServerProcess) -> list[str]:
    """The server's log records at level error or above (its log is JSON, one record per line)."""
    found = []
    for line in server.log_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("level") in {"error", "critical"}:
            found.append(line[:500])
    return found


def seed_data(http: httpx.Client) -> None:
    """A counter with a day of readings and an open conflict, and the structure it is billed in."""
    readings = [
        {"readAt": f"2024-01-01T{h:02d}:{m:02d}:00Z", "value": h * 100 + m}
        for h in range(24)
        for m in (0, 15, 30, 45)
    ]
    path = "/deviceRef/meter-1/registerRef/1.8.0/measurements/_bulk_create"
    created = http.post(path, params={"unit": "kWh"}, json=readings)
    assert created.status_code == 201, created.text
    conflict = http.post(path, json=[{"readAt": "2024-01-01T12:00:00Z", "value": 1}])
    assert conflict.status_code == 409, conflict.text
    register_id = created.json()["register"]["id"]
    prop = http.post(
        "/properties", json={"name": "Seefeld 3", "reference": "P-1", "address": "Seefeld 3, Zürich"}
    )
    assert prop.status_code == 201, prop.text
    unit = http.post(
        "/usage-units", json={"propertyId": prop.json()["id"], "name": "Flat 1", "reference": "U-1"}
    )
    assert unit.status_code == 201, unit.text
    point = http.post(
        "/measurement-points",
        json={"usageUnitId": unit.json()["id"], "name": "Flat 1 power", "costType": "electricity"},
    )
    assert point.status_code == 201, point.text
    assigned = http.post(
        f"/measurement-points/{point.json()['id']}/assignments",
        json={"registerId": register_id, "validFrom": "2024-01-01"},
    )
    assert assigned.status_code == 201, assigned.text
    second = http.post(
        "/measurements/_bulk_create",
        json={"deviceReference": "meter-2", "registerReference": "2.8.0", "measurements": readings[:8]},
    )
    assert second.status_code == 201, second.text


def run_config(tenant: Tenant, client: tuple[str, str], examples: int, seed: int) -> schemathesis.Config:
    """Schemathesis' settings for this run (as its schemathesis.toml would give them)."""
    client_id, client_secret = client
    return schemathesis.Config.from_dict(
        {
            "seed": seed,
            "workers": 1,
            "continue-on-failure": True,
            "max-redirects": 0,
            "request-timeout": 60,
            "headers": {"Authorization": f"Bearer {tenant.access_token}"},
            "parameters": {
                "path.realm": REALM,
                "body.client_id": client_id,
                "body.client_secret": client_secret,
            },
            "generation": {"mode": "all", "max-examples": examples, "database": "none"},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "phases": {
                "examples": {"fill-missing": True},
                "fuzzing": {"extra-data-sources": {"responses": True}},
            },
            "cache": {"enabled": False},
        }
    )


@dataclass
class Outcome:
    """What a run sent and got back."""

    operations: set[str] = field(default_factory=set)
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    succeeded: set[str] = field(default_factory=set)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    stateful_scenarios: int = 0
    links: int = 0
    stop_reason: str = ""

    def add(self, event: events.ScenarioFinished) -> None:
        """Count a finished scenario's requests, statuses and failed checks."""
        recorder = event.recorder
        if event.phase.value == "stateful":
            self.stateful_scenarios += 1
        for case_id, interaction in recorder.interactions.items():
            if interaction.response is None:
                continue
            operation = recorder.cases[case_id].value.operation
            label = f"{operation.method.upper()} {operation.path}"
            status = interaction.response.status_code
            self.requests += 1
            self.statuses[status] += 1
            self.operations.add(label)
            if 200 <= status < 300:
                self.succeeded.add(label)
        for checks in recorder.checks.values():
            for check in checks:
                info = check.failure_info
                if info is None:
                    continue
                failure = info.failure
                key = (failure.operation, failure.title)
                if key not in self.failures:
                    self.failures[key] = f"{failure.message}\n    {info.code_sample}"


def test_every_operation_answers_in_its_documented_shape_and_never_5xx(
    server: ServerProcess, scale: Scale, figures: Figures
) -> None:
    db = database(server)
    tenant = make_tenant(server, db)
    with tenant.http(server) as http:
        seed_data(http)
        document = http.get("/openapi.json").json()
    documented = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}
    seed = int(os.environ.get("ZEVVY_RELIABILITY_SEED", DEFAULT_SEED))
    config = run_config(tenant, add_client(db, tenant.organization_id), scale.schema_examples, seed)
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", config=config)

    outcome = Outcome()
    began = time.perf_counter()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            outcome.add(event)
        elif isinstance(event, events.NonFatalError):
            outcome.errors.append(f"{event.label}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            outcome.errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.PhaseStarted) and isinstance(
            event.payload, events.StatefulPhasePayload
        ):
            outcome.links = event.payload.transitions_selected
        elif isinstance(event, events.EngineFinished):
            outcome.stop_reason = event.stop_reason.value
    duration = time.perf_counter() - began

    server_errors = sum(n for status, n in outcome.statuses.items() if status >= 500)
    by_class = Counter(f"{status // 100}xx" for status in outcome.statuses.elements())
    figures.record(
        "schemathesis",
        backend=BACKEND,
        seed=seed,
        examples_per_operation=scale.schema_examples,
        operations_documented=len(documented),
        operations_tested=len(outcome.operations & documented),
        operations_answering_2xx=len(outcome.succeeded & documented),
        operations_without_2xx=sorted(documented - outcome.succeeded),
        requests=outcome.requests,
        responses=dict(sorted(by_class.items())),
        stateful_links=outcome.links,
        stateful_scenarios=outcome.stateful_scenarios,
        server_errors=server_errors,
        failed_checks=len(outcome.failures),
        failures=sorted(f"{operation}: {title}" for operation, title in outcome.failures),
        seconds=round(duration, 1),
    )
    assert outcome.errors == [], outcome.errors
    assert outcome.stop_reason == "completed"
    assert outcome.failures == {}, "\n\n".join(
        f"{op} - {title}\n{text}" for (op, title), text in outcome.failures.items()
    )
    assert server_errors == 0
    assert documented - outcome.operations == set(), "operations never tested"
    assert [label for label in MUST_REACH if label not in outcome.succeeded] == []
    assert logged_errors(server) == []
    assert integrity_problems(db) == []
    db.dispose()
