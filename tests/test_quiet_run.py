"""`make run` says what a new user needs (where Seams is, the demo login) and no warning that
does not concern them: the embedded mode has no broker, and the dev server is what they asked for.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.test_readme_commands import ROOT, _env

STARTED = "Quit the server with"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clone(into: Path) -> Path:
    """A copy of the working tree sharing this virtualenv (as a fresh clone after install)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() and name != "seams.sqlite3":
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    (into / ".venv").symlink_to(ROOT / ".venv")
    return into


def _run_until_serving(clone: Path, port: int, timeout: float = 300) -> str:
    """Everything `make run` prints until the dev server is listening, then stop it."""
    process = subprocess.Popen(
        ["make", "-o", ".venv/.installed", "run", f"PORT={port}"],
        cwd=clone, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    output = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        try:
            while STARTED.encode() not in output and time.monotonic() < deadline:
                if not selector.select(timeout=1):
                    if process.poll() is not None:
                        break
                    continue
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    break
                output += chunk
            time.sleep(1)  # anything printed just after start-up counts too
            while selector.select(timeout=0.5):
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    break
                output += chunk
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
            process.stdout.close()
    return output.decode(errors="replace")


def test_make_run_prints_the_demo_login_and_no_warning(tmp_path):
    clone = _clone(tmp_path / "clone")
    port = _free_port()
    output = _run_until_serving(clone, port)

    assert STARTED in output, output[-3000:]
    assert "Demo login: demo / seams-demo" in output
    assert f"Seams is starting on http://127.0.0.1:{port}/" in output
    warnings = [line for line in output.splitlines() if re.search(r"warn", line, re.I)]
    assert warnings == [], "\n".join(warnings)
    # Jobs run in-process here; a line per finished job is not news to the person starting it.
    assert "succeeded in" not in output
