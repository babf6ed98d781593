"""Importing existing post-mortems: a folder of Markdown files with YAML front matter.

The format is the one many teams keep in a repository (uuid, url, title, company, product,
categories, keywords, summary, start/end times, then the body). Real folders are messy, so
each file is checked on its own: a bad file is reported with its reason and the import
carries on. Each source keeps its identity (`external_id`, `source_url`), so importing the
same folder again updates what changed and never duplicates.

What a source does not say stays unknown: a severity it does not give is
`Incident.Severity.UNKNOWN` (kept out of severity-weighted figures), a missing start time
leaves the incident undated (never the day of the import), a number of users affected is
read only from a number in the front matter (never out of prose). The one value still
inferred is the review status of a write-up that does not state one (see `_status`). The
import report counts, per field, what came from the sources, what was left unknown and what
was inferred. docs/importing.md lists the accepted keys and values.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
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
    "severity", "status", "users_affected",
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
    # Per reported field (see PROVENANCE_FIELDS): SOURCE, UNKNOWN, or what was inferred.
    provenance: dict[str, str] = field(default_factory=dict)
    # Fields whose value the source did not give (left unknown or inferred): a re-import
    # does not overwrite what a person set for them in Seams.
    unstated: frozenset[str] = frozenset()


# What the import report says for each file: a field's value came from the source, or the
# source did not give one and it was left unknown. Anything else is an inference, named.
SOURCE = "from the source"
UNKNOWN = "left unknown"
# The source named a product that is the organisation itself: read, and not made a part.
COMPANY_AS_PRODUCT = "none: the product named the organisation itself"
_NOT_INFERRED = (SOURCE, UNKNOWN, COMPANY_AS_PRODUCT)
# The fields the import report accounts for, in the order it lists them.
PROVENANCE_FIELDS = (
    "severity", "review status", "start date", "end date", "organisation", "components",
    "users affected (number)",
)  # fmt: skip


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
    # Per field: how many imported files gave it (SOURCE), left it unknown (UNKNOWN), or
    # had it inferred (the inference's own words).
    fields: dict[str, Counter[str]] = field(
        default_factory=lambda: {name: Counter() for name in PROVENANCE_FIELDS}
    )

    @property
    def seen(self) -> int:
        return self.created + self.updated + self.unchanged + len(self.skipped)

    def count(self, parsed: ParsedPostmortem) -> None:
        for name, outcome in parsed.provenance.items():
            self.fields.setdefault(name, Counter())[outcome] += 1

    @property
    def inferred(self) -> dict[str, Counter[str]]:
        """Per field, the values that were inferred rather than read or left unknown."""
        return {
            name: Counter({o: n for o, n in outcomes.items() if o not in _NOT_INFERRED})
            for name, outcomes in self.fields.items()
            if any(o not in _NOT_INFERRED for o in outcomes)
        }

    def summary(self) -> str:
        """The counts, then per field what came from the sources, what was left unknown and
        what was inferred (so nobody mistakes an inference for what a source said)."""
        lines = [
            f"{self.seen} files: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {len(self.skipped)} skipped, "
            f"{len(self.warnings)} warnings"
        ]
        imported = self.created + self.updated + self.unchanged
        if not imported:
            return lines[0]
        lines.append(f"Per field, of the {imported} files imported:")
        for name, outcomes in self.fields.items():
            # What came from the sources always shows, even when it is none.
            parts = [f"{outcomes[SOURCE]} {SOURCE}"] + [
                f"{n} {outcome}"
                for outcome, n in sorted(outcomes.items(), key=lambda item: -item[1])
                if outcome != SOURCE and n
            ]
            lines.append(f"  {name}: " + ", ".join(parts))
        inferred = self.inferred
        lines.append(
            "Inferred, not read from the source: "
            + "; ".join(f"{name} ({sum(n.values())})" for name, n in inferred.items())
            if inferred
            else "Nothing was inferred: every value came from a source or was left unknown."
        )
        return "\n".join(lines)


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


# --- what a front matter says about severity, status and people affected ------------------

Sev = Incident.Severity
# Severity words, as the common four- and five-step scales use them.
_SEVERITY_WORDS = {
    "critical": Sev.SEV1, "major": Sev.SEV2, "high": Sev.SEV2, "minor": Sev.SEV3,
    "medium": Sev.SEV3, "moderate": Sev.SEV3, "low": Sev.SEV4,
}  # fmt: skip
# A level: "SEV1", "sev-2", "Sev 3", "S1", "P1", "priority 2", "severity 1", or a bare number.
_SEVERITY_LEVEL = re.compile(r"(?:sev(?:erity)?|s|p(?:riority)?)?[\s_-]*([0-9])", re.I)
# Level 0 (SEV0/P0, where a scale has one) is Seams' most severe level; 5 its least.
_LEVELS = {0: Sev.SEV1, 1: Sev.SEV1, 2: Sev.SEV2, 3: Sev.SEV3, 4: Sev.SEV4, 5: Sev.SEV4}
_SAYS_UNKNOWN = {"", "unknown", "n/a", "na", "none", "tbd", "?", "-"}


def _severity(value: Any, warnings: list[str]) -> str | None:
    """Seams' severity for a front matter's `severity:`, or None when it gives none we can
    read (then it stays unknown). Levels and words map as in docs/importing.md."""
    if value is None:
        return None
    if isinstance(value, (bool, list, dict)):
        warnings.append(f"severity {str(value)[:40]!r} is not a level or a word; left unknown")
        return None
    text = str(value).strip().lower()
    if text in _SAYS_UNKNOWN:
        return None
    if text in Sev.values and text != Sev.UNKNOWN:
        return text
    # Seams' own labels ("SEV2 — major") and levels with a word after them ("P1 - critical").
    if match := _SEVERITY_LEVEL.fullmatch(re.split(r"\s*[—–:(/]\s*|\s+-\s+", text)[0]):
        level = int(match.group(1))
        if level in _LEVELS:
            return _LEVELS[level]
    if text.split()[0] in _SEVERITY_WORDS:
        return _SEVERITY_WORDS[text.split()[0]]
    warnings.append(f"severity {str(value)[:40]!r} is not a level or a word; left unknown")
    return None


# Review states as write-ups name them. An incident's own state ("resolved", "ongoing") is
# not a review's, so it is not read as one.
_STATUS_WORDS = {
    "draft": Incident.Status.DRAFT, "in review": Incident.Status.IN_REVIEW,
    "in_review": Incident.Status.IN_REVIEW, "in-review": Incident.Status.IN_REVIEW,
    "review": Incident.Status.IN_REVIEW, "under review": Incident.Status.IN_REVIEW,
    "published": Incident.Status.PUBLISHED, "final": Incident.Status.PUBLISHED,
    "approved": Incident.Status.PUBLISHED, "complete": Incident.Status.PUBLISHED,
    "completed": Incident.Status.PUBLISHED,
}  # fmt: skip
INFERRED_PUBLISHED = 'inferred "Published" (public at its URL; no status given)'
INFERRED_DRAFT = 'inferred "Draft" (no status and no public URL)'


def _status(value: Any, url: str, warnings: list[str]) -> tuple[str, str]:
    """The review status, and where it came from.

    A status the file states is used. Otherwise the write-up is a finished review where it
    was written: one published at a public URL is imported as published (as a draft it
    would wait for an approval nobody here will give, and Seams' checklist for its own
    reviews does not apply to someone else's). One with no URL and no status may be
    anything, a half-written internal note included, so it comes in as a draft for someone
    to review. Either way the report names the inference.
    """
    text = "" if value is None or isinstance(value, (list, dict, bool)) else str(value)
    word = text.strip().lower()
    if word in _STATUS_WORDS:
        return _STATUS_WORDS[word], SOURCE
    if value not in (None, ""):
        warnings.append(f"status {str(value)[:40]!r} is not a review status; not used")
    if url:
        return Incident.Status.PUBLISHED, INFERRED_PUBLISHED
    return Incident.Status.DRAFT, INFERRED_DRAFT


_NUMBER = re.compile(r"[0-9]{1,3}(?:[,_][0-9]{3})+|[0-9]+")


def _users_affected(value: Any, warnings: list[str]) -> tuple[int | None, str]:
    """(a number of users affected, prose): a number only when the front matter holds one
    on its own ("12000", "12,000"). Anything else ("~38%", "most EU users") is prose, kept
    as the review's words and never read for a figure."""
    if value is None or isinstance(value, bool):
        return None, ""
    if isinstance(value, int) and value >= 0:
        return value, ""
    if isinstance(value, (list, dict)):
        warnings.append("users_affected is not a number or text; left unknown")
        return None, ""
    text = str(value).strip()
    if _NUMBER.fullmatch(text) and (count := int(re.sub("[,_]", "", text))) < 2**31:
        return count, ""
    return None, text[:250]


def _same_name(product: str, company: str) -> bool:
    """Whether a product name is only the company's own name ("Slack" at Slack, "GitHub.com"
    at GitHub, "Sentry (hosted)" at Sentry): the whole organisation, not a part of it."""

    def bare(name: str) -> str:
        name = re.sub(r"\(.*?\)", "", name.lower())
        name = re.sub(r"\.(com|net|org|io)\b", "", name)
        return re.sub(r"[^a-z0-9+]", "", name)

    return bool(company) and bare(product) == bare(company)


def _components(product: str, company: str) -> tuple[list[str], str]:
    """The parts a `product:` names (a comma-separated list names several), without the
    company's own name, and where they came from."""
    names, depth, current = [], 0, ""
    for char in product:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char in ",;" and depth <= 0:
            names.append(current)
            current = ""
        else:
            current += char
    names.append(current)
    names = list(dict.fromkeys(n.strip()[:200] for n in names if n.strip()))
    kept = [n for n in names if not _same_name(n, company)]
    if kept:
        return kept, SOURCE
    if names:
        return [], COMPANY_AS_PRODUCT
    return [], UNKNOWN


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
    components, components_from = _components(product, company)
    severity = _severity(meta.get("severity"), warnings)
    status, status_from = _status(meta.get("status"), url, warnings)
    count, users_prose = _users_affected(meta.get("users_affected"), warnings)
    started = _when(meta.get("start_time"), "start_time", warnings)
    resolved = _when(meta.get("end_time"), "end_time", warnings)
    if started and resolved and resolved < started:
        warnings.append("end_time is before start_time; end left empty")
        resolved = None
    fields = {
        "title": title,
        "status": status,
        "severity": severity or Incident.Severity.UNKNOWN,
        "summary": _clip(summary, "summary", warnings),
        "narrative": _clip(body, "body", warnings),
        # No start time: no date. Never the day of the import (nor a publication date,
        # which is when it was written up, not when it happened).
        "started_at": started,
        "resolved_at": resolved,
        "users_affected_count": count,
        "external_id": external_id[:200],
        "source_url": url[:500],
        "organisation": company[:200],
    }
    if users_prose:
        fields["users_affected"] = users_prose
    provenance = {
        "severity": SOURCE if severity else UNKNOWN,
        "review status": status_from,
        "start date": SOURCE if started else UNKNOWN,
        "end date": SOURCE if resolved else UNKNOWN,
        # No company: nothing says whose incident it was (a blank organisation reads "ours").
        "organisation": SOURCE if company else UNKNOWN,
        "components": components_from,
        "users affected (number)": SOURCE if count is not None else UNKNOWN,
    }
    unstated = {
        name
        for name, said in (
            ("severity", severity),
            ("status", status_from == SOURCE),
            ("started_at", started),
            ("resolved_at", resolved),
            ("users_affected_count", count is not None),
        )
        if not said
    }
    content = ReviewContent(fields=fields, components=components)
    return ParsedPostmortem(
        path, external_id[:200], url[:500], content, warnings, provenance, frozenset(unstated)
    )


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
        report.count(parsed)
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
            incident_create(by=by, content=parsed.content, note=f"{IMPORTED} {name}")
            return "created"
        if parsed.unstated and _edited_here(existing):
            # What the source does not say does not undo what a person said in Seams (a
            # severity assessed, a start time found); a review only ever imported takes the
            # import's values, so reviews imported before unknowns existed are put right.
            parsed.content = replace(
                parsed.content,
                fields={k: v for k, v in parsed.content.fields.items() if k not in parsed.unstated},
            )
        if _differs(existing, parsed.content):
            # Only the imported fields are replaced; the rest of the review (patterns,
            # timeline, action items written in Seams since) is carried over untouched.
            parsed.content = _merge(existing, parsed.content)
            incident_update(
                incident=existing, by=by, content=parsed.content, note=f"{REIMPORTED} {name}"
            )
            return "updated"
        return "unchanged"


IMPORTED, REIMPORTED = "Imported from", "Re-imported from"


def _edited_here(incident: Incident) -> bool:
    """Whether anything but an import ever saved this review (an edit, a status change, a
    restore)."""
    return (
        incident.revisions.exclude(note__startswith=IMPORTED)
        .exclude(note__startswith=REIMPORTED)
        .exists()
    )


def _merge(incident: Incident, imported: ReviewContent) -> ReviewContent:
    """The existing review with the imported fields replaced."""
    from .revisions import snapshot
    from .services import content_from_snapshot

    current = content_from_snapshot(snapshot(incident))
    current.fields.update(imported.fields)
    current.components = imported.components
    return current
