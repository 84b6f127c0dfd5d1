"""The API guide at /docs/guide, and its snippets filled in for one server and API client.

``docs/api-guide.md`` is the source. Two kinds of markers tie it to the snippets that the test
suite runs (``server/tests/guide``)::

    <!-- snippet: 2.0-create-device -->  ...  <!-- /snippet -->
    <!-- response: 2.0-create-device -->  ```json ... ```  <!-- /response -->

The page renders every snippet marker from the files under ``docs/snippets/<step>/`` themselves
(one tab per language), so it always shows the tested code; `expand_snippets` writes the same code
between the markers, for people reading the Markdown file. Response blocks hold what the snippets
printed when `python -m tests.guide.regenerate` last ran them.

Every snippet reads ``ZEVVY_AUTH_URL``, ``ZEVVY_API_URL`` and ``ZEVVY_CLIENT_ID`` with a default (a
local server and its public ``zevvy-cli`` client); `snippets_for` puts a given server's values in
place of those defaults. ``ZEVVY_CLIENT_SECRET`` never gets a default.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from zevvy_server.console.framework import render
from zevvy_server.web.deps import get_ctx

router = APIRouter(include_in_schema=False)

# The repository's docs folder (the server is installed from a checkout, editable).
DOCS_DIR = Path(__file__).resolve().parents[4] / "docs"
GUIDE_PATH = DOCS_DIR / "api-guide.md"
SNIPPETS_DIR = DOCS_DIR / "snippets"

# The public device-flow client every server creates on its first start (see bootstrap).
PUBLIC_CLIENT_ID = "zevvy-cli"
# The variables that get a server's value as their default; the secret never does.
DEFAULTED = ("ZEVVY_AUTH_URL", "ZEVVY_API_URL", "ZEVVY_CLIENT_ID")

STEP_ID = r"(?P<id>\d+\.\d+-[a-z0-9-]+)"  # 1.0-device-authorization
SNIPPET_BLOCK = re.compile(rf"<!-- snippet: {STEP_ID} -->\n(?P<body>.*?)<!-- /snippet -->", re.S)
RESPONSE_BLOCK = re.compile(rf"<!-- response: {STEP_ID} -->\n(?P<body>.*?)<!-- /response -->", re.S)
HEADING = re.compile(r"^#{2,3} +(?P<title>.+?) *$", re.M)
# How each language reads a variable with its default; `with_defaults` swaps the default.
DEFAULT_READS = {
    "java": 'System.getenv().getOrDefault("{name}", "{value}")',
    "python": 'os.environ.get("{name}", "{value}")',
    "javascript": 'process.env.{name} ?? "{value}"',
    "shell": "${{{name}:-{value}}}",
    "php": "getenv('{name}') ?: '{value}'",
}
SAFE_VALUE = re.compile(r"[A-Za-z0-9._~:/@%+\[\]-]+")


@dataclass(frozen=True)
class Language:
    """A language of the snippets: its file in docs/snippets and how a reader runs it."""

    key: str
    label: str
    extension: str
    fence: str

    def filename(self, step_id: str) -> str:
        """The name a reader saves the snippet of `step_id` under (Java: the class name)."""
        words = step_id.split("-", 1)[1].split("-")
        if self.key == "java":
            return "".join(w.capitalize() for w in words) + ".java"
        separator = "_" if self.key == "python" else "-"
        return separator.join(words) + "." + self.extension

    def run(self, step_id: str) -> str:
        """The command that runs the saved snippet."""
        name = self.filename(step_id)
        return {
            "java": f"java -cp /usr/share/java/gson.jar {name}",
            "python": f"python3 {name}",
            "javascript": f"node {name}",
            "shell": f"sh {name}",
            "php": f"php {name}",
        }[self.key]


LANGUAGES = (
    Language("java", "Java", "java", "java"),
    Language("python", "Python", "py", "python"),
    Language("javascript", "JavaScript", "mjs", "javascript"),
    Language("shell", "Shell", "sh", "sh"),
    Language("php", "PHP", "php", "php"),
)


@dataclass(frozen=True)
class Snippet:
    """One step's program in one language."""

    language: str
    label: str
    filename: str
    run: str
    code: str


