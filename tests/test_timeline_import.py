"""Acceptance: a Slack export of an incident channel (tests/fixtures/slack_export, zipped here as
Slack hands it out) becomes a review's timeline, through the web pages and the API.

The channel has 21 entries over two days (UTC): an alert posted by a bot, a thread, pins,
⭐ reactions, a file, joins, a leave and a "pinned a message" notice. The tests show what a
person sees: the messages they chose, in order, at their UTC times, people as roles unless the
review allows names, nothing added twice, and a clear 400 for what cannot be read.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile

import pytest
from django.urls import reverse

from incidents import services
from incidents.models import Incident, TimelineEvent
from timeline_import.models import ImportedMessage

from .conftest import token_client
from .factories import GroupFactory, UserFactory
from .test_round_trip import browser_submission
from .timeline_import_helpers import CHANNEL, export_zip

pytestmark = pytest.mark.django_db
UTC = dt.UTC
Kind = TimelineEvent.Kind

# The pinned and ⭐-starred messages of the fixture, in order: what is preselected.
PINNED_OR_STARRED = [
    (dt.datetime(2024, 3, 1, 23, 40, 12, 100, tzinfo=UTC), Kind.DETECTION,
     "Bot: [Alerting] Checkout p99 latency above 2s 🚨"),
    (dt.datetime(2024, 3, 1, 23, 43, 5, 100, tzinfo=UTC), Kind.ESCALATION,
     "Incident Commander: Declaring SEV2, I'm incident commander. @SRE on call on mitigation, "
     "@Support Lead on comms"),
    (dt.datetime(2024, 3, 1, 23, 44, 40, 100, tzinfo=UTC), Kind.DETECTION,
     "Responder: Deploy 2024.03.01-3 of checkout-api went out at 23:31, lines up with the spike"),
    (dt.datetime(2024, 3, 1, 23, 52, 14, 100, tzinfo=UTC), Kind.MITIGATION,
     "SRE on call: Rolled back checkout-api to 2024.03.01-2"),
    (dt.datetime(2024, 3, 1, 23, 55, 0, 100, tzinfo=UTC), Kind.COMMUNICATION,
     "Support Lead: Status page updated: investigating elevated checkout latency"),
    (dt.datetime(2024, 3, 2, 0, 3, 10, 100, tzinfo=UTC), Kind.RECOVERY,
     "SRE on call: p99 back to 380ms, error rate back to normal 📉"),
    (dt.datetime(2024, 3, 2, 0, 35, 0, 100, tzinfo=UTC), Kind.RECOVERY,
     "Incident Commander: Resolved. Thanks all 🎉"),
]  # fmt: skip
NAMES = ("Dana", "Lee", "Sam", "Jo Park", "Grafana", "PagerDuty")


@pytest.fixture
def author():
    return UserFactory(username="author", role="author")


@pytest.fixture
def incident(author):
    return services.incident_create(
        by=author,
        content=services.ReviewContent(
            fields={"title": "Checkout latency after a pool-size typo", "summary": "Slow."},
            timeline=[
                services.TimelineEntry(
                    occurred_at=dt.datetime(2024, 3, 1, 23, 31, tzinfo=UTC),
                    kind=Kind.TRIGGER,
                    text="Deploy 2024.03.01-3 of checkout-api.",
                )
            ],
        ),
    )


def _timeline(incident: Incident) -> list[tuple[dt.datetime, str, str]]:
    return [(e.occurred_at, e.kind, e.text) for e in incident.timeline.order_by("occurred_at")]


def _upload(client, incident, **data):
    return client.post(reverse("timeline_import:upload", args=[incident.pk]), data)


def _preview_rows(html: str) -> list[dict]:
    """The preview's rows as a person reads them: ticked or not, time, who, text."""
    rows = []
    for row in re.findall(r'<tr id="message-(\d+)"(.*?)</tr>', html, re.S):
        index, body = row
        cells = re.findall(r"<td>(.*?)</td>", body, re.S)
        rows.append(
            {
                "index": int(index),
                "checked": "checked" in cells[0],
                "disabled": "disabled" in cells[0],
                "when": re.search(r'datetime="([^"]+)"', cells[1])[1],
                "who": cells[2].strip(),
                "text": re.sub(r"<[^>]+>", "", cells[3]).strip(),
                "kind": re.search(r"<option value=\"(\w+)\" selected>", cells[4])[1],
            }
        )
    return rows


