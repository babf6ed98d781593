"""Importing existing post-mortems: a folder of Markdown files with YAML front matter.

The format is the one many teams keep in a repository (uuid, url, title, company, product,
categories, keywords, summary, start/end times, then the body). Real folders are messy, so
each file is checked on its own: a bad file is reported with its reason and the import
carries on. Each source keeps its identity (`external_id`, `source_url`), so importing the
same folder again updates what changed and never duplicates.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.text import slugify

from .models import Incident
from .services import ReviewContent, incident_create, incident_update

logger = logging.getLogger(__name__)

KNOWN_KEYS = {
    "uuid", "url", "archive_url", "title", "company", "product", "categories", "keywords",
    "summary", "start_time", "end_time", "source_published_at", "source_fetched_at",
}  # fmt: skip
# Larger files are refused before they are read: a review section holds at most
# SEAMS_MAX_SECTION_CHARS characters, and a post-mortem is a few sections.
MAX_FILE_BYTES = 8 * 1024 * 1024
TITLE_LIMIT = 250
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)(.*)\Z", re.S)


class ImportProblem(Exception):
    """A file that cannot be imported, and why (shown to the person importing)."""


@dataclass
class ParsedPostmortem:
    """One file's content, checked and normalised, ready to become a review."""

    path: Path
    external_id: str
    source_url: str
    content: ReviewContent
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    """What an import did, file by file."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    # (file, what it may duplicate and why): pairs the duplicates app flagged for a file.
    possible_duplicates: list[tuple[str, str]] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return self.created + self.updated + self.unchanged + len(self.skipped)

    def summary(self) -> str:
        return (
            f"{self.seen} files: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {len(self.skipped)} skipped, "
            f"{len(self.warnings)} warnings"
        )


class _TextDatesLoader(yaml.SafeLoader):
    """YAML's safe loader, but timestamps stay text: `_when` reads them.

    PyYAML turns `date: 2024-13-45` or `2024-02-30` into a ValueError from deep inside the
    parser, which would abort the file with no useful reason; read as text, such a date is
    reported and left empty while the rest of the file imports.
    """


_TextDatesLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def _when(value: Any, name: str, warnings: list[str]) -> datetime | None:
    """A timestamp from YAML (a string, or a date), always aware and storable; else None."""
    if value in (None, ""):
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = value.isoformat()
    text = str(value).strip()
    try:
        parsed = parse_datetime(text)
        if parsed is None and (day := parse_date(text)) is not None:
            parsed = datetime(day.year, day.month, day.day)
        if parsed is not None:
            parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
            # Every database stores UTC: 0001-01-01 at +05:00 is before year 1 there.
            parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        warnings.append(f"{name} {text[:60]!r} is not a valid date-time; left empty")
    return parsed


def _text(value: Any, name: str = "") -> str:
    """A scalar as text; a list or mapping where text belongs makes the file a bad one."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        raise ImportProblem(f"{name or 'a field'} is a {type(value).__name__}, not text")
    return str(value).strip()


def _first_sentence(text: str, limit: int = 140) -> str:
    plain = re.sub(r"[*_`#>\[\]]", "", text).strip()
    sentence = re.split(r"(?<=[.!?])\s", plain, maxsplit=1)[0]
    return sentence[: limit - 1] + "…" if len(sentence) > limit else sentence


def _clip(text: str, name: str, warnings: list[str]) -> str:
    limit = settings.SEAMS_MAX_SECTION_CHARS
    if len(text) > limit:
        warnings.append(f"{name} was {len(text):,} characters; kept the first {limit:,}")
        return text[:limit]
    return text


