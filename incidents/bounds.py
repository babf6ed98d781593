"""Bounds for user-supplied numbers, dates and text before they reach the database.

A number or a date that parses can still break a query: SQLite's integers stop at 2**63,
PostgreSQL's `integer` columns at 2**31, and a date near year 1 or 9999 with an offset has no
UTC equivalent. PostgreSQL refuses NUL in text. Every such value from a request goes through
these functions, which raise `InvalidInput` with a message a person or a bot can act on; the
web views and the API turn it into a 400.
"""

from __future__ import annotations

import datetime as dt
import re

# The smallest integer column Seams filters on (PostgreSQL `integer`, e.g. versions, ids).
MAX_DB_INT = 2**31 - 1

# NUL and the other C0 controls but tab, newline and carriage return, plus DEL: no URL, slug
# or search of Seams needs them, and PostgreSQL refuses NUL outright.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class InvalidInput(ValueError):
    """A request value outside what Seams accepts; `str()` is the message for the user."""


def bounded_int(
    value: object,
    *,
    name: str,
    minimum: int = 0,
    maximum: int = MAX_DB_INT,
) -> int:
    """`value` (an int or its decimal text) as an int within [minimum, maximum]."""
    if isinstance(value, bool):
        raise InvalidInput(f"`{name}` must be a whole number.")
    if isinstance(value, str):
        text = value.strip()
        # int() would accept 4,300 digits and underscores; no real value is that long.
        if not re.fullmatch(r"[+-]?\d{1,19}", text):
            raise InvalidInput(f"`{name}` must be a whole number, not {value[:40]!r}.")
        value = int(text)
    if not isinstance(value, int):
        raise InvalidInput(f"`{name}` must be a whole number.")
    if not minimum <= value <= maximum:
        raise InvalidInput(f"`{name}` must be between {minimum:,} and {maximum:,}.")
    return value


def bounded_datetime(value: dt.datetime, *, name: str) -> dt.datetime:
    """`value` if it has a UTC equivalent that every supported database can store.

    A naive value is taken as UTC (as Django does for the API with USE_TZ).
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    try:
        in_utc = value.astimezone(dt.UTC)
        # Database adapters add or subtract offsets again; keep a day clear of the ends.
        in_utc - dt.timedelta(days=1)
        in_utc + dt.timedelta(days=1)
    except OverflowError as exc:
        raise InvalidInput(
            f"`{name}` is outside the dates Seams can store (years 1 to 9999 in UTC)."
        ) from exc
    return value


def refuse_control_characters(value: str, *, name: str) -> str:
    """`value` unchanged, unless it holds NUL or another control character."""
    if CONTROL_CHARACTERS.search(value):
        raise InvalidInput(
            f"`{name}` contains a control character (such as NUL); remove it and try again."
        )
    return value
