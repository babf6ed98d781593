"""API for the timeline import: `POST /api/v1/incidents/{id}/timeline/import/`.

A write token whose user may edit the review (the review's author, a named reviewer, an
editor) sends a Slack export (`file`, multipart) or a pasted chat (`transcript`), says which
messages to take (`select`), and gets the preview back (`dry_run=true`) or the import done.
A review the token's user may not see answers 404, as one that does not exist.
"""

from __future__ import annotations

import datetime as dt

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.schema import ERRORS, documented_error
from idempotency.api import idempotent
from incidents.api.serializers import StrictFieldsMixin
from incidents.models import Incident, TimelineEvent

from . import services
from .forms import read_chat, time_zone_choices
from .sources import MAX_TRANSCRIPT_CHARS, ChatImportError, max_upload_bytes


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "enum": list(services.SELECTIONS)},
            {"type": "array", "items": {"type": "string"}},
        ]
    }
)
class SelectField(serializers.Field):
    """`pinned`, `starred`, `pinned_or_starred` or `all`, or a list of message ids."""

    def get_value(self, dictionary):
        if hasattr(dictionary, "getlist"):  # multipart: `select` sent once or repeated
            values = dictionary.getlist(self.field_name)
            if not values:
                return serializers.empty
            return values[0] if len(values) == 1 and values[0] in services.SELECTIONS else values
        return super().get_value(dictionary)

    def to_internal_value(self, data):
        if isinstance(data, str):
            if data not in services.SELECTIONS:
                raise ValidationError(
                    f"“{data}” is not a selection: one of {', '.join(services.SELECTIONS)}, "
                    "or a list of message ids."
                )
            return data
        if isinstance(data, list) and all(isinstance(v, str) and v for v in data):
            return data
        raise ValidationError("A selection word or a list of message ids (strings).")

    def to_representation(self, value):
        return value


class ImportRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    """What to import and how to read it."""

    file = serializers.FileField(
        required=False,
        help_text="A Slack export: the workspace ZIP or one channel's JSON file (multipart).",
    )
    transcript = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=MAX_TRANSCRIPT_CHARS,
        help_text="A pasted chat transcript (instead of `file`); see docs for the shapes read.",
    )
    channel = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="The channel's name or id, when the export holds several.",
    )
    date = serializers.DateField(
        required=False, help_text="The first message's date, for transcripts of times alone."
    )
    timezone = serializers.ChoiceField(
        choices=[z for z, _ in time_zone_choices()],
        default="UTC",
        help_text="The zone a transcript's times are in (IANA name, default UTC).",
    )
    since = serializers.DateTimeField(
        required=False,
        default_timezone=dt.UTC,
        help_text="Only messages from this moment (ISO 8601; UTC without an offset).",
    )
    until = serializers.DateTimeField(
        required=False,
        default_timezone=dt.UTC,
        help_text="Only messages until this moment (ISO 8601; UTC without an offset).",
    )
    select = SelectField(
        required=False,
        help_text=(
            "Which messages: `pinned`, `starred` (a ⭐ reaction), `pinned_or_starred` "
            "(default), `all`, or a list of message ids from a dry run."
        ),
    )
    kinds = serializers.JSONField(
        required=False,
        help_text='The kind per message id, e.g. {"slack:1709287320.000100:U1": '
        '"mitigation"}; a message not named keeps its guessed kind.',
    )
    dry_run = serializers.BooleanField(
        default=False, help_text="`true`: answer the preview and write nothing."
    )

    def validate_file(self, upload):
        if upload.size > max_upload_bytes():
            raise ValidationError(
                f"The file is {upload.size:,} bytes; Seams reads at most {max_upload_bytes():,}."
            )
        return upload

    def validate_kinds(self, kinds):
        if not isinstance(kinds, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in kinds.items()
        ):
            raise ValidationError("An object of message id → kind.")
        bad = sorted({v for v in kinds.values() if v not in TimelineEvent.Kind.values})
        if bad:
            raise ValidationError(
                f"Unknown kind “{bad[0]}”: one of {', '.join(TimelineEvent.Kind.values)}."
            )
        return kinds


class MessageSerializer(serializers.Serializer):
    """One message of the chat as it would become (or became) a timeline row."""

    id = serializers.CharField(source="source_id", help_text="The message's id, for `select`.")
    occurred_at = serializers.DateTimeField(help_text="When it was written, in UTC.")
    author = serializers.CharField(help_text="The author's role, or name if the review allows.")
    text = serializers.CharField(help_text="The message as readable text.")
    event_text = serializers.CharField(help_text="The timeline row's text: author and message.")
    kind = serializers.ChoiceField(
        choices=TimelineEvent.Kind.choices, help_text="The guessed kind of the row."
    )
    pinned = serializers.BooleanField()
    starred = serializers.BooleanField(help_text="It has a ⭐ (`star`) reaction.")
    reply = serializers.BooleanField(help_text="It is a reply in a thread.")
    files = serializers.IntegerField(help_text="Files attached in the chat (never imported).")
    already_imported = serializers.BooleanField()
    selected = serializers.BooleanField(help_text="Chosen by `select`.")


