"""Running the ``zevvy`` command as a separate process, as a user or a script would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import Account, Server


@dataclass
class Cli:
    """The command with its own config folder and server settings in the environment."""

    config_dir: Path
    env: dict[str, str]

    @classmethod
    def for_server(cls, config_dir: Path, auth_url: str, api_url: str, **extra: str) -> Cli:
        """A command line talking to a server through ZEVVY_* variables."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZEVVY_")}
        env.update(
            {
                "ZEVVY_CONFIG_DIR": str(config_dir),
                "ZEVVY_AUTH_URL": auth_url,
                "ZEVVY_API_URL": api_url,
                "NO_COLOR": "1",
                "COLUMNS": "200",
                **extra,
            }
        )
        return cls(config_dir, env)

    def command(self, *args: str) -> list[str]:
        """The argv of ``zevvy ARGS``."""
        return [sys.executable, "-m", "zevvy", *args]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run to completion; output captured."""
        return subprocess.run(
            self.command(*args), env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start in the background; stdout and stderr piped."""
        return subprocess.Popen(
            self.command(*args), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def login(self, server: Server, account: Account, *args: str) -> dict[str, Any]:
        """``zevvy login --json``, approved by `account` once the code is shown; the result line."""
        process = self.start("login", "--json", *args)
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())
        assert first["event"] == "authorization", first
        server.approve(first["userCode"], account)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return result


def last_json(text: str) -> dict[str, Any]:
    """The last JSON line of an output."""
    data: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
    return data