def _confirm(client, incident, page: str, ticked: list[int], kinds: dict[int, str] | None = None):
    payload = re.search(r'name="payload" value="([^"]+)"', page)[1]
    data = {"payload": payload, "select": [str(i) for i in ticked]}
    for row in _preview_rows(page):
        data[f"kind-{row['index']}"] = (kinds or {}).get(row["index"], row["kind"])
    return client.post(reverse("timeline_import:confirm", args=[incident.pk]), data)


# --- The web pages --------------------------------------------------------------------------


def test_the_edit_form_offers_the_import_and_the_names_setting(client, author, incident):
    client.force_login(author)
    edit = reverse("incidents:edit", args=[incident.pk])
    page = client.get(edit).content.decode()
    assert f'href="/incidents/{incident.pk}/timeline/import/">Import from chat</a>' in page
    # Blameless by default: the box is not ticked; ticking it and saving allows names.
    data = browser_submission(page, "review-form")
    assert "timeline_names_allowed" not in data
    data["timeline_names_allowed"] = ["on"]
    assert client.post(edit, data).status_code == 302
    incident.refresh_from_db()
    assert incident.timeline_names_allowed is True
    upload = client.get(reverse("timeline_import:upload", args=[incident.pk])).content.decode()
    assert "This review keeps people's names." in upload


def test_an_export_becomes_the_timeline_the_author_chose(client, author, incident):
    client.force_login(author)
    export = io.BytesIO(export_zip())
    export.name = "slack-export.zip"
    preview = _upload(client, incident, file=export, timezone="UTC")
    assert preview.status_code == 200
    page = preview.content.decode()
    rows = _preview_rows(page)
    # 21 entries: joins, the leave and the pin notice are bookkeeping, not messages.
    assert len(rows) == 18
    assert "has joined the channel" not in page
    assert "pinned a message" not in page
    # Oldest first, UTC, across the two day files.
    assert [r["when"] for r in rows] == sorted(r["when"] for r in rows)
    assert rows[0]["when"] == "2024-03-01T23:40:12.000100+00:00"
    assert rows[-1]["when"] == "2024-03-02T00:40:00.000100+00:00"
    # Pinned and starred ones are ticked; people are roles, the bot is "Bot".
    assert [r["index"] for r in rows if r["checked"]] == [0, 2, 3, 7, 8, 10, 16]
    assert {r["who"] for r in rows} == {"Bot", "SRE on call", "Incident Commander",
                                        "Responder", "Support Lead"}  # fmt: skip
    assert not any(name in page for name in NAMES)
    # The thread's replies are marked, and Slack markup reads as text.
    replies = [r for r in rows if "reply in a thread" in r["text"]]
    assert [r["index"] for r in replies] == [4, 5]
    assert "checkout dashboard (https://grafana.example.com/d/checkout)" in page
    assert "#checkout-followups ✅" in page

    # The author also ticks the decision to roll back, and calls the deploy the trigger.
    done = _confirm(client, incident, page, [0, 2, 3, 6, 7, 8, 10, 16], kinds={3: Kind.TRIGGER})
    assert done.status_code == 302
    assert done["Location"] == reverse("incidents:edit", args=[incident.pk])
    expected = [
        (dt.datetime(2024, 3, 1, 23, 31, tzinfo=UTC), Kind.TRIGGER,
         "Deploy 2024.03.01-3 of checkout-api."),
        *PINNED_OR_STARRED[:2],
        (*PINNED_OR_STARRED[2][:1], Kind.TRIGGER, PINNED_OR_STARRED[2][2]),
        (dt.datetime(2024, 3, 1, 23, 48, 30, 100, tzinfo=UTC), Kind.DECISION,
         "Incident Commander: Let's roll back checkout-api to 2024.03.01-2"),
        *PINNED_OR_STARRED[3:],
    ]  # fmt: skip
    assert _timeline(incident) == expected
    incident.refresh_from_db()
    assert incident.revisions.order_by("-version")[0].note == (
        "Imported 8 timeline events from chat"
    )
    follow = client.get(done["Location"]).content.decode()
    assert "Imported 8 timeline events from chat." in follow

    # The review page shows them, each time in UTC.
    review = client.get(incident.get_absolute_url()).content.decode()
    assert "Incident Commander: Declaring SEV2" in review
    assert 'datetime="2024-03-01T23:43:05.000100+00:00"' in review


