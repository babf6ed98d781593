"""Reading chat into messages: a Slack export (the workspace ZIP or one channel's JSON file) and
pasted transcripts in the common plain shapes.

Everything here is pure: bytes or text in, a `ChatLog` out, or a `ChatImportError` whose message
says what is wrong in words a person can act on. Uploads are hostile until read: the ZIP is
opened with caps on its size, its member count and every member's real (not declared) size,
and only the members the chosen channel needs are read at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import PurePosixPath
from zoneinfo import ZoneInfo

from django.conf import settings

UTC = dt.UTC


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def max_upload_bytes() -> int:
    """The largest file accepted (the ZIP or the JSON file as uploaded)."""
    # Below DATA_UPLOAD_MAX_MEMORY_SIZE (24 MiB), which a request body read whole must fit.
    return _limit("SEAMS_TIMELINE_IMPORT_MAX_UPLOAD_BYTES", 20 * 1024 * 1024)


def max_members() -> int:
    """The most entries a ZIP may list (a workspace export has one file per channel and day)."""
    return _limit("SEAMS_TIMELINE_IMPORT_MAX_MEMBERS", 20_000)


def max_member_bytes() -> int:
    """The largest one file inside the ZIP may be once uncompressed."""
    return _limit("SEAMS_TIMELINE_IMPORT_MAX_MEMBER_BYTES", 20 * 1024 * 1024)


def max_total_bytes() -> int:
    """The most uncompressed bytes read from one ZIP, all members together."""
    return _limit("SEAMS_TIMELINE_IMPORT_MAX_TOTAL_BYTES", 100 * 1024 * 1024)


def max_messages() -> int:
    """The most messages one import reads (a channel's whole history is rarely needed)."""
    return _limit("SEAMS_TIMELINE_IMPORT_MAX_MESSAGES", 20_000)


MAX_TRANSCRIPT_CHARS = 2_000_000

# Reactions that mean "starred" here. A Slack export carries no personal stars (saved items
# are private to each person and never exported), so a team marks what matters with one of
# these reactions instead.
STAR_REACTIONS = frozenset({"star", "star2", "glowing_star", "⭐", "🌟"})

# Message subtypes that are something somebody said. Everything else (joins, leaves, topic
# and purpose changes, "pinned a message" notices, bot additions…) is channel bookkeeping.
KEPT_SUBTYPES = frozenset({"", "bot_message", "me_message", "thread_broadcast", "file_share"})


class ChatImportError(ValueError):
    """The upload or the transcript cannot be read; the message says what is wrong."""


@dataclass
class Person:
    """Someone who wrote in the chat, as the source describes them."""

    id: str
    name: str = ""
    title: str = ""
    is_bot: bool = False


@dataclass
class ChatMessage:
    """One message as read from the source, before any blameless rewriting.

    `text` is the source's text (Slack markup still in it); `occurred_at` is in UTC.
    """

    source_id: str
    occurred_at: dt.datetime
    text: str
    author_id: str
    pinned: bool = False
    starred: bool = False
    reply: bool = False
    files: int = 0
    bot: bool = False


@dataclass
class ChatLog:
    """The messages of one channel or transcript, oldest first, with the people and
    channels their text may mention."""

    source: str
    messages: list[ChatMessage] = field(default_factory=list)
    people: dict[str, Person] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)
    # Transcripts name people in plain text ("@Dana Kim"); Slack uses ids (`<@U123>`).
    plain_mentions: bool = False

    def to_dict(self) -> dict:
        """Plain JSON (for the preview's signed form field), people trimmed to the authors."""
        authors = {m.author_id for m in self.messages}
        mentioned = set()
        for m in self.messages:
            mentioned.update(re.findall(r"<@([A-Z0-9]+)", m.text))
        keep = authors | mentioned
        return {
            "source": self.source,
            "messages": [
                {**asdict(m), "occurred_at": m.occurred_at.isoformat()} for m in self.messages
            ],
            "people": {k: asdict(p) for k, p in self.people.items() if k in keep},
            "channels": self.channels,
            "plain_mentions": self.plain_mentions,
        }

    @classmethod
    def from_dict(cls, data: dict) -> ChatLog:
        """The inverse of `to_dict`."""
        return cls(
            source=data["source"],
            messages=[
                ChatMessage(**{**m, "occurred_at": dt.datetime.fromisoformat(m["occurred_at"])})
                for m in data["messages"]
            ],
            people={k: Person(**p) for k, p in data["people"].items()},
            channels=dict(data["channels"]),
            plain_mentions=data.get("plain_mentions", False),
        )


