"""Reading chat: the Slack export's shapes and caps, the transcript shapes, and Slack markup
turned into readable text with people as roles."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest

from timeline_import.sources import ChatImportError, ChatLog, read_transcript, read_upload
from timeline_import.text import event_text, guess_kind, readable

from .timeline_import_helpers import CHANNEL, export_zip

UTC = dt.UTC


def _zip(members: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def _day(*messages: dict) -> str:
    return json.dumps(list(messages))


# --- Slack exports ---------------------------------------------------------------------------


def test_an_export_zipped_again_inside_a_folder_reads_the_same():
    plain = read_upload(export_zip())
    nested = read_upload(export_zip(prefix="Acme Slack export Mar 1 2024/"))
    assert [m.source_id for m in nested.messages] == [m.source_id for m in plain.messages]
    assert plain.source == f"Slack export, #{CHANNEL}"


def test_an_export_of_several_channels_asks_which_one():
    two = export_zip(extra={"random/2024-03-01.json": _day()})
    with pytest.raises(ChatImportError, match=r"holds 2 channels.*#inc-checkout-latency, #random"):
        read_upload(two)
    assert len(read_upload(two, channel=f"#{CHANNEL}").messages) == 18
    assert len(read_upload(two, channel="C06INC0001").messages) == 18  # by id
    with pytest.raises(ChatImportError, match="has no channel “general”"):
        read_upload(two, channel="general")


def test_a_channel_file_alone_reads_with_its_authors_as_roles():
    day = _day(
        {"type": "message", "user": "U1", "ts": "1709336412.000200", "text": "alert fired",
         "user_profile": {"real_name": "Dana Kim", "display_name": "dana"}},
        {"type": "message", "subtype": "channel_join", "user": "U2", "ts": "1709336400.0",
         "text": "<@U2> has joined the channel"},
    )  # fmt: skip
    log = read_upload(day.encode())
    assert [(m.occurred_at, m.text) for m in log.messages] == [
        (dt.datetime(2024, 3, 1, 23, 40, 12, 200, tzinfo=UTC), "alert fired")
    ]
    assert event_text(log.messages[0], log, names_allowed=False) == "Responder: alert fired"
    assert event_text(log.messages[0], log, names_allowed=True) == "dana: alert fired"
    # The Web API's conversations.history answer reads too.
    wrapped = json.dumps({"ok": True, "messages": json.loads(day)}).encode()
    assert len(read_upload(wrapped).messages) == 1


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\xff\xfe not utf-8", "not UTF-8 text"),
        (b'{"ok": true}', "not a list of Slack messages"),
        (b"[1, 2]", "entry 1 is not a message object"),
        (b'[{"text": "no time"}]', "entry 1 has no “ts”"),
        (b'[{"ts": "yesterday", "text": "x"}]', "“yesterday” is not a Slack timestamp"),
        (b'[{"ts": "1e30", "text": "x"}]', "is not a Slack timestamp"),
        (b'[{"ts": "1709336412.1", "text": ["x"]}]', "“text” that is not a string"),
        (b"[" * 100_000, "nested too deeply"),
        (b"PK\x03\x04broken", "The ZIP file cannot be opened"),
        (b"[]", "no messages to import"),
    ],
)
def test_what_is_not_a_slack_export_says_why(data, words):
    with pytest.raises(ChatImportError, match=words):
        read_upload(data)


def test_a_zip_without_the_export_layout_says_so():
    with pytest.raises(ChatImportError, match="not a Slack export"):
        read_upload(_zip({"notes.txt": "hello"}))
    with pytest.raises(ChatImportError, match=r"users\.json is not a list of objects"):
        read_upload(
            _zip(
                {
                    "channels.json": "[]",
                    "users.json": '{"U1": "Dana"}',
                    "inc/2024-03-01.json": _day({"ts": "1709336412.1", "text": "x"}),
                }
            )
        )
    with pytest.raises(ChatImportError, match=r"inc/2024-03-01\.json is not a list of messages"):
        read_upload(_zip({"channels.json": "[]", "inc/2024-03-01.json": '{"a": 1}'}))


def test_zip_caps_hold(settings):
    settings.SEAMS_TIMELINE_IMPORT_MAX_MEMBERS = 10
    many = _zip({f"inc/2024-03-{n:02d}.json": "[]" for n in range(1, 12)})
    with pytest.raises(ChatImportError, match="holds 11 files; Seams reads at most 10"):
        read_upload(many)
    settings.SEAMS_TIMELINE_IMPORT_MAX_MEMBERS = 1000
    settings.SEAMS_TIMELINE_IMPORT_MAX_MEMBER_BYTES = 1000
    settings.SEAMS_TIMELINE_IMPORT_MAX_TOTAL_BYTES = 2500
    big = _day({"ts": "1709336412.1", "text": "x" * 2000})
    with pytest.raises(ChatImportError, match=r"2024-03-01\.json would be 2,[0-9]+ bytes"):
        read_upload(_zip({"channels.json": "[]", "inc/2024-03-01.json": big}))
    days = {f"inc/2024-03-{n:02d}.json": _day({"ts": "1709336412.1", "text": "x" * 800})
            for n in range(1, 5)}  # fmt: skip
    with pytest.raises(ChatImportError, match="inflates to more than 2,500 bytes"):
        read_upload(_zip({"channels.json": "[]", **days}))
    settings.SEAMS_TIMELINE_IMPORT_MAX_UPLOAD_BYTES = 100
    with pytest.raises(ChatImportError, match="Seams reads at most 100"):
        read_upload(export_zip())


def test_a_message_that_lies_about_its_size_is_cut_at_the_cap(settings):
    """A ZIP may declare a small size and inflate to far more: reading stops at the declared
    size (whose checksum then fails) or at the cap, never past it."""
    settings.SEAMS_TIMELINE_IMPORT_MAX_MEMBER_BYTES = 1000
    body = _day({"ts": "1709336412.1", "text": "x" * 5000})
    data = bytearray(_zip({"channels.json": "[]", "inc/2024-03-01.json": body}))
    real = len(body).to_bytes(4, "little")
    assert data.count(real) == 2  # the local header and the central directory
    data = data.replace(real, (500).to_bytes(4, "little"))
    with pytest.raises(ChatImportError):
        read_upload(bytes(data))


def test_too_many_messages_are_refused(settings):
    settings.SEAMS_TIMELINE_IMPORT_MAX_MESSAGES = 5
    day = _day(*({"ts": f"17093364{n:02d}.1", "text": "x"} for n in range(6)))
    with pytest.raises(ChatImportError, match="more than 5 messages"):
        read_upload(_zip({"channels.json": "[]", "inc/2024-03-01.json": day}))


# --- Slack markup ---------------------------------------------------------------------------


def test_slack_markup_reads_as_text_with_people_as_roles():
    log = read_upload(export_zip())
    message = log.messages[0]
    message.text = (
        "<@U01DANA> <@U99GONE|old name> see <#C06FOLLOW> and <#C1|ops>, <!here> "
        "<!subteam^S1|@oncall> <https://status.example.com|status page> "
        "<https://x.example.com> <mailto:dana@example.com|dana> &lt;b&gt; &amp; :fire: "
        ":+1::skin-tone-3: :not-an-emoji: <!date^1709336412^{time}|23:40 UTC>"
    )
    assert readable(message, log, names_allowed=False) == (
        "@Incident Commander @Responder see #checkout-followups and #ops, @here @oncall "
        "status page (https://status.example.com) https://x.example.com (an e-mail address) "
        "\\<b> & 🔥 👍 :not-an-emoji: 23:40 UTC"
    )
    assert readable(message, log, names_allowed=True).startswith("@Dana Kim @old name see")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("[Alerting] p99 above 2s", "detection"),
        ("PagerDuty paged the on-call", "detection"),
        ("Declaring SEV1, paging in the database team", "escalation"),
        ("Let's roll back to yesterday's build", "decision"),
        ("Rolled back checkout-api", "mitigation"),
        ("deployed the hotfix", "mitigation"),
        ("error rate back to normal, all clear", "recovery"),
        ("Status page updated", "communication"),
        ("The config push was triggered by the nightly job", "trigger"),
        ("looking at the graphs", "observation"),
    ],
)
def test_kinds_are_guessed_from_the_words(text, kind):
    assert guess_kind(text) == kind


# --- Transcripts ----------------------------------------------------------------------------


def test_bracketed_transcripts_carry_their_own_dates():
    log = read_transcript(
        "[2024-03-01 23:58] Dana: alert\n[2024-03-02 00:01:30] Lee: looking\nmore detail\n",
        zone="Asia/Tokyo",
    )
    assert [(m.occurred_at, m.author_id, m.text) for m in log.messages] == [
        (dt.datetime(2024, 3, 1, 14, 58, tzinfo=UTC), "Dana", "alert"),
        (dt.datetime(2024, 3, 1, 15, 1, 30, tzinfo=UTC), "Lee", "looking\nmore detail"),
    ]


def test_times_alone_run_past_midnight_onto_the_next_day():
    log = read_transcript(
        "23:50 dana: alert\n23:59 lee: on it\n00:05 dana: rolled back\n",
        day=dt.date(2024, 3, 1),
    )
    assert [m.occurred_at for m in log.messages] == [
        dt.datetime(2024, 3, 1, 23, 50, tzinfo=UTC),
        dt.datetime(2024, 3, 1, 23, 59, tzinfo=UTC),
        dt.datetime(2024, 3, 2, 0, 5, tzinfo=UTC),
    ]


def test_slack_copy_and_paste_with_apps_and_twelve_hour_times():
    log = read_transcript(
        "Grafana APP  11:58 PM\n[Alerting] checkout p99\n"
        "Dana Kim [11:59 PM]\nlooking\n12:01 AM\nrolled back\n",
        day=dt.date(2024, 3, 1),
        zone="America/New_York",
    )
    assert [(m.occurred_at, m.author_id, m.bot) for m in log.messages] == [
        (dt.datetime(2024, 3, 2, 4, 58, tzinfo=UTC), "Grafana", True),
        (dt.datetime(2024, 3, 2, 4, 59, tzinfo=UTC), "Dana Kim", False),
        (dt.datetime(2024, 3, 2, 5, 1, tzinfo=UTC), "Dana Kim", False),
    ]
    assert event_text(log.messages[0], log, names_allowed=False).startswith("Bot: ")


@pytest.mark.parametrize(
    ("text", "kwargs", "words"),
    [
        ("just words", {}, "Line 1 .*none of the shapes"),
        ("\n\n10:02 dana: hi", {}, "Line 3 gives a time without a date"),
        ("[2024-02-30 10:02] dana: hi", {}, "Line 1: .* time that does not exist"),
        ("[2024-03-01 25:02] dana: hi", {}, "time that does not exist"),
        ("[2024-03-01 10:02] dana: hi", {"zone": "Mars/Olympus"}, "not a time zone"),
        ("", {}, "holds no messages"),
    ],
)
def test_transcripts_in_no_known_shape_say_which_line(text, kwargs, words):
    with pytest.raises(ChatImportError, match=words):
        read_transcript(text, **kwargs)


def test_a_log_survives_the_preview_round_trip():
    log = read_upload(export_zip())
    again = ChatLog.from_dict(json.loads(json.dumps(log.to_dict())))
    assert again.messages == log.messages
    assert [event_text(m, again, names_allowed=False) for m in again.messages] == [
        event_text(m, log, names_allowed=False) for m in log.messages
    ]