@dataclass(frozen=True)
class Step:
    """A step of the guide (``1.0-device-authorization``) with its title and one snippet per language."""

    id: str
    title: str
    snippets: tuple[Snippet, ...]


def snippet_path(step_id: str, language: Language) -> Path:
    """Where the snippet of a step lives in the repository."""
    return SNIPPETS_DIR / step_id / f"{language.key}.{language.extension}"


def guide_text() -> str:
    """The guide's Markdown source."""
    return GUIDE_PATH.read_text(encoding="utf-8")


def step_titles(text: str) -> dict[str, str]:
    """Each snippet marker's step id with the title of the heading above it, in order."""
    titles: dict[str, str] = {}
    for match in SNIPPET_BLOCK.finditer(text):
        headings = HEADING.findall(text, 0, match.start())
        titles[match["id"]] = headings[-1] if headings else match["id"]
    return titles


def default_read(language: str, name: str) -> re.Pattern[str]:
    """How a snippet in `language` reads `name` with a default (the group ``value``)."""
    before, after = DEFAULT_READS[language].format(name=name, value="\0").split("\0")
    return re.compile(re.escape(before) + r"(?P<value>[^\"'}\s]*)" + re.escape(after))


def with_defaults(code: str, language: str, values: Mapping[str, str]) -> str:
    """`code` with the default of each variable in `values` replaced by the given value.

    Raises ValueError for a value that would need escaping, or a variable read without a default.
    """
    for name, value in values.items():
        if name not in DEFAULTED:
            raise ValueError(f"{name} never gets a default")
        if not SAFE_VALUE.fullmatch(value):
            raise ValueError(f"{value!r} cannot be shown as a default of {name}")
        before, after = DEFAULT_READS[language].format(name=name, value="\0").split("\0")
        # SAFE_VALUE has no backslash, so the replacement is taken literally.
        code, count = default_read(language, name).subn(before + value + after, code)
        if count == 0 and name in code:
            raise ValueError(f"the {language} snippet reads {name} without a default")
    return code


def _steps(values: Mapping[str, str] | None) -> list[Step]:
    steps = []
    for step_id, title in step_titles(guide_text()).items():
        snippets = []
        for language in LANGUAGES:
            code = snippet_path(step_id, language).read_text(encoding="utf-8")
            if values:
                code = with_defaults(code, language.key, values)
            snippets.append(
                Snippet(
                    language=language.key,
                    label=language.label,
                    filename=language.filename(step_id),
                    run=language.run(step_id),
                    code=code,
                )
            )
        steps.append(Step(id=step_id, title=title, snippets=tuple(snippets)))
    return steps


def steps() -> list[Step]:
    """Every step of the guide, with the snippets exactly as tested."""
    return _steps(None)


def snippets_for(auth_url: str, api_url: str, client_id: str) -> list[Step]:
    """Every step, its snippets defaulting to this server's URLs and this client's id (never a secret)."""
    values = {
        "ZEVVY_AUTH_URL": auth_url.rstrip("/"),
        "ZEVVY_API_URL": api_url.rstrip("/"),
        "ZEVVY_CLIENT_ID": client_id,
    }
    return _steps(values)


# -- the Markdown file --------------------------------------------------------------------------
def snippet_markdown(step: Step) -> str:
    """The Markdown that stands between a step's snippet markers."""
    parts = []
    for snippet, language in zip(step.snippets, LANGUAGES, strict=True):
        code = snippet.code if snippet.code.endswith("\n") else snippet.code + "\n"
        parts.append(f"**{snippet.label}** (`{snippet.filename}`)\n\n```{language.fence}\n{code}```\n")
    return "\n".join(parts)