# --- Slack ----------------------------------------------------------------------------------


def read_upload(data: bytes, *, channel: str = "") -> ChatLog:
    """A Slack export: the workspace ZIP, or one channel's JSON file (a day file's list of
    messages, or `{"messages": [...]}` as the API's conversations.history answers)."""
    if len(data) > max_upload_bytes():
        raise ChatImportError(
            f"The file is {len(data):,} bytes; Seams reads at most {max_upload_bytes():,}. "
            "Export only the incident's channel, or the days of the incident."
        )
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return read_slack_zip(data, channel=channel)
    try:
        decoded = _json(data, "The file")
    except ChatImportError as error:
        raise ChatImportError(
            f"This file is neither a Slack export ZIP nor a channel's JSON file: {error}".replace(
                "The file is not valid JSON: ", ""
            )
        ) from error
    if isinstance(decoded, dict) and isinstance(decoded.get("messages"), list):
        decoded = decoded["messages"]
    if not isinstance(decoded, list):
        raise ChatImportError(
            "The JSON file is not a list of Slack messages (a channel's day file from an "
            'export), nor an object with a "messages" list.'
        )
    messages = _slack_messages(decoded, "The JSON file")
    people = _people_from_messages(decoded)
    return _log("Slack channel file", messages, people, {})


def _json(data: bytes, what: str):
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ChatImportError(f"{what} is not UTF-8 text (byte {error.start}).") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ChatImportError(
            f"{what} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from error
    except RecursionError as error:
        raise ChatImportError(f"{what} is nested too deeply to be a Slack export.") from error


class _Zip:
    """A ZIP opened with the caps: every read counts against the total."""

    def __init__(self, data: bytes) -> None:
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            self.infos = self.zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
            raise ChatImportError(f"The ZIP file cannot be opened ({error}).") from error
        if len(self.infos) > max_members():
            raise ChatImportError(
                f"The ZIP holds {len(self.infos):,} files; Seams reads at most "
                f"{max_members():,}. Export only the incident's channel."
            )
        self.read_bytes = 0

    def read(self, info: zipfile.ZipInfo) -> bytes:
        limit = max_member_bytes()
        # The declared size is checked first (cheap), then the real one while inflating:
        # a crafted ZIP can declare a small size and inflate to gigabytes.
        if info.file_size > limit:
            raise ChatImportError(
                f"{info.filename} would be {info.file_size:,} bytes uncompressed; Seams reads "
                f"at most {limit:,} per file."
            )
        try:
            with self.zip.open(info) as member:
                body = member.read(limit + 1)
        except RuntimeError as error:  # encrypted member
            raise ChatImportError(
                f"{info.filename} is encrypted; export it without a password."
            ) from error
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, OSError) as error:
            raise ChatImportError(
                f"{info.filename} in the ZIP cannot be read ({error})."
            ) from error
        if len(body) > limit:
            raise ChatImportError(
                f"{info.filename} inflates to more than {limit:,} bytes; Seams reads at most "
                f"{limit:,} per file. This does not look like a Slack export."
            )
        self.read_bytes += len(body)
        if self.read_bytes > max_total_bytes():
            raise ChatImportError(
                f"The ZIP inflates to more than {max_total_bytes():,} bytes; Seams reads at "
                "most that much. Export only the incident's channel."
            )
        return body