def parse_postmortem(path: Path) -> ParsedPostmortem:
    """Read one file; raise ImportProblem with a reason a person can act on."""
    if not path.is_file():
        raise ImportProblem("not a file (a folder or something else named like one)")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImportProblem(
            f"too large ({size:,} bytes; at most {MAX_FILE_BYTES:,}): split or trim it"
        )
    data = path.read_bytes()
    nul = data.find(b"\x00")
    if nul >= 0:
        # PostgreSQL cannot store NUL in text; such a file is binary or corrupt anyway.
        raise ImportProblem(f"contains a NUL byte (at byte {nul}): not text")
    try:
        # utf-8-sig: a byte-order mark (as some editors write) is not part of the text.
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportProblem(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    raw = raw.replace("\r\n", "\n")
    match = _FRONT_MATTER.match(raw)
    if not match:
        raise ImportProblem("no YAML front matter (the file must start with a --- block)")
    try:
        meta = yaml.load(match.group(1), Loader=_TextDatesLoader)  # a SafeLoader: no Python objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark else ""
        raise ImportProblem(
            f"broken YAML front matter{where}: {getattr(exc, 'problem', exc)}"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise ImportProblem(f"unreadable YAML front matter: {str(exc)[:200]}") from exc
    if not isinstance(meta, dict):
        raise ImportProblem("front matter is not a mapping of keys to values")
    warnings: list[str] = []
    unknown = sorted(set(map(str, meta)) - KNOWN_KEYS)
    if unknown:
        warnings.append("ignored unknown keys: " + ", ".join(unknown))

    body = match.group(2).strip()
    uuid, url = _text(meta.get("uuid"), "uuid"), _text(meta.get("url"), "url")
    if uuid:
        external_id = uuid
    elif url:
        external_id = "url:" + hashlib.sha256(url.encode()).hexdigest()[:32]
        warnings.append("no uuid; identified by its URL")
    else:
        raise ImportProblem("neither uuid nor url: nothing identifies this post-mortem")

    summary = _text(meta.get("summary"), "summary")
    if not summary:
        summary = body.split("\n\n", 1)[0].strip() if body else ""
        warnings.append("no summary; used the first paragraph" if summary else "no summary")
    title = _text(meta.get("title"), "title")
    if not title:
        title = _first_sentence(summary) if summary else path.stem
        warnings.append("no title; made one from the summary")
    if len(title) > TITLE_LIMIT:
        warnings.append(f"title was {len(title):,} characters; kept the first {TITLE_LIMIT}")
        title = title[:TITLE_LIMIT]
    if not (summary or body):
        raise ImportProblem("no summary and no body: nothing to import")

    company, product = _text(meta.get("company"), "company"), _text(meta.get("product"), "product")
    # The company is where it happened, not a part of a system; the product is the part.
    components = [product] if product else []
    content = ReviewContent(
        fields={
            "title": title,
            "status": Incident.Status.PUBLISHED,
            "summary": _clip(summary, "summary", warnings),
            "narrative": _clip(body, "body", warnings),
            "started_at": _when(meta.get("start_time"), "start_time", warnings),
            "resolved_at": _when(meta.get("end_time"), "end_time", warnings),
            "external_id": external_id[:200],
            "source_url": url[:500],
            "organisation": company[:200],
        },
        components=components,
    )
    return ParsedPostmortem(path, external_id[:200], url[:500], content, warnings)


def _differs(incident: Incident, content: ReviewContent) -> bool:
    for name, value in content.fields.items():
        if getattr(incident, name) != value:
            return True
    # Components are one by slug ("GitHub" and "Github" are the same component).
    return sorted(c.slug for c in incident.components.all()) != sorted(
        {slugify(name)[:200] for name in content.components}
    )


def import_folder(
    folder: Path,
    *,
    by=None,
    progress: Callable[[Iterable[Path]], Iterable[Path]] = lambda paths: paths,
) -> ImportReport:
    """Import every `*.md` file under `folder` (recursively), one transaction per file.

    A file that cannot be imported, for whatever reason, is reported in `skipped` with its
    name and the reason, and the import goes on with the next one.
    """
    if not folder.is_dir():
        raise ImportProblem(f"{folder} is not a folder")
    report = ImportReport()
    seen: dict[str, Path] = {}
    for path in progress(sorted(folder.rglob("*.md"))):
        name = str(path.relative_to(folder))
        try:
            parsed = parse_postmortem(path)
        except ImportProblem as problem:
            report.skipped.append((name, str(problem)))
            continue
        if parsed.external_id in seen:
            report.skipped.append(
                (name, f"duplicate of {seen[parsed.external_id].relative_to(folder)} (same id)")
            )
            continue
        seen[parsed.external_id] = path
        try:
            outcome = _save(parsed, name=name, by=by)
        except (ValidationError, DatabaseError, ValueError, OverflowError) as error:
            # One file the database refuses must not stop the others (each file is saved in
            # its own transaction, so nothing of it is left behind).
            report.skipped.append((name, f"not saved: {str(error)[:300]}"))
            continue
        report.warnings.extend((name, w) for w in parsed.warnings)
        setattr(report, outcome, getattr(report, outcome) + 1)
        report.possible_duplicates.extend((name, d) for d in _possible_duplicates(parsed))
    return report


def _possible_duplicates(parsed: ParsedPostmortem) -> list[str]:
    """The open possible duplicates of the review a file became, one line each; never
    raises (flagging is advice: it must not stop an import)."""
    try:
        from duplicates.detection import flag_duplicates

        # A savepoint: a database error here must not spoil a caller's transaction.
        with transaction.atomic():
            incident = Incident.objects.get(external_id=parsed.external_id)
            pairs = flag_duplicates(incident)
        return [
            f"possible duplicate of #{p.other(incident.pk)} "
            f"“{(p.second if p.first_id == incident.pk else p.first).title}”: "
            + "; ".join(p.reasons)
            for p in pairs
        ]
    except Exception:
        logger.warning("could not look for duplicates of %s", parsed.path, exc_info=True)
        return []


def _save(parsed: ParsedPostmortem, *, name: str, by) -> str:
    """Create or update one review from a parsed file; say which ("created", …)."""
    with transaction.atomic():
        existing = (
            Incident.objects.filter(external_id=parsed.external_id)
            .prefetch_related("components")
            .first()
        )
        if existing is None:
            incident_create(by=by, content=parsed.content, note=f"Imported from {name}")
            return "created"
        if _differs(existing, parsed.content):
            # Only the imported fields are replaced; the rest of the review (patterns,
            # timeline, action items written in Seams since) is carried over untouched.
            parsed.content = _merge(existing, parsed.content)
            incident_update(
                incident=existing, by=by, content=parsed.content, note=f"Re-imported from {name}"
            )
            return "updated"
        return "unchanged"


def _merge(incident: Incident, imported: ReviewContent) -> ReviewContent:
    """The existing review with the imported fields replaced."""
    from .revisions import snapshot
    from .services import content_from_snapshot

    current = content_from_snapshot(snapshot(incident))
    current.fields.update(imported.fields)
    current.components = imported.components
    return current