def test_the_preview_and_the_import_cost_the_same_few_queries_for_any_channel(
    client, author, incident, django_assert_max_num_queries
):
    client.force_login(author)
    with django_assert_max_num_queries(12):
        page = _upload(client, incident, file=_named(export_zip())).content.decode()
    assert len(_preview_rows(page)) == 18
    # Session, user, review, the remembered messages, then one new version of the review
    # (its snapshot, revision and search index): bulk writes, whatever the number of rows.
    with django_assert_max_num_queries(55):
        _confirm(client, incident, page, list(range(18)))
    assert len(_timeline(incident)) == 19


def test_importing_the_same_export_again_adds_nothing(client, author, incident):
    client.force_login(author)
    page = _upload(client, incident, file=_named(export_zip()), timezone="UTC").content.decode()
    _confirm(client, incident, page, [0, 2, 3, 7, 8, 10, 16])
    before = _timeline(incident)
    version = Incident.objects.get(pk=incident.pk).version

    again = _upload(client, incident, file=_named(export_zip()), timezone="UTC").content.decode()
    rows = _preview_rows(again)
    imported = [r["index"] for r in rows if r["disabled"]]
    assert imported == [0, 2, 3, 7, 8, 10, 16]
    assert not any(r["checked"] for r in rows)  # nothing new is pinned or starred
    assert again.count("already in the timeline") == 7
    # Even a forged request for the same rows adds nothing, and writes no new version.
    done = _confirm(client, incident, again, [0, 2, 3])
    assert done.status_code == 302
    assert _timeline(incident) == before
    assert Incident.objects.get(pk=incident.pk).version == version
    assert ImportedMessage.objects.filter(incident=incident).count() == 7


def test_an_imported_message_edited_away_is_not_brought_back(client, author, incident):
    """Saving the review rewrites its timeline rows; the import remembers the messages."""
    client.force_login(author)
    page = _upload(client, incident, file=_named(export_zip()), timezone="UTC").content.decode()
    _confirm(client, incident, page, [0])
    content = services.content_from_snapshot(
        __import__("incidents.revisions", fromlist=["snapshot"]).snapshot(incident)
    )
    content.timeline = content.timeline[:1]  # the author removes the imported row
    services.incident_update(incident=incident, by=author, content=content)
    again = _upload(client, incident, file=_named(export_zip())).content.decode()
    assert _preview_rows(again)[0]["disabled"]


def test_names_are_kept_when_the_review_allows_them(client, author, incident):
    Incident.objects.filter(pk=incident.pk).update(timeline_names_allowed=True)
    client.force_login(author)
    page = _upload(client, incident, file=_named(export_zip())).content.decode()
    rows = _preview_rows(page)
    assert [r["who"] for r in rows[:3]] == ["Grafana", "lee", "Dana Kim"]
    _confirm(client, incident, page, [2, 9])
    texts = [text for _, _, text in _timeline(incident)][1:]
    assert texts == [
        "Dana Kim: Declaring SEV2, I'm incident commander. @lee on mitigation, @Jo on comms",
        "PagerDuty: Incident #4521 acknowledged by @lee",
    ]