def read_slack_zip(data: bytes, *, channel: str = "") -> ChatLog:
    """A workspace export ZIP: `channels.json`, `users.json` and one folder per channel with
    one JSON file per day. `channel` (a name, with or without `#`, or an id) picks the channel
    when the export holds several."""
    archive = _Zip(data)
    by_name = {PurePosixPath(i.filename): i for i in archive.infos if not i.is_dir()}
    # An export unpacked and zipped again often sits inside one folder: find its root.
    shallow_first = sorted(by_name, key=lambda p: len(p.parts))
    root = next((p.parent for p in shallow_first if p.name == "channels.json"), None)
    if root is None:
        folders = {p.parts[-2] for p in by_name if len(p.parts) >= 2 and p.suffix == ".json"}
        roots = {p.parent.parent for p in by_name if len(p.parts) >= 2 and p.suffix == ".json"}
        if not folders or len(roots) != 1:
            raise ChatImportError(
                "The ZIP is not a Slack export: it has no channels.json and no channel folder "
                "of day files (such as incident-42/2024-03-01.json)."
            )
        root = roots.pop()

    def member(name: str):
        info = by_name.get(root / name)
        return None if info is None else _json(archive.read(info), name)

    listed = _list_of_dicts(member("channels.json") or [], "channels.json")
    for extra in ("groups.json", "mpims.json"):
        listed += _list_of_dicts(member(extra) or [], extra)
    channels = {str(c.get("id", "")): str(c.get("name", "")) for c in listed if c.get("name")}
    day_files: dict[str, list[PurePosixPath]] = {}
    for path in by_name:
        if path.suffix == ".json" and path.parent.parent == root and path.parent != root:
            day_files.setdefault(path.parent.name, []).append(path)
    if not day_files:
        raise ChatImportError("The Slack export holds no channel folder with messages.")
    folder = _choose_channel(channel, sorted(day_files), channels)
    people = {}
    for raw in _list_of_dicts(member("users.json") or [], "users.json"):
        person = _slack_person(raw)
        if person.id:
            people[person.id] = person
    raw_messages: list = []
    for path in sorted(day_files[folder]):
        name = str(path.relative_to(root))
        day = _json(archive.read(by_name[path]), name)
        if not isinstance(day, list):
            raise ChatImportError(f"{name} is not a list of messages.")
        raw_messages += [(m, name) for m in day]
        if len(raw_messages) > max_messages():
            raise ChatImportError(
                f"#{folder} has more than {max_messages():,} messages; Seams reads at most that "
                "many. Export only the days of the incident."
            )
    messages = []
    for message, name in raw_messages:
        messages += _slack_messages([message], name)
    for key, person in _people_from_messages([m for m, _ in raw_messages]).items():
        people.setdefault(key, person)
    return _log(f"Slack export, #{folder}", messages, people, channels)


def _choose_channel(wanted: str, folders: list[str], channels: dict[str, str]) -> str:
    wanted = wanted.strip().lstrip("#")
    if wanted:
        name = channels.get(wanted, wanted)
        if name in folders:
            return name
        raise ChatImportError(f"The export has no channel “{wanted}”. It has: {_names(folders)}.")
    if len(folders) == 1:
        return folders[0]
    raise ChatImportError(
        f"The export holds {len(folders)} channels; say which one is the incident's channel: "
        f"{_names(folders)}."
    )


def _names(folders: list[str]) -> str:
    shown = ", ".join(f"#{f}" for f in folders[:20])
    return shown + (f" and {len(folders) - 20} more" if len(folders) > 20 else "")


def _list_of_dicts(value, name: str) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ChatImportError(f"{name} is not a list of objects, as a Slack export has.")
    return value


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _slack_person(raw: dict) -> Person:
    profile = raw.get("profile") if isinstance(raw.get("profile"), dict) else {}
    name = (
        _text(profile.get("display_name"))
        or _text(profile.get("real_name"))
        or _text(raw.get("real_name"))
        or _text(raw.get("name"))
    )
    return Person(
        id=_text(raw.get("id")),
        name=name.strip(),
        title=_text(profile.get("title")).strip(),
        is_bot=bool(raw.get("is_bot")) or _text(raw.get("id")) == "USLACKBOT",
    )


def _people_from_messages(raw_messages: list) -> dict[str, Person]:
    """Authors the messages describe themselves (a channel file has no users.json)."""
    people: dict[str, Person] = {}
    for raw in raw_messages:
        if not isinstance(raw, dict):
            continue
        profile = raw.get("user_profile")
        user = _text(raw.get("user"))
        if user and isinstance(profile, dict) and user not in people:
            people[user] = Person(
                id=user,
                name=(_text(profile.get("display_name")) or _text(profile.get("real_name"))
                      or _text(profile.get("name"))).strip(),
            )  # fmt: skip
        bot = _text(raw.get("bot_id"))
        if bot and not user and bot not in people:
            profile = raw.get("bot_profile") if isinstance(raw.get("bot_profile"), dict) else {}
            name = _text(raw.get("username")) or _text(profile.get("name"))
            people[bot] = Person(id=bot, name=name.strip(), is_bot=True)
    return people