class ImportResultSerializer(serializers.Serializer):
    """The preview (a dry run) or what the import added."""

    source = serializers.CharField()
    names_allowed = serializers.BooleanField(
        help_text="Whether the review keeps people's names (else roles)."
    )
    dry_run = serializers.BooleanField()
    messages = MessageSerializer(many=True)
    imported = serializers.ListField(
        child=serializers.CharField(), help_text="Ids of the messages added now."
    )
    already_imported = serializers.ListField(
        child=serializers.CharField(),
        help_text="Ids of selected messages already in the timeline (not added again).",
    )


BAD_CHAT = (
    "The ZIP inflates to more than 104,857,600 bytes; Seams reads at most that much. "
    "Export only the incident's channel."
)


@extend_schema(
    summary="Import a review's timeline from chat",
    description=(
        "Build the review's timeline from the incident channel: a Slack export (`file`: the "
        "workspace ZIP or one channel's JSON file) or a pasted transcript (`transcript`). "
        "Messages are chosen by `select` (pinned and ⭐-starred ones by default) and added as "
        "timeline rows in UTC, each with a guessed kind unless `kinds` says otherwise. People "
        "become roles (their Slack title, else “Responder”; bots “Bot”) unless the review "
        "allows names (`timeline_names_allowed`). A message already imported into this "
        "review is never added again. `dry_run=true` answers the preview without writing. "
        "201 when rows were added, 200 for a dry run or when every chosen message was in "
        "already. Needs a write token whose user may edit the review. Importing the same "
        "messages again adds nothing, so a retry is safe; an `Idempotency-Key` also "
        "replays the first answer."
    ),
    request={
        "multipart/form-data": ImportRequestSerializer,
        "application/json": ImportRequestSerializer,
    },
    responses={
        200: ImportResultSerializer,
        201: ImportResultSerializer,
        400: documented_error(
            400,
            "invalid",
            "The request has invalid fields; see `fields`.",
            "Neither a file nor a transcript, an unreadable or oversized upload (a ZIP "
            "bomb, not JSON, not a Slack export), or an unknown selection or kind.",
            {"file": [BAD_CHAT]},
        ),
        401: ERRORS[401],
        403: documented_error(
            403,
            "permission_denied",
            "Only this review's author, its named reviewers and editors may change it; "
            "this token acts as bot, who is none of these.",
            "A read token, or a user who may not edit this review.",
        ),
        404: ERRORS[404],
    },
    examples=[
        OpenApiExample(
            "A pasted transcript, previewed",
            value={
                "transcript": "[2024-03-01 10:02] Dana: alert fired for checkout 5xx\n"
                "[2024-03-01 10:09] Lee: rolled back the deploy",
                "select": "all",
                "dry_run": True,
            },
            request_only=True,
        )
    ],
)
class TimelineImportView(APIView):
    """Preview or import chat messages into one review's timeline."""

    @idempotent
    def post(self, request, id: int):
        incident = Incident.objects.visible_to(request.user).filter(pk=id).first()
        if incident is None:
            raise NotFound("No Incident matches the given query.")
        self.check_object_permissions(request, incident)
        body = ImportRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        upload = data.get("file")
        field = "file" if upload is not None else "transcript"
        try:
            log = read_chat(
                upload=upload.read() if upload is not None else None,
                transcript=data.get("transcript", ""),
                channel=data.get("channel", ""),
                day=data.get("date"),
                zone=data["timezone"],
                since=data.get("since"),
                until=data.get("until"),
            )
        except ChatImportError as error:
            raise ValidationError({field: [str(error)]}) from error
        select = data.get("select", services.DEFAULT_SELECTION)
        preview = services.preview(
            incident=incident, log=log, selection=select if isinstance(select, str) else "all"
        )
        try:
            rows = services.chosen_rows(
                preview, source_ids=None if isinstance(select, str) else select
            )
        except services.SelectionError as error:
            raise ValidationError({"select": [str(error)]}) from error
        chosen = {row.source_id for row in rows}
        result = None
        if not data["dry_run"]:
            result = services.import_rows(
                incident=incident, by=request.user, rows=rows, kinds=data.get("kinds")
            )
        answer = ImportResultSerializer(
            {
                "source": preview.source,
                "names_allowed": preview.names_allowed,
                "dry_run": data["dry_run"],
                "messages": [
                    {**vars(row), "selected": row.source_id in chosen} for row in preview.rows
                ],
                "imported": [r.source_id for r in result.added] if result else [],
                "already_imported": [
                    r.source_id
                    for r in (result.already_imported if result else rows)
                    if result or r.already_imported
                ],
            }
        ).data
        added = bool(result and result.added)
        return Response(answer, status=status.HTTP_201_CREATED if added else status.HTTP_200_OK)