def test_a_pasted_transcript_imports_in_the_chosen_time_zone(client, author, incident):
    client.force_login(author)
    transcript = (
        "Dana Kim  9:02 AM\n"
        "Checkout alert is firing, @Lee Okafor can you look?\n"
        "9:03 AM\n"
        "Declaring SEV2.\n"
        "Lee Okafor  9:10 AM\n"
        "Rolled back checkout-api.\n"
        "Second line of the same message.\n"
    )
    page = _upload(
        client, incident, transcript=transcript, date="2024-03-04", timezone="Europe/Berlin"
    ).content.decode()
    rows = _preview_rows(page)
    assert [(r["when"], r["who"]) for r in rows] == [
        ("2024-03-04T08:02:00+00:00", "Responder"),
        ("2024-03-04T08:03:00+00:00", "Responder"),
        ("2024-03-04T08:10:00+00:00", "Responder"),
    ]
    assert not any(r["checked"] for r in rows)  # a transcript has no pins or stars
    assert "Dana" not in page
    assert "Okafor" not in page
    _confirm(client, incident, page, [0, 1, 2])
    assert _timeline(incident)[1:] == [
        (dt.datetime(2024, 3, 4, 8, 2, tzinfo=UTC), Kind.DETECTION,
         "Responder: Checkout alert is firing, @Responder can you look?"),
        (dt.datetime(2024, 3, 4, 8, 3, tzinfo=UTC), Kind.ESCALATION, "Responder: Declaring SEV2."),
        (dt.datetime(2024, 3, 4, 8, 10, tzinfo=UTC), Kind.MITIGATION,
         "Responder: Rolled back checkout-api.\nSecond line of the same message."),
    ]  # fmt: skip
    # Pasting it again adds nothing.
    again = _upload(
        client, incident, transcript=transcript, date="2024-03-04", timezone="Europe/Berlin"
    ).content.decode()
    assert all(r["disabled"] for r in _preview_rows(again))


def test_an_unreadable_upload_is_a_form_error_not_a_server_error(client, author, incident):
    client.force_login(author)
    bad = _upload(client, incident, file=_named(b'[{"ts": "1709336412.0001", "text": 3'))
    assert bad.status_code == 400
    assert "neither a Slack export ZIP nor a channel&#x27;s JSON file" in bad.content.decode()
    assert "line 1, column" in bad.content.decode()
    bomb = _upload(client, incident, file=_named(_zip_bomb()))
    assert bomb.status_code == 400
    assert "bytes uncompressed; Seams reads at most" in bomb.content.decode()
    neither = _upload(client, incident, transcript="   ")
    assert neither.status_code == 400
    assert "Upload a Slack export (ZIP or JSON) or paste a transcript." in neither.content.decode()


def test_a_tampered_preview_is_refused(client, author, incident):
    client.force_login(author)
    page = _upload(client, incident, file=_named(export_zip())).content.decode()
    forged = page.replace('name="payload" value="', 'name="payload" value="x')
    response = _confirm(client, incident, forged, [0])
    assert response.status_code == 400
    assert "This preview cannot be read" in response.content.decode()
    assert len(_timeline(incident)) == 1


def test_only_editors_of_the_review_may_import(client, incident):
    reader = UserFactory(username="reader", role="reader")
    client.force_login(reader)
    assert client.get(reverse("timeline_import:upload", args=[incident.pk])).status_code == 403
    assert _upload(client, incident, file=_named(export_zip())).status_code == 403
    assert len(_timeline(incident)) == 1


def test_a_restricted_review_is_not_found_by_outsiders(client):
    group = GroupFactory(name="security")
    member, outsider = UserFactory(username="member"), UserFactory(username="outsider")
    member.groups.add(group)
    secret = services.incident_create(
        by=member,
        content=services.ReviewContent(fields={"title": "Key leak", "restricted_to": group}),
    )
    client.force_login(outsider)
    assert client.get(reverse("timeline_import:upload", args=[secret.pk])).status_code == 404
    api = token_client(outsider, "write")
    response = api.post(
        f"/api/v1/incidents/{secret.pk}/timeline/import/",
        {"transcript": "[2024-03-01 10:02] a: b"},
        format="json",
    )
    assert response.status_code == 404
    client.force_login(member)
    assert client.get(reverse("timeline_import:upload", args=[secret.pk])).status_code == 200


