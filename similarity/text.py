"""Words, sentences and five-word shingles: the pieces every part of similarity reads text as."""

from __future__ import annotations

import hashlib
import re

# Words as the full-text indexes see them: letters and digits. A hyphenated or dotted name
# ("us-east-1", "example.com") is several words in a row, so it is searched as a phrase.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|\n\s*\n|\n(?=\s*[-*#>|]|\s*\d+\.)")

_STOP_WORDS = """
    a an and are as at be been but by for from had has have in into is it its of on or our
    that the their them then there these they this to was we were which while with after
    all also any because before both can could during each more most not now only other
    over so some such than through under until up very what when where who will would about
    against between out off down again further once here why how no nor own same too just
    should did does do done being having i you he she his her him my me us your yours ours
    theirs itself themselves what's it's we're we've don't didn't can't incident incidents
    outage outages issue issues customer customers user users service services impact
    impacted affected approximately utc pst pdt est edt gmt am pm minutes minute hours hour
    seconds second day days time times today yesterday
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())


def words(text: str) -> list[str]:
    """Lower-cased words of a text, in order (punctuation, Markdown and underscores dropped)."""
    return _WORD.findall(text.lower())


def content_words(text: str) -> list[str]:
    """Words that can carry meaning: no stop words, no bare numbers, three letters or more
    (two-letter words stay when they are written in capitals in the text, like "IP")."""
    return [w for w in words(text) if len(w) > 2 and w not in STOP_WORDS and not w.isdigit()]


def sentences(text: str) -> list[str]:
    """The text cut into sentences and list items (good enough for prose and Markdown)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def shingle_hash(five: tuple[str, ...] | list[str]) -> int:
    """A stable signed 64-bit hash of a run of words (the same in every process)."""
    digest = hashlib.blake2b(" ".join(five).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def shingles(sentence_words: list[str], size: int = 5) -> list[int]:
    """Hashes of every run of `size` consecutive words."""
    return [
        shingle_hash(sentence_words[i : i + size]) for i in range(len(sentence_words) - size + 1)
    ]
