"""Where the command line keeps settings and tokens, and which profile a command uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from zevvy.cli._profiles import (
    HOSTED_API_URL,
    HOSTED_AUTH_URL,
    LOCAL_API_URL,
    LOCAL_AUTH_URL,
    Overrides,
    ProfileError,
    Profiles,
    config_dir,
    profile_name_for,
)


def test_config_folder_follows_xdg_and_the_override(tmp_path: Path) -> None:
    """ZEVVY_CONFIG_DIR wins, then $XDG_CONFIG_HOME/zevvy, then ~/.config/zevvy."""
    assert config_dir({"ZEVVY_CONFIG_DIR": str(tmp_path / "z"), "XDG_CONFIG_HOME": "/x"}) == tmp_path / "z"
    assert config_dir({"XDG_CONFIG_HOME": "/x"}) == Path("/x/zevvy")
    assert config_dir({}) == Path.home() / ".config" / "zevvy"


def test_profiles_are_keyed_by_auth_url_and_client() -> None:
    """One name per (auth root, client id): readable, and distinct for different clients."""
    a = profile_name_for(HOSTED_AUTH_URL, "gateway-1")
    assert a.startswith("iam.zevvy.org-realms-zevvy-prod--gateway-1-")
    assert a != profile_name_for(HOSTED_AUTH_URL, "gateway-2")
    assert a == profile_name_for(HOSTED_AUTH_URL + "/", "gateway-1")


def test_a_first_login_defaults_to_the_local_server_and_its_public_client(tmp_path: Path) -> None:
    """With nothing given, login talks to http://127.0.0.1:8000 as zevvy-cli."""
    profile = Profiles(tmp_path).resolve(Overrides(), for_login=True)
    assert (profile.auth_url, profile.api_url, profile.client_id) == (
        LOCAL_AUTH_URL,
        LOCAL_API_URL,
        "zevvy-cli",
    )


def test_the_hosted_auth_root_knows_its_api_root_but_others_need_both(tmp_path: Path) -> None:
    """Roots are never derived from each other; only well-known pairs are filled in."""
    profiles = Profiles(tmp_path)
    hosted = profiles.resolve(Overrides(auth_url=HOSTED_AUTH_URL, client_id="c"), for_login=True)
    assert hosted.api_url == HOSTED_API_URL
    with pytest.raises(ProfileError, match="--api-url"):
        profiles.resolve(Overrides(auth_url="https://id.example/realms/x"), for_login=True)


def test_commands_use_the_last_login_and_refuse_when_there_is_none(tmp_path: Path) -> None:
    """After login a bare command finds its profile; before, it says to log in."""
    profiles = Profiles(tmp_path)
    with pytest.raises(ProfileError, match="zevvy login"):
        profiles.resolve(Overrides())
    profile = profiles.resolve(Overrides(profile="site-a", api_url="http://127.0.0.1:1"), for_login=True)
    profile.client_secret = "s3cret"
    profile.save()
    profiles.set_default("site-a")
    again = profiles.resolve(Overrides())
    assert (again.name, again.api_url, again.client_secret) == ("site-a", "http://127.0.0.1:1", "s3cret")
    assert oct((profile.folder / "profile.json").stat().st_mode & 0o777) == "0o600"


def test_profile_names_cannot_escape_the_config_folder(tmp_path: Path) -> None:
    """--profile ../../x is refused."""
    with pytest.raises(ProfileError):
        Profiles(tmp_path).resolve(Overrides(profile="../../etc"), for_login=True)
