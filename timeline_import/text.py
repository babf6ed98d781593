"""From a chat message to a timeline row's words: Slack markup made readable, people made
roles (blameless by default), and a first guess at the row's kind.

The text produced is Markdown like any other timeline text: it is stored as it is and
sanitised wherever a timeline is rendered (`incidents.rendering`), so a message that holds
HTML is shown as text, never run.
"""

from __future__ import annotations

import html
import re

import emoji

from incidents.models import TimelineEvent

from .sources import ChatLog, ChatMessage, Person

RESPONDER = "Responder"
BOT = "Bot"

Kind = TimelineEvent.Kind


def author_label(person: Person | None, *, names_allowed: bool, bot: bool = False) -> str:
    """How the timeline names the author of a message.

    Blameless by default: without the review's permission to keep names, a person is their
    role (the Slack profile's title, else "Responder") and a bot is "Bot".
    """
    is_bot = bot or (person is not None and person.is_bot)
    if names_allowed and person is not None and person.name:
        return person.name
    if is_bot:
        return BOT
    if person is not None and person.title:
        return person.title
    return RESPONDER


_SLACK_TOKEN = re.compile(r"<([^<>\n]{1,1000})>")
_SKIN_TONE = re.compile(r":skin-tone-\d:")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def readable(message: ChatMessage, log: ChatLog, *, names_allowed: bool) -> str:
    """The message's text as plain readable text: mentions as names or roles, channel and
    link markup as words, emoji codes as emoji, HTML entities decoded."""

    def token(match: re.Match) -> str:
        body = match.group(1)
        target, _, label = body.partition("|")
        if target.startswith("@"):
            person = log.people.get(target[1:])
            if person is None and names_allowed and label:
                return "@" + label
            return "@" + author_label(person, names_allowed=names_allowed)
        if target.startswith("#"):
            return "#" + (label or log.channels.get(target[1:], target[1:]))
        if target.startswith("!"):
            special = target[1:]
            if special in ("here", "channel", "everyone"):
                return "@" + special
            # User groups (`<!subteam^S1|@oncall>`) name teams, not people; dates carry
            # their own readable fallback.
            return label or special.split("^")[0]
        if target.startswith("mailto:"):
            return (label or target[7:]) if names_allowed else "(an e-mail address)"
        if label and label != target:
            return f"{label} ({target})"
        return target

    text = _SLACK_TOKEN.sub(token, message.text)
    text = html.unescape(text)
    # What people typed as "<b>" or "<script>" in the chat was text there: a Markdown escape
    # keeps it text here (the renderer's sanitiser would otherwise drop it as a tag).
    text = _TAG_START.sub(r"\\<", text)
    text = _SKIN_TONE.sub("", text)
    text = emoji.emojize(text, language="alias")
    if log.plain_mentions and not names_allowed:
        text = _plain_mentions(text, log)
    return text.strip()


def _plain_mentions(text: str, log: ChatLog) -> str:
    """In a transcript, "@Dana Kim" for a person who wrote in it becomes their role."""
    names = sorted((p for p in log.people.values() if p.name), key=lambda p: -len(p.name))
    for person in names:
        text = re.sub(
            r"@" + re.escape(person.name) + r"\b",
            "@" + author_label(person, names_allowed=False),
            text,
            flags=re.IGNORECASE,
        )
    return text


def event_text(message: ChatMessage, log: ChatLog, *, names_allowed: bool) -> str:
    """The timeline row's text: who (a role unless names are allowed), then what they said;
    attachments are counted, never copied."""
    person = log.people.get(message.author_id)
    who = author_label(person, names_allowed=names_allowed, bot=message.bot)
    text = f"{who}: {readable(message, log, names_allowed=names_allowed)}".rstrip(": ")
    if message.files:
        files = "1 file" if message.files == 1 else f"{message.files} files"
        text += f"\n\n({files} attached in the chat, not imported.)"
    return text


# First match wins, in this order: "let's roll back" is a decision, a rollback that also says
# "error rate" is a mitigation.
_KIND_WORDS: list[tuple[str, tuple[str, ...]]] = [
    (Kind.ESCALATION, ("escalat", "declar", "paging in", "pulling in", "looping in", "loop in",
                       "incident commander", "war room", "bridge", "sev1", "sev-1", "sev 1")),
    (Kind.DECISION, ("decided", "decision", "we will", "we'll", "let's", "lets ", "plan is",
                     "agreed", "going with", "go ahead")),
    (Kind.MITIGATION, ("rolled back", "rolling back", "roll back", "rollback", "revert",
                       "deployed", "deploying", "hotfix", "failover", "failed over", "fail over",
                       "restart", "disabled", "disabling", "scaled", "scaling", "drain",
                       "mitigat", "feature flag", "killed", "blocked", "throttl")),
    (Kind.RECOVERY, ("recovered", "recovering", "resolved", "back to normal", "all clear",
                     "fully restored", "restored", "healthy again", "back up", "green again")),
    (Kind.DETECTION, ("alert", "alarm", "paged", "pagerduty", "opsgenie", "firing", "noticed",
                      "monitor", "spike", "error rate", "dashboards show", "5xx", "500s")),
    (Kind.COMMUNICATION, ("status page", "statuspage", "customers", "announce", "update:",
                          "posted", "tweet", "comms", "support team", "notified")),
    (Kind.TRIGGER, ("triggered by", "kicked off", "config change", "config push", "pushed",
                    "merged", "started the", "began")),
]  # fmt: skip


def guess_kind(text: str) -> str:
    """A first guess at a row's kind from its words ("rolled back" → mitigation, "alert" →
    detection …); the author confirms or changes it in the preview. Observation otherwise."""
    lowered = text.lower()
    for kind, words in _KIND_WORDS:
        if any(word in lowered for word in words):
            return kind
    return Kind.OBSERVATION
