"""The timeline import: preview a chat's messages for a review, then add the chosen ones to its
timeline as a new version of the review.

Both steps are plain functions the web pages and the API call alike. Who may do them is the
caller's check (`incidents.permissions.can_edit`); what a review already holds is remembered
per message (`ImportedMessage`), so importing the same export twice adds nothing twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F

from incidents.models import Incident, TimelineEvent
from incidents.services import TimelineEntry, incident_patch

from .models import ImportedMessage
from .sources import ChatLog, ChatMessage
from .text import author_label, event_text, guess_kind, readable

SELECTIONS = ("pinned_or_starred", "pinned", "starred", "all")
DEFAULT_SELECTION = "pinned_or_starred"
# The most rows one import adds: a timeline is the moments that mattered, not the channel.
MAX_IMPORTED = 1000


@dataclass
class PreviewRow:
    """One message as the preview shows it, and as it would become a timeline row."""

    index: int
    source_id: str
    occurred_at: dt.datetime
    author: str
    text: str
    event_text: str
    kind: str
    pinned: bool
    starred: bool
    reply: bool
    files: int
    already_imported: bool
    # Picked by the selection (pinned, starred…), whether or not it is in already.
    in_selection: bool

    @property
    def preselected(self) -> bool:
        """Ticked in the preview: in the selection and not in the timeline yet."""
        return self.in_selection and not self.already_imported


@dataclass
class Preview:
    """A chat read for one review: every message, which are preselected, which are in."""

    source: str
    names_allowed: bool
    rows: list[PreviewRow] = field(default_factory=list)

    @property
    def importable(self) -> list[PreviewRow]:
        return [row for row in self.rows if not row.already_imported]


@dataclass
class ImportResult:
    """What an import did: the rows it added and the chosen ones that were already in."""

    added: list[PreviewRow]
    already_imported: list[PreviewRow]


class SelectionError(ValueError):
    """The selection names no known messages, or too many; the message says which."""


def _is_selected(message: ChatMessage, selection: str) -> bool:
    return {
        "pinned": message.pinned,
        "starred": message.starred,
        "pinned_or_starred": message.pinned or message.starred,
        "all": True,
    }[selection]


def preview(*, incident: Incident, log: ChatLog, selection: str = DEFAULT_SELECTION) -> Preview:
    """Every message of the chat as it would become a timeline row of this review: its time
    in UTC, its author as the review's settings allow (a role unless names are allowed), its
    readable text, a guessed kind, and whether it is preselected (pinned or starred by
    default) or already in the review (then it is never imported again)."""
    if selection not in SELECTIONS:
        raise SelectionError(f"Unknown selection “{selection}”: one of {', '.join(SELECTIONS)}.")
    names_allowed = incident.timeline_names_allowed
    done = set(
        ImportedMessage.objects.filter(
            incident=incident, source_id__in=[m.source_id for m in log.messages]
        ).values_list("source_id", flat=True)
    )
    limit = settings.SEAMS_MAX_SECTION_CHARS
    rows = []
    for index, message in enumerate(log.messages):
        words = readable(message, log, names_allowed=names_allowed)
        full = event_text(message, log, names_allowed=names_allowed)
        already = message.source_id in done
        rows.append(
            PreviewRow(
                index=index,
                source_id=message.source_id,
                occurred_at=message.occurred_at,
                author=author_label(
                    log.people.get(message.author_id), names_allowed=names_allowed, bot=message.bot
                ),
                text=words,
                # A timeline row is at most a review section long (the editor's own limit).
                event_text=full if len(full) <= limit else full[: limit - 1] + "…",
                kind=guess_kind(words),
                pinned=message.pinned,
                starred=message.starred,
                reply=message.reply,
                files=message.files,
                already_imported=already,
                in_selection=_is_selected(message, selection),
            )
        )
    return Preview(source=log.source, names_allowed=names_allowed, rows=rows)


def chosen_rows(preview_: Preview, *, source_ids: list[str] | None = None) -> list[PreviewRow]:
    """The rows to import: those with these source ids, or else those the preview's selection
    picked (rows already imported among them are skipped by `import_rows`).

    Raises `SelectionError` for an id the chat does not hold, or for more than
    `MAX_IMPORTED` rows.
    """
    if source_ids is None:
        rows = [row for row in preview_.rows if row.in_selection]
    else:
        by_id = {row.source_id: row for row in preview_.rows}
        unknown = [sid for sid in source_ids if sid not in by_id]
        if unknown:
            shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
            raise SelectionError(f"These message ids are not in the chat: {shown}.")
        rows = [by_id[sid] for sid in dict.fromkeys(source_ids)]
    if len(rows) > MAX_IMPORTED:
        raise SelectionError(
            f"{len(rows):,} messages chosen; one import adds at most {MAX_IMPORTED:,}. "
            "Choose the moments that mattered."
        )
    return rows


def import_rows(
    *,
    incident: Incident,
    by: AbstractBaseUser | None,
    rows: list[PreviewRow],
    kinds: dict[str, str] | None = None,
) -> ImportResult:
    """Add the rows to the review's timeline as one new version (a revision noting the
    import), each with its kind (`kinds` by source id, else the guess), and remember each
    message so no later import adds it again. Rows already imported are skipped; if none is
    left, nothing is written (no new version).

    The review is locked before the remembered messages are read, so two imports of the
    same export at the same moment cannot both add a message.
    """
    kinds = kinds or {}
    bad = {k for k in kinds.values() if k not in TimelineEvent.Kind.values}
    if bad:
        raise SelectionError(
            f"Unknown kind {sorted(bad)[0]!r}: one of {', '.join(TimelineEvent.Kind.values)}."
        )
    with transaction.atomic():
        # The same conditional-UPDATE lock the review services take (see incidents.services
        # `_claim`): a concurrent import waits here, then sees this one's messages.
        Incident.objects.filter(pk=incident.pk).update(version=F("version"))
        done = set(
            ImportedMessage.objects.filter(
                incident=incident, source_id__in=[r.source_id for r in rows]
            ).values_list("source_id", flat=True)
        )
        added = [r for r in rows if r.source_id not in done]
        skipped = [r for r in rows if r.source_id in done]
        if not added:
            return ImportResult(added=[], already_imported=skipped)
        ImportedMessage.objects.bulk_create(
            ImportedMessage(
                incident=incident, source_id=r.source_id, occurred_at=r.occurred_at, imported_by=by
            )
            for r in added
        )
        incident_patch(
            incident=incident,
            by=by,
            add_timeline=[
                TimelineEntry(
                    occurred_at=r.occurred_at,
                    text=r.event_text,
                    kind=kinds.get(r.source_id, r.kind),
                )
                for r in added
            ],
            note=f"Imported {len(added)} timeline event{'s' if len(added) != 1 else ''} from chat",
        )
    return ImportResult(added=added, already_imported=skipped)
