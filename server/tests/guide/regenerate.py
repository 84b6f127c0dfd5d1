"""Rewrite docs/api-guide.md from a fresh run of its snippets.

Run from server/: ``python -m tests.guide.regenerate [--language python]``. It starts a server on a
throwaway database (SQLite, or PostgreSQL when ZEVVY_TEST_DATABASE_URL is set) with the default
settings, creates a reader and a confidential API client, runs every snippet of one language in
order while approving the device code in headless Chromium, then writes the snippet blocks (from
docs/snippets) and the response blocks (what the snippets printed, tokens and codes redacted) back
into the guide. The test in test_snippets.py checks that every language prints the same.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from tests.guide.harness import (
    approve_in_browser,
    chromium,
    missing_toolchain,
    new_client,
    new_person,
    normalise,
    redact,
    run_guide,
    serve,
    shown,
    snippet_env,
)
from zevvy_server.console import guide


def main() -> None:
    """Run the snippets and rewrite the guide's code and response blocks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--language", default="python", choices=[language.key for language in guide.LANGUAGES]
    )
    language = parser.parse_args().language
    if missing := missing_toolchain(language):
        raise SystemExit(f"{missing[0]} is needed: {missing[1]}")

    with tempfile.TemporaryDirectory(prefix="zevvy-guide-") as scratch:
        folder = Path(scratch)
        (folder / "run").mkdir()
        with serve(folder) as server, chromium() as browser:
            client_id, secret = new_client(server, new_person(server).organization)
            reader = new_person(server)
            printed = run_guide(
                language,
                folder / "run",
                snippet_env(server, client_id, secret),
                lambda user_code: approve_in_browser(browser, server, reader, user_code),
            )
            responses = {step: shown(redact(output, server.url)) for step, output in printed.items()}

    text = guide.expand_snippets(guide.guide_text())
    before = guide.response_blocks(text)
    if same_up_to_the_run(before, responses):
        # Only ids and times differ: keep the file as it is rather than churn every id.
        print(f"{guide.GUIDE_PATH}: the responses are unchanged (ids and times aside)")
    else:
        text = guide.replace_responses(text, responses)
        print(f"{guide.GUIDE_PATH}: {len(responses)} responses from the {language} snippets")
    guide.GUIDE_PATH.write_text(text, encoding="utf-8")


def same_up_to_the_run(before: dict[str, str], after: dict[str, str]) -> bool:
    """Whether two sets of response blocks differ only in ids, times and tokens."""
    if before.keys() != after.keys():
        return False
    try:
        old = {k: normalise(json.loads(v), settings=False) for k, v in before.items()}
    except json.JSONDecodeError:
        return False
    return old == {k: normalise(json.loads(v), settings=False) for k, v in after.items()}


if __name__ == "__main__":
    main()