def _ts(value, where: str) -> dt.datetime:
    try:
        seconds = Decimal(str(value))
        moment = dt.datetime.fromtimestamp(0, UTC) + dt.timedelta(
            microseconds=int(seconds * 1_000_000)
        )
    except (InvalidOperation, ValueError, OverflowError, TypeError) as error:
        raise ChatImportError(f"{where}: “{value}” is not a Slack timestamp.") from error
    if not dt.datetime(2000, 1, 1, tzinfo=UTC) <= moment <= dt.datetime(2200, 1, 1, tzinfo=UTC):
        raise ChatImportError(f"{where}: “{value}” is not a Slack timestamp.")
    return moment


def _slack_messages(raw_messages: list, where: str) -> list[ChatMessage]:
    out = []
    for n, raw in enumerate(raw_messages, 1):
        if not isinstance(raw, dict):
            raise ChatImportError(f"{where}: entry {n} is not a message object.")
        subtype = _text(raw.get("subtype"))
        if subtype not in KEPT_SUBTYPES:
            continue
        if "ts" not in raw:
            raise ChatImportError(f"{where}: entry {n} has no “ts” (its time).")
        ts = str(raw["ts"])
        occurred_at = _ts(ts, f"{where}, entry {n}")
        text = raw.get("text", "")
        if not isinstance(text, str):
            raise ChatImportError(f"{where}: entry {n} has a “text” that is not a string.")
        files = raw.get("files") if isinstance(raw.get("files"), list) else []
        if not text.strip() and not files:
            continue
        author = _text(raw.get("user")) or _text(raw.get("bot_id"))
        reactions = raw.get("reactions") if isinstance(raw.get("reactions"), list) else []
        thread = raw.get("thread_ts")
        out.append(
            ChatMessage(
                source_id=f"slack:{ts}:{author}",
                occurred_at=occurred_at,
                text=text,
                author_id=author,
                pinned=bool(raw.get("pinned_to")) or bool(raw.get("pinned_info")),
                starred=any(
                    isinstance(r, dict) and r.get("name") in STAR_REACTIONS for r in reactions
                ),
                reply=thread is not None and str(thread) != ts,
                files=len(files),
                bot=subtype == "bot_message" or bool(raw.get("bot_id") and not raw.get("user")),
            )
        )
    return out


def _log(source: str, messages: list[ChatMessage], people: dict, channels: dict) -> ChatLog:
    for message in messages:
        if message.author_id not in people:
            people[message.author_id] = Person(id=message.author_id)
    messages.sort(key=lambda m: (m.occurred_at, m.source_id))
    if not messages:
        raise ChatImportError("There are no messages to import in this channel.")
    return ChatLog(source=source, messages=messages, people=people, channels=channels)


# --- Transcripts ----------------------------------------------------------------------------

_TIME = r"(?P<time>\d{1,2}:\d{2}(?::\d{2})?(?:\s?[AaPp]\.?[Mm]\.?)?)"
# [2024-03-01 10:02] name: text   (also 10:02:33, a T between, or a comma)
_BRACKETED = re.compile(
    r"^\[(?P<date>\d{4}-\d{2}-\d{2})[ T,]+" + _TIME + r"\]\s*(?P<name>[^:]{1,80}?):\s?(?P<text>.*)$"
)
# 10:02 name: text   (also [10:02] name: text)
_TIMED = re.compile(r"^\[?" + _TIME + r"\]?\s+(?P<name>[^:]{1,80}?):\s?(?P<text>.*)$")
# Slack's copy and paste: "Dana Kim  10:02 AM" then the message on the next lines; a further
# message by the same person in the same minute group starts with its time alone ("10:03").
_SLACK_HEADER = re.compile(r"^(?P<name>\S.{0,80}?)(?:\s{2,}|\t|\s+\[)" + _TIME + r"\]?$")
_BARE_TIME = re.compile(r"^\[?" + _TIME + r"\]?$")
_APP = re.compile(r"\s*\(?\bAPP\)?$")

SUPPORTED_SHAPES = (
    "[2024-03-01 10:02] Dana: text",
    "10:02 Dana: text (with the date chosen in the form)",
    "Slack's copy and paste: “Dana Kim  10:02 AM” (two spaces, a tab, or the time in "
    "brackets) then the message on the lines below, and “10:03” alone for the same person's "
    "next message",
)


