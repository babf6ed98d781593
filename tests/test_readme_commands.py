"""Every `manage.py` command the README shows works as written, on a fresh clone after `make run`.

The clone is a copy of the working tree in a temporary folder, sharing this virtualenv; the
embedded mode (no DATABASE_URL, no DEBUG, no SECRET_KEY) is what a new user has.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PREFIX = ".venv/bin/python manage.py "
GOOD = """---
uuid: readme-1
title: Config push disables every edge node
summary: A rule pushed to all servers at once exhausted CPU everywhere.
---
Body.
"""
PLACEHOLDERS = {"PATH": "postmortems", "NAME": "readme-bot", "U": "demo"}


def _env() -> dict[str, str]:
    """A person's shell: none of Seams' settings in the environment."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "SEAMS_", "SECURE_", "PYTEST"))
        and name not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"}
    }


def documented_commands(readme: str) -> list[str]:
    """`manage.py` commands of the README's table and code blocks, placeholders expanded."""
    shown: list[str] = []
    table = readme.split("Useful commands", 1)[1].split("\n\n", 2)[1]
    for row in table.splitlines()[2:]:
        first_cell = re.split(r"(?<!\\)\|", row)[1]
        shown += [span.replace("\\|", "|") for span in re.findall(r"`([^`]+)`", first_cell)]
    for block in re.findall(r"```sh\n(.*?)```", readme, re.S):
        for line in block.splitlines():
            if line.startswith(PREFIX):
                shown.append(line.removeprefix(PREFIX).split("#", 1)[0].strip())
    commands = []
    for command in shown:
        commands += _expand(command)
    return commands


def _expand(command: str) -> list[str]:
    """`a|b` gives one command each; `[--x]` gives one without and one with."""
    choices = []
    for word in re.findall(r"\[[^\]]+\]|\S+", command):
        if word.startswith("["):
            inner = " ".join(PLACEHOLDERS.get(part, part) for part in word[1:-1].split())
            choices.append(["", inner])
        else:
            choices.append([PLACEHOLDERS.get(part, part) for part in word.split("|")])
    return [" ".join(w for w in combo if w) for combo in itertools.product(*choices)]


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory) -> Path:
    """A copy of the tree with `make run`'s set-up done (migrate, demo data, demo login)."""
    clone = tmp_path_factory.mktemp("clone")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    (clone / ".venv").symlink_to(ROOT / ".venv")
    # `make run` without its last step (runserver); -o: the shared virtualenv is installed.
    made = subprocess.run(
        ["make", "-o", ".venv/.installed", "demo"],
        cwd=clone, env=_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    (clone / "postmortems").mkdir()
    (clone / "postmortems" / "one.md").write_text(GOOD)
    return clone


def test_the_readme_lists_the_commands_this_test_runs():
    commands = documented_commands((ROOT / "README.md").read_text())
    names = {command.split()[0] for command in commands}
    assert {"import_postmortems", "recurrence_report", "create_api_token", "load_demo"} <= names
    assert "recurrence_report --since 2025-07-01 --until 2025-10-01 --format csv" in commands


def test_every_documented_command_works_as_written_in_the_embedded_mode(fresh_clone):
    commands = documented_commands((ROOT / "README.md").read_text())
    failures = []
    for command in commands:
        if command == "revoke_api_token":
            command += " 1"  # by id: the first token the table's create_api_token made
        result = subprocess.run(
            ["bash", "-c", PREFIX + command],
            cwd=fresh_clone, env=_env(), capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if result.returncode != 0:
            failures.append(f"{command}: {(result.stderr or result.stdout)[-600:]}")
    assert not failures, "\n\n".join(failures)
    # The embedded mode made its own key, kept beside the database and out of git.
    key_file = fresh_clone / "seams.secret_key"
    assert len(key_file.read_text().strip()) >= 50
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "seams.secret_key"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0
