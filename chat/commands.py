"""Parsing a chat command ("similar the cache stampeded…") into plain data. No platform here:
Slack's `/seams` text and any other platform's command text parse the same way."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A question longer than this is cut: a pasted log must not make the search slow.
MAX_TEXT = 4000

USAGE = (
    "similar <text>: past incidents like this one, with why and how sure\n"
    "incident <id or search words>: one review, or the reviews that mention the words\n"
    "pattern <name>: a structural pattern from the catalogue\n"
    "help: this list"
)


class CommandError(ValueError):
    """A command Seams cannot answer as written; the message says how to write it."""


@dataclass(frozen=True)
class Help:
    """What the commands are."""


@dataclass(frozen=True)
class Similar:
    """ "Have we seen this before?" for free text."""

    text: str


@dataclass(frozen=True)
class IncidentById:
    """One review, by its number."""

    incident_id: int


@dataclass(frozen=True)
class IncidentSearch:
    """Reviews containing every one of the words."""

    words: str


@dataclass(frozen=True)
class PatternLookup:
    """A structural pattern by its name, slug or alias."""

    name: str


Command = Help | Similar | IncidentById | IncidentSearch | PatternLookup

_ID = re.compile(r"#?(\d{1,9})")


def parse(text: str) -> Command:
    """The command `text` asks for; `CommandError` naming what is missing or unknown."""
    text = (text or "").strip()
    verb, _, rest = text.partition(" ")
    verb, rest = verb.lower(), rest.strip()
    if verb in ("", "help"):
        return Help()
    if verb == "similar":
        if not rest:
            raise CommandError("Say what happened: `similar <text>`.")
        return Similar(text=rest[:MAX_TEXT])
    if verb == "incident":
        if not rest:
            raise CommandError("Give a review's number or some words: `incident <id or words>`.")
        number = _ID.fullmatch(rest)
        if number:
            return IncidentById(incident_id=int(number.group(1)))
        return IncidentSearch(words=rest[:200])
    if verb == "pattern":
        if not rest:
            raise CommandError("Name a pattern: `pattern <name>`.")
        return PatternLookup(name=rest[:150])
    raise CommandError(f"Unknown command `{verb[:40]}`. The commands are:\n{USAGE}")
