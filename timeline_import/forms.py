"""The two steps of the web import: the upload (or paste) form, and the preview's choices.

Forms only validate and translate; reading the chat is `sources`, the import is `services`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cache

from django import forms
from django.core import signing
from django.utils import timezone

from incidents.models import TimelineEvent

from .sources import (
    SUPPORTED_SHAPES,
    ChatImportError,
    ChatLog,
    max_upload_bytes,
    read_transcript,
    read_upload,
)

# The preview posts one checkbox and one kind per row; Django refuses a request with more
# than 1,000 fields (DATA_UPLOAD_MAX_NUMBER_FIELDS), so a preview shows at most this many.
MAX_PREVIEW_ROWS = 450
# A preview's signed chat is good for this long: enough to choose, not to keep around.
PAYLOAD_MAX_AGE = 24 * 3600
PAYLOAD_SALT = "timeline_import.preview"


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    zones = sorted(zoneinfo.available_timezones() - {"UTC"})
    return [("UTC", "UTC")] + [(z, z) for z in zones]


def window(log: ChatLog, since: dt.datetime | None, until: dt.datetime | None) -> ChatLog:
    """Only the messages from `since` to `until` (either may be open)."""
    log.messages = [
        m
        for m in log.messages
        if (since is None or m.occurred_at >= since) and (until is None or m.occurred_at <= until)
    ]
    return log


def read_chat(
    *,
    upload: bytes | None,
    transcript: str,
    channel: str = "",
    day: dt.date | None = None,
    zone: str = "UTC",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> ChatLog:
    """The chat the author gave (a file or a pasted transcript, exactly one), narrowed to the
    window; a `ChatImportError` says what is wrong."""
    if upload is not None and transcript.strip():
        raise ChatImportError("Give either a file or a pasted transcript, not both.")
    if upload is not None:
        log = read_upload(upload, channel=channel)
    elif transcript.strip():
        log = read_transcript(transcript, day=day, zone=zone)
    else:
        raise ChatImportError("Upload a Slack export (ZIP or JSON) or paste a transcript.")
    log = window(log, since, until)
    if not log.messages:
        raise ChatImportError("No message falls between “From” and “Until”.")
    return log


class UploadForm(forms.Form):
    """Step one: the chat (a Slack export or a pasted transcript) and how to read it."""

    file = forms.FileField(
        label="Slack export",
        required=False,
        help_text="The workspace export ZIP, or one channel's JSON file.",
    )
    channel = forms.CharField(
        label="Channel",
        required=False,
        max_length=200,
        help_text="The incident's channel, when the export holds several (e.g. inc-2024-03-01).",
    )
    transcript = forms.CharField(
        label="Or paste a transcript",
        required=False,
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text="Shapes read: " + "; ".join(SUPPORTED_SHAPES) + ".",
    )
    date = forms.DateField(
        label="Date of the first message",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="For a transcript whose lines give times without a date.",
    )
    timezone = forms.ChoiceField(
        label="Time zone of the transcript",
        choices=time_zone_choices,
        initial="UTC",
        required=False,
        help_text="Transcript times are read in this zone and kept in UTC. "
        "Slack exports carry UTC times already.",
    )
    since = forms.DateTimeField(
        label="From (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    until = forms.DateTimeField(
        label="Until (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload is not None and upload.size > max_upload_bytes():
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes; Seams reads at most {max_upload_bytes():,}."
            )
        return upload

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        upload = data.get("file")
        try:
            self.log = read_chat(
                upload=upload.read() if upload is not None else None,
                transcript=data.get("transcript", ""),
                channel=data.get("channel", ""),
                day=data.get("date"),
                zone=data.get("timezone") or "UTC",
                since=_as_utc(data.get("since")),
                until=_as_utc(data.get("until")),
            )
        except ChatImportError as error:
            raise forms.ValidationError(str(error)) from error
        if len(self.log.messages) > MAX_PREVIEW_ROWS:
            first, last = self.log.messages[0].occurred_at, self.log.messages[-1].occurred_at
            raise forms.ValidationError(
                f"The chat has {len(self.log.messages):,} messages ({first:%Y-%m-%d %H:%M} to "
                f"{last:%Y-%m-%d %H:%M} UTC); a preview shows at most {MAX_PREVIEW_ROWS}. Narrow "
                "it to the incident with “From” and “Until”."
            )
        return data


def _as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """The form's times are UTC, whatever the server's zone (which Django read them in)."""
    if value is None:
        return None
    naive = timezone.make_naive(value) if timezone.is_aware(value) else value
    return naive.replace(tzinfo=dt.UTC)


def sign_log(log: ChatLog, *, incident_pk: int, user_pk: int) -> str:
    """The chat as a signed, compressed form field, bound to this review and this person."""
    return signing.dumps(
        log.to_dict(), salt=f"{PAYLOAD_SALT}:{incident_pk}:{user_pk}", compress=True
    )


def unsign_log(value: str, *, incident_pk: int, user_pk: int) -> ChatLog:
    """The chat a preview carried; `ChatImportError` when it is stale or was altered."""
    try:
        data = signing.loads(
            value, salt=f"{PAYLOAD_SALT}:{incident_pk}:{user_pk}", max_age=PAYLOAD_MAX_AGE
        )
    except signing.SignatureExpired as error:
        raise ChatImportError(
            "This preview is more than a day old: upload the chat again."
        ) from error
    except signing.BadSignature as error:
        raise ChatImportError("This preview cannot be read: upload the chat again.") from error
    return ChatLog.from_dict(data)


def chosen_from_post(post, row_count: int) -> tuple[list[int], dict[int, str]]:
    """The row indices ticked in the preview, and the kind chosen for each row."""
    chosen = []
    for value in post.getlist("select"):
        if value.isdigit() and int(value) < row_count:
            chosen.append(int(value))
    kinds = {}
    for index in range(row_count):
        kind = post.get(f"kind-{index}")
        if kind in TimelineEvent.Kind.values:
            kinds[index] = kind
    return sorted(set(chosen)), kinds