def _clock(value: str) -> dt.time:
    value = value.strip().lower().replace(".", "").replace(" ", "")
    meridiem = value[-2:] if value[-2:] in ("am", "pm") else ""
    parts = [int(p) for p in value.removesuffix(meridiem).split(":")]
    hour, minute, second = [*parts, 0, 0][:3]
    if meridiem:
        if not 1 <= hour <= 12:
            raise ValueError(value)
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    return dt.time(hour, minute, second)


def read_transcript(text: str, *, day: dt.date | None = None, zone: str = "UTC") -> ChatLog:
    """A pasted chat in one of `SUPPORTED_SHAPES`, its times read in `zone` and kept in UTC.

    Times without a date count from `day`; a time earlier than the one before it is taken
    to be on the next day (a chat that ran past midnight). A line in no known shape continues
    the message above it; one before any message is an error naming the line.
    """
    if len(text) > MAX_TRANSCRIPT_CHARS:
        raise ChatImportError(
            f"The transcript is {len(text):,} characters; Seams reads at most "
            f"{MAX_TRANSCRIPT_CHARS:,}."
        )
    try:
        tz = ZoneInfo(zone)
    except (ValueError, KeyError, OSError) as error:
        raise ChatImportError(f"“{zone}” is not a time zone Seams knows.") from error
    entries: list[dict] = []  # name, local datetime, lines
    current_day = day
    previous: dt.datetime | None = None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    slack_author = None

    def start(name: str, local: dt.datetime, first: str, line_no: int) -> None:
        nonlocal previous
        if previous is not None and local < previous and local.date() == previous.date():
            local += dt.timedelta(days=1)
        previous = local
        entries.append({"name": name.strip(), "at": local, "lines": [first], "line": line_no})

    def on_day(clock: dt.time, line_no: int) -> dt.datetime:
        if current_day is None:
            raise ChatImportError(
                f"Line {line_no} gives a time without a date: choose the date of the first "
                "message in the form."
            )
        base = previous.date() if previous is not None else current_day
        return dt.datetime.combine(base, clock)

    for line_no, line in enumerate(lines, 1):
        stripped = line.strip()
        try:
            if match := _BRACKETED.match(stripped):
                local = dt.datetime.combine(
                    dt.date.fromisoformat(match["date"]), _clock(match["time"])
                )
                current_day = local.date()
                previous = None  # an explicit date: no rollover guess against it
                start(match["name"], local, match["text"], line_no)
                slack_author = None
                continue
            if match := _TIMED.match(stripped):
                start(match["name"], on_day(_clock(match["time"]), line_no), match["text"], line_no)
                slack_author = None
                continue
            if match := _SLACK_HEADER.match(stripped):
                slack_author = match["name"].strip()
                start(slack_author, on_day(_clock(match["time"]), line_no), "", line_no)
                continue
            if slack_author and (match := _BARE_TIME.match(stripped)):
                start(slack_author, on_day(_clock(match["time"]), line_no), "", line_no)
                continue
        except ChatImportError:
            raise
        except ValueError as error:
            raise ChatImportError(
                f"Line {line_no}: “{stripped[:80]}” has a time that does not exist."
            ) from error
        if not entries:
            if not stripped:
                continue
            raise ChatImportError(
                f"Line {line_no} (“{stripped[:80]}”) is in none of the shapes Seams reads: "
                + "; ".join(SUPPORTED_SHAPES)
                + "."
            )
        entries[-1]["lines"].append(line)
    people: dict[str, Person] = {}
    messages = []
    for entry in entries:
        body = "\n".join(entry["lines"]).strip()
        if not body:
            continue
        name = entry["name"]
        is_bot = bool(_APP.search(name))
        name = _APP.sub("", name).strip() or name
        people.setdefault(name, Person(id=name, name=name, is_bot=is_bot))
        occurred_at = entry["at"].replace(tzinfo=tz).astimezone(UTC)
        digest = hashlib.sha256(f"{occurred_at.isoformat()}\n{name}\n{body}".encode()).hexdigest()
        messages.append(
            ChatMessage(
                source_id=f"transcript:{digest[:32]}",
                occurred_at=occurred_at,
                text=body,
                author_id=name,
                bot=is_bot,
            )
        )
    if not messages:
        raise ChatImportError("The transcript holds no messages.")
    messages.sort(key=lambda m: m.occurred_at)
    return ChatLog(
        source="Pasted transcript", messages=messages, people=people, plain_mentions=True
    )
