"""The platform-neutral core of chat: parsing commands, who is asking, which links are
reviews, and Block Kit that shows review text as text (never as a mention or a link)."""

from __future__ import annotations

import re

import pytest

from chat import answers, commands
from chat.links import review_id_from_url
from chat.models import ChatIdentity
from chat.readers import UnrestrictedReader, reader_for
from chat.slack import blocks
from incidents.models import Incident

from .factories import GroupFactory, IncidentFactory, UserFactory


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", commands.Help()),
        ("  HELP ", commands.Help()),
        ("similar  the cache stampeded ", commands.Similar("the cache stampeded")),
        ("incident 42", commands.IncidentById(42)),
        ("incident #42", commands.IncidentById(42)),
        ("incident disk full", commands.IncidentSearch("disk full")),
        ("pattern Fast global propagation", commands.PatternLookup("Fast global propagation")),
    ],
)
def test_commands_parse_into_plain_data(text, expected):
    assert commands.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [("similar", "similar <text>"), ("incident", "incident <id"), ("pattern  ", "pattern <name>"),
     ("deploy prod", "Unknown command `deploy`")],
)  # fmt: skip
def test_an_incomplete_or_unknown_command_says_how_to_write_it(text, says):
    with pytest.raises(commands.CommandError, match=re.escape(says)):
        commands.parse(text)


def test_a_long_question_is_cut():
    assert len(commands.parse("similar " + "x" * 20000).text) == commands.MAX_TEXT


@pytest.mark.django_db
def test_a_chat_user_is_answered_as_their_active_linked_account_else_as_an_unrestricted_reader():
    group = GroupFactory(name="security")
    secret = IncidentFactory(title="Secret", restricted_to=group)
    public = IncidentFactory(title="Public")
    member = UserFactory(username="member")
    member.groups.add(group)
    ChatIdentity.objects.create(team_id="T1", external_user_id="U1", user=member)
    gone = UserFactory(username="gone", is_active=False)
    ChatIdentity.objects.create(team_id="T1", external_user_id="U2", user=gone)

    assert reader_for(platform="slack", team_id="T1", external_user_id="U1") == member
    # Same user id in another workspace is another person.
    assert isinstance(reader_for(platform="slack", team_id="T2", external_user_id="U1"),
                      UnrestrictedReader)  # fmt: skip
    unlinked = reader_for(platform="slack", team_id="T1", external_user_id="U9")
    deactivated = reader_for(platform="slack", team_id="T1", external_user_id="U2")
    for reader in (unlinked, deactivated):
        assert isinstance(reader, UnrestrictedReader)
        assert list(Incident.objects.visible_to(reader)) == [public]
    assert set(Incident.objects.visible_to(member)) == {secret, public}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://seams.example.org/incidents/12/", 12),
        ("http://SEAMS.example.org/incidents/12/", 12),
        ("https://seams.example.org/incidents/12/edit/", None),
        ("https://seams.example.org/patterns/fast-global-propagation/", None),
        ("https://evil.example.com/incidents/12/", None),
        ("https://seams.example.org.evil.com/incidents/12/", None),
        ("javascript:alert(1)", None),
        ("https://[broken/incidents/1/", None),
    ],
)
def test_only_links_to_a_review_on_seams_own_host_are_reviews(settings, url, expected):
    settings.SEAMS_BASE_URL = "https://seams.example.org"
    assert review_id_from_url(url) == expected


def test_review_links_under_a_path_prefix(settings):
    settings.SEAMS_BASE_URL = "https://example.org/seams/"
    assert review_id_from_url("https://example.org/seams/incidents/7/") == 7
    assert review_id_from_url("https://example.org/incidents/7/") is None


def test_review_text_in_block_kit_cannot_mention_a_channel_or_make_a_link():
    reply = answers.Reply(
        heading="<!channel> x",
        text="See <https://evil.example.com|Seams> & <@U123>",
        sections=(
            answers.Section(
                "Similar incidents",
                (answers.Item(title="a|b <!here>", url="https://seams.example.org/incidents/1/"),),
            ),
        ),
    )
    rendered = blocks.message(reply)
    sections = " ".join(b["text"]["text"] for b in rendered["blocks"] if b["type"] == "section")
    assert "<https://evil" not in sections
    assert "<@U123>" not in sections
    assert "<!here>" not in sections
    assert "&amp;" in sections
    assert "<https://seams.example.org/incidents/1/|a¦b &lt;!here&gt;>" in sections
    assert "<!channel>" not in rendered["text"]


def test_block_kit_limits_are_kept():
    items = tuple(
        answers.Item(title="t" * 500, url="https://s/", text="x" * 5000) for _ in range(40)
    )
    rendered = blocks.message(
        answers.Reply(heading="h" * 400, sections=(answers.Section("Many", items),))
    )
    assert len(rendered["blocks"]) <= 50
    assert len(rendered["blocks"][0]["text"]["text"]) <= 150
    assert all(len(b["text"]["text"]) <= 3000 for b in rendered["blocks"] if b["type"] == "section")
