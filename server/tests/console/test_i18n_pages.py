"""The console's data pages speak German completely, and French can be added by a file."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import Account, LiveServer
from tests.support import console_login
from zevvy_server.console import access, settings
from zevvy_server.console.i18n import TRANSLATIONS

CONSOLE = Path(access.__file__).parent
TEMPLATE_DIRS = ("home", "devices", "registers", "structure", "settings")
PAGE_MODULES = (
    "access",
    "assignments",
    "charts",
    "devices",
    "home",
    "members_pages",
    "registers",
    "settings",
    "structure",
    "uploads",
)
_TEMPLATE_CALL = re.compile(r"""\bt\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
_PAGE_CALL = re.compile(r"""page\.t\(\s*((?:"[^"]*"\s*)+)""")


def english_texts() -> set[str]:
    """Every literal text the data pages translate."""
    texts: set[str] = set()
    for folder in TEMPLATE_DIRS:
        for template in (CONSOLE / "templates" / folder).glob("*.html"):
            texts |= {a or b for a, b in _TEMPLATE_CALL.findall(template.read_text(encoding="utf-8"))}
    for module in PAGE_MODULES:
        source = (CONSOLE / f"{module}.py").read_text(encoding="utf-8")
        texts |= {"".join(re.findall(r'"([^"]*)"', m)) for m in _PAGE_CALL.findall(source)}
    texts |= set(access.NOTICES.values()) | set(access.FIELDS.values()) | set(settings.GRANT_NAMES.values())
    return texts - {""}


def test_every_text_of_the_data_pages_has_a_german_translation() -> None:
    """A missing entry would show English in the middle of a German page."""
    german = json.loads((TRANSLATIONS / "de.json").read_text(encoding="utf-8"))
    missing = sorted(english_texts() - german.keys())
    assert missing == []


def test_translations_keep_their_placeholders() -> None:
    """`{name}` in the English text is `{name}` in the German one, or formatting would fail."""
    german = json.loads((TRANSLATIONS / "de.json").read_text(encoding="utf-8"))
    for text in english_texts():
        assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", german[text])), text


def test_the_pages_render_in_german(live_server: LiveServer, make_user: Callable[..., Account]) -> None:
    """With the language cookie set, headings and navigation are German."""
    account = make_user()
    with httpx.Client(base_url=live_server.url, cookies={"zevvy_lang": "de"}) as client:
        assert console_login(client, account.username, account.password).status_code == 303
        expectations = {
            "/console/": "Was Aufmerksamkeit braucht",
            "/console/devices": "<h1>Geräte</h1>",
            "/console/properties": "Neue Liegenschaft",
            "/console/assignments/upload": "Per CSV-Upload zuordnen",
            "/console/settings": "Mitglieder und Rollen",
            "/console/settings/clients": "Neuer API-Client",
            "/console/settings/members": "Jemanden einladen",
            "/console/settings/audit": "<h1>Protokoll</h1>",
        }
        for path, text in expectations.items():
            page = client.get(path)
            assert page.status_code == 200, path
            assert text in page.text, path
            assert '<html lang="de">' in page.text