def expand_snippets(text: str) -> str:
    """`text` with every snippet block rewritten from the snippet files."""
    by_id = {step.id: step for step in steps()}

    def replace(match: re.Match[str]) -> str:
        step = by_id[match["id"]]
        return f"<!-- snippet: {step.id} -->\n{snippet_markdown(step)}<!-- /snippet -->"

    return SNIPPET_BLOCK.sub(replace, text)


def response_blocks(text: str) -> dict[str, str]:
    """The JSON shown in each response block, by step id."""
    blocks = {}
    for match in RESPONSE_BLOCK.finditer(text):
        body = match["body"].strip()
        fence = re.fullmatch(r"```json\n(?P<json>.*)\n```", body, re.S)
        blocks[match["id"]] = fence["json"] if fence else body
    return blocks


def replace_responses(text: str, responses: Mapping[str, str]) -> str:
    """`text` with the response block of each step in `responses` holding that JSON."""

    def replace(match: re.Match[str]) -> str:
        step_id = match["id"]
        if step_id not in responses:
            return match[0]
        shown = responses[step_id].rstrip()
        return f"<!-- response: {step_id} -->\n```json\n{shown}\n```\n<!-- /response -->"

    return RESPONSE_BLOCK.sub(replace, text)


# -- the page -----------------------------------------------------------------------------------
def _slug(text: str) -> str:
    # GitHub's heading anchors, so that links inside the guide work there and here alike.
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def _markdown() -> MarkdownIt:
    # Raw HTML stays off: the markers are cut out before rendering.
    md = MarkdownIt("commonmark", {"html": False}).enable("table")

    def heading_ids(state: Any) -> None:
        tokens: list[Token] = state.tokens
        for opening, inline in itertools.pairwise(tokens):
            if opening.type == "heading_open" and inline.type == "inline":
                opening.attrSet("id", _slug(inline.content))

    md.core.ruler.push("heading_ids", heading_ids)
    return md


@dataclass(frozen=True)
class Part:
    """A piece of the page: rendered Markdown, or a step's snippets."""

    html: Markup | None = None
    step: Step | None = None


def _html(md: MarkdownIt, text: str) -> Markup:
    # Safe: raw HTML is off, so everything in the Markdown source comes out escaped.
    return Markup(md.render(text))  # noqa: S704


def page_parts(text: str, steps_by_id: Mapping[str, Step]) -> list[Part]:
    """The guide cut at its snippet markers, the Markdown between them rendered."""
    md = _markdown()
    text = RESPONSE_BLOCK.sub(lambda m: m["body"], text)
    parts: list[Part] = []
    position = 0
    for match in SNIPPET_BLOCK.finditer(text):
        parts.append(Part(html=_html(md, text[position : match.start()])))
        parts.append(Part(step=steps_by_id[match["id"]]))
        position = match.end()
    parts.append(Part(html=_html(md, text[position:])))
    return parts


@cache
def _page(auth_url: str, api_url: str) -> tuple[list[Part], list[tuple[str, str]]]:
    text = guide_text()
    by_id = {step.id: step for step in snippets_for(auth_url, api_url, PUBLIC_CLIENT_ID)}
    contents = [(_slug(title), title) for title in re.findall(r"^## +(.+?) *$", text, re.M)]
    return page_parts(text, by_id), contents


@router.get("/docs/guide")
async def guide_page(request: Request) -> HTMLResponse:
    """The API guide, its snippets defaulting to this server and its public device-flow client."""
    settings = get_ctx(request).settings
    parts, contents = _page(settings.issuer, settings.base_url)
    context = {
        "parts": parts,
        "contents": contents,
        "auth_url": settings.issuer,
        "api_url": settings.base_url,
        "client_id": PUBLIC_CLIENT_ID,
    }
    return render(request, "guide.html", context)
