"""What every command shares: the connection options, the client they build, and error handling."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Annotated, ParamSpec, TypeVar

import typer

from zevvy import Client, Retry, ZevvyError
from zevvy.cli._output import ExitCode, Output
from zevvy.cli._profiles import Overrides, Profile, ProfileError, Profiles

P = ParamSpec("P")
R = TypeVar("R")

AuthUrl = Annotated[
    str | None,
    typer.Option(
        "--auth-url",
        envvar="ZEVVY_AUTH_URL",
        help="Identity server root, e.g. https://iam.zevvy.org/realms/zevvy-prod.",
        rich_help_panel="Connection",
    ),
]
ApiUrl = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        envvar="ZEVVY_API_URL",
        help="Metering API root, e.g. https://api.zevvy.org.",
        rich_help_panel="Connection",
    ),
]
ClientId = Annotated[
    str | None,
    typer.Option(
        "--client-id",
        envvar="ZEVVY_CLIENT_ID",
        help="OAuth client id (default: zevvy-cli).",
        rich_help_panel="Connection",
    ),
]
ClientSecret = Annotated[
    str | None,
    typer.Option(
        "--client-secret",
        envvar="ZEVVY_CLIENT_SECRET",
        help="OAuth client secret (confidential clients, e.g. the hosted zevvy).",
        rich_help_panel="Connection",
    ),
]
ProfileName = Annotated[
    str | None,
    typer.Option(
        "--profile",
        envvar="ZEVVY_PROFILE",
        help="Named profile (default: the last login).",
        rich_help_panel="Connection",
    ),
]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@dataclass
class Invocation:
    """A command's profile, output and clients (closed when the command ends)."""

    profile: Profile
    out: Output
    profiles: Profiles
    cleanup: ExitStack

    def client(self, retry: Retry | None = None) -> Client:
        """An SDK client for the profile (tokens in its token file)."""
        client = Client(
            self.profile.api_url,
            auth_url=self.profile.auth_url,
            client_id=self.profile.client_id,
            client_secret=self.profile.client_secret,
            token_store=self.profile.token_store,
            retry=retry if retry is not None else Retry(),
        )
        return self.cleanup.enter_context(client)


@contextmanager
def invocation(
    out: Output,
    *,
    profile: str | None,
    auth_url: str | None,
    api_url: str | None,
    client_id: str | None,
    client_secret: str | None,
    for_login: bool = False,
) -> Iterator[Invocation]:
    """Resolve the profile, turning a missing login into exit code 3."""
    profiles = Profiles()
    given = Overrides(profile, auth_url, api_url, client_id, client_secret)
    try:
        resolved = profiles.resolve(given, for_login=for_login)
    except ProfileError as exc:
        missing_login = "login" in str(exc)
        out.fail(str(exc), code=ExitCode.AUTH if missing_login else ExitCode.USAGE, error="login_required")
    with ExitStack() as cleanup:
        yield Invocation(resolved, out, profiles, cleanup)


def reports_errors(json_param: str = "json") -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Turn SDK errors and Ctrl-C into a message and the documented exit code."""

    def decorate(command: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(command)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            out = Output(bool(kwargs.get(json_param, False)))
            try:
                return command(*args, **kwargs)
            except ZevvyError as exc:
                out.fail_with(exc)
            except KeyboardInterrupt:
                out.fail(
                    "interrupted (a push continues where it stopped when run again)",
                    code=ExitCode.INTERRUPTED,
                    error="interrupted",
                )

        return run

    return decorate
