"""Shared pieces of the timeline-import tests: the Slack export fixture as a ZIP."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

EXPORT = Path(__file__).parent / "fixtures" / "slack_export"
CHANNEL = "inc-checkout-latency"


def export_zip(root: Path = EXPORT, *, prefix: str = "", extra: dict[str, bytes] | None = None):
    """The fixture as Slack hands it out: a ZIP of channels.json, users.json and one folder
    per channel with a file per day (optionally inside a folder, as a re-zipped export is)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*.json")):
            archive.write(path, prefix + path.relative_to(root).as_posix())
        for name, body in (extra or {}).items():
            archive.writestr(prefix + name, body)
    return buffer.getvalue()