def test_hostile_text_in_a_message_never_runs(client, author, incident):
    client.force_login(author)
    text = "see &lt;script&gt;alert(1)&lt;/script&gt; and <javascript:alert(2)|this>"
    day = [
        {"type": "message", "user": "U1", "ts": "1709336412.1", "pinned_to": ["C1"], "text": text}
    ]
    page = _upload(client, incident, file=_named(json.dumps(day).encode())).content.decode()
    assert "<script>alert(1)" not in page
    _confirm(client, incident, page, [0])
    review = client.get(incident.get_absolute_url()).content.decode()
    assert "<script>alert(1)" not in review
    assert 'href="javascript:' not in review
    # What was typed stays readable, as text.
    assert "see &lt;script&gt;alert(1)&lt;/script&gt; and this (javascript:alert(2))" in review


# --- The API --------------------------------------------------------------------------------

URL = "/api/v1/incidents/{}/timeline/import/"


def test_api_dry_run_previews_and_writes_nothing(author, incident, django_assert_max_num_queries):
    api = token_client(author, "write")
    with django_assert_max_num_queries(12):
        response = api.post(
            URL.format(incident.pk),
            {"file": _named(export_zip()), "dry_run": "true"},
            format="multipart",
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["dry_run"] is True
    assert body["names_allowed"] is False
    assert body["source"] == f"Slack export, #{CHANNEL}"
    assert len(body["messages"]) == 18
    selected = [m for m in body["messages"] if m["selected"]]
    assert [(m["occurred_at"], m["kind"], m["event_text"]) for m in selected] == [
        (t.isoformat().replace("+00:00", "Z"), k, text) for t, k, text in PINNED_OR_STARRED
    ]
    assert body["imported"] == []
    assert body["already_imported"] == []
    assert len(_timeline(incident)) == 1
    assert not ImportedMessage.objects.exists()


def test_api_imports_the_chosen_messages_once(author, incident):
    api = token_client(author, "write")
    first = api.post(URL.format(incident.pk), {"file": _named(export_zip())}, format="multipart")
    assert first.status_code == 201, first.content
    assert len(first.json()["imported"]) == 7
    assert _timeline(incident)[1:] == PINNED_OR_STARRED
    again = api.post(URL.format(incident.pk), {"file": _named(export_zip())}, format="multipart")
    assert again.status_code == 200
    assert again.json()["imported"] == []
    assert len(again.json()["already_imported"]) == 7
    assert _timeline(incident)[1:] == PINNED_OR_STARRED


def test_a_bot_allows_names_through_the_review_api_and_the_import_keeps_them(author, incident):
    api = token_client(author, "write")
    detail = api.get(f"/api/v1/incidents/{incident.pk}/").json()
    assert detail["timeline_names_allowed"] is False
    changed = api.patch(
        f"/api/v1/incidents/{incident.pk}/",
        {"timeline_names_allowed": True, "version": detail["version"]},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert api.get(f"/api/v1/incidents/{incident.pk}/").json()["timeline_names_allowed"] is True
    body = api.post(
        URL.format(incident.pk),
        {"file": _named(export_zip()), "dry_run": "true"},
        format="multipart",
    ).json()
    assert body["names_allowed"] is True
    assert "Dana Kim" in [m["author"] for m in body["messages"]]


def test_api_takes_a_list_of_ids_with_kinds_and_a_json_transcript(author, incident):
    api = token_client(author, "write")
    transcript = (
        "[2024-03-01 10:02] Dana: alert fired for checkout 5xx\n"
        "[2024-03-01 10:09] Lee: rolled back the deploy\n"
        "[2024-03-01 10:20] Lee: looks fine\n"
    )
    preview = api.post(
        URL.format(incident.pk),
        {"transcript": transcript, "timezone": "America/New_York", "dry_run": True},
        format="json",
    ).json()
    ids = [m["id"] for m in preview["messages"]]
    assert [m["occurred_at"] for m in preview["messages"]] == [
        "2024-03-01T15:02:00Z", "2024-03-01T15:09:00Z", "2024-03-01T15:20:00Z"
    ]  # fmt: skip
    response = api.post(
        URL.format(incident.pk),
        {"transcript": transcript, "timezone": "America/New_York", "select": ids[1:],
         "kinds": {ids[2]: "recovery"}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert _timeline(incident)[:2] == [
        (dt.datetime(2024, 3, 1, 15, 9, tzinfo=UTC), Kind.MITIGATION,
         "Responder: rolled back the deploy"),
        (dt.datetime(2024, 3, 1, 15, 20, tzinfo=UTC), Kind.RECOVERY, "Responder: looks fine"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "fmt", "field", "words"),
    [
        ({"file": b"not json at all"}, "multipart", "file", "neither a Slack export ZIP"),
        ({"file": b'{"channels": 1}'}, "multipart", "file", "not a list of Slack messages"),
        ({"file": b"BOMB"}, "multipart", "file", "bytes uncompressed; Seams reads at most"),
        ({"transcript": "hello there"}, "json", "transcript", "none of the shapes"),
        ({"transcript": "10:02 dana: hi"}, "json", "transcript", "without a date"),
        ({"transcript": "[2024-03-01 10:02] a: b", "select": "everything"}, "json", "select",
         "not a selection"),
        ({"transcript": "[2024-03-01 10:02] a: b", "select": ["nope"]}, "json", "select",
         "not in the chat: nope"),
        ({"transcript": "[2024-03-01 10:02] a: b", "kinds": {"x": "blame"}}, "json", "kinds",
         "Unknown kind “blame”"),
        ({}, "json", "transcript", "Upload a Slack export"),
        ({"transcript": "x", "sumary": "typo"}, "json", "sumary", "Unknown field"),
    ],
)  # fmt: skip
def test_api_bad_input_is_a_clear_400(author, incident, data, fmt, field, words):
    api = token_client(author, "write")
    if isinstance(data.get("file"), bytes):
        data = {**data, "file": _named(_zip_bomb() if data["file"] == b"BOMB" else data["file"])}
    response = api.post(URL.format(incident.pk), data, format=fmt)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert words in " ".join(error["fields"][field])
    assert len(_timeline(incident)) == 1


def test_api_refuses_a_read_token_and_a_user_who_may_not_edit(author, incident):
    read = token_client(author, "read")
    body = {"transcript": "[2024-03-01 10:02] a: alert", "select": "all"}
    assert read.post(URL.format(incident.pk), body, format="json").status_code == 403
    other = token_client(UserFactory(username="other", role="author"), "write")
    refused = other.post(URL.format(incident.pk), body, format="json")
    assert refused.status_code == 403
    assert "Only this review's author" in refused.json()["error"]["message"]
    assert len(_timeline(incident)) == 1


def test_the_schema_documents_the_endpoint(client):
    schema = client.get("/api/schema/?format=json", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/incidents/{id}/timeline/import/"]["post"]
    assert set(operation["responses"]) >= {"200", "201", "400", "401", "403", "404"}
    assert "multipart/form-data" in operation["requestBody"]["content"]


# --- helpers --------------------------------------------------------------------------------


def _named(data: bytes, name: str = "export.zip") -> io.BytesIO:
    upload = io.BytesIO(data)
    upload.name = name
    return upload


def _zip_bomb() -> bytes:
    """A small ZIP whose one day file inflates far past the per-file cap."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("channels.json", '[{"id": "C1", "name": "inc"}]')
        archive.writestr("inc/2024-03-01.json", b"[" + b" " * (30 * 1024 * 1024) + b"]")
    return buffer.getvalue()
