"""Is this the same incident twice? The rules, the text measure, and the flagging.

The same outage often reaches Seams twice: imported from a status page and from a blog post,
or written up by two teams. Two reviews are a *possible duplicate* when all of these hold:

- the same organisation (compared ignoring case and whitespace; two blanks are both "ours");
- their times overlap (each window runs from `started_at` to `resolved_at`, or for a day when
  the end is unknown). When either start is unknown Seams cannot tell, and then asks for
  stronger text evidence instead (`DUPLICATE_SIMILARITY_UNTIMED`);
- their text is similar: `text_similarity` at or above `DUPLICATE_SIMILARITY`.

The thresholds were chosen by measuring on public post-mortems with labelled duplicates
(`bench/duplicates/measure.py`; figures in docs/duplicates.md).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Lower, Replace

from incidents.models import Incident

from .models import PossibleDuplicate

# Text similarity at or above which two reviews whose times overlap are flagged.
DUPLICATE_SIMILARITY = 0.5
# When either start is unknown, times cannot rule a pair out: the text must say more.
DUPLICATE_SIMILARITY_UNTIMED = 0.7
# An incident with no known end is taken to have lasted this long.
DEFAULT_DURATION = timedelta(days=1)
# How much of each text is compared: a bounded cost whatever the review's length.
NARRATIVE_OPENING_CHARS = 1500
SUMMARY_CHARS = 2000
# How many candidates one incident is compared with: the nearest in time on each side, the
# ones whose start is unknown, and the ones with the same title.
NEAREST_EACH_SIDE = 15
UNTIMED_CANDIDATES = 30
SAME_TITLE_CANDIDATES = 10

Window = tuple[datetime | None, datetime | None]

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
STOP_WORDS = frozenset(
    re.findall(
        r"\S+",
        """a about after again all also an and any are as at be been before being between both
        but by can could did do does during each few for from had has have he her here his how
        i if in into is it its itself just more most no nor not of off on once only or other
        our out over own same she should so some such than that the their them then there these
        they this those through to too under until up very was we were what when where which
        while who whom why will with would you your""",
    )
)


def organisation_key(name: str) -> str:
    """An organisation's name as compared: lower case, without any whitespace."""
    return "".join(name.split()).casefold()


def window_of(incident: Incident) -> Window:
    """The incident's time window: from its start to its resolution (None when unknown)."""
    return (incident.started_at, incident.resolved_at)


def _span(window: Window) -> tuple[datetime, datetime] | None:
    start, end = window
    if start is None:
        return None
    if end is None or end < start:
        end = start + DEFAULT_DURATION
    return start, end


def is_possible_duplicate(
    *,
    organisation_a: str,
    organisation_b: str,
    window_a: Window,
    window_b: Window,
    similarity: float,
) -> tuple[bool, list[str]]:
    """Whether two incidents may be the same one, and the reasons, as short phrases.

    Pure: it reads only its arguments. Rules, all required:

    - same organisation, ignoring case and whitespace ("Travis CI" is "TravisCI"); two blank
      organisations are the same one, "ours";
    - times overlap: each window is (start, end) with the end unknown meaning a day after
      the start; an unknown start on either side means "cannot tell" — then the similarity
      must reach `DUPLICATE_SIMILARITY_UNTIMED` instead of `DUPLICATE_SIMILARITY`;
    - `similarity` at or above the threshold that applies.

    The reasons describe what was found, also when the answer is no (the first one that
    failed comes last), so a caller can show why a pair was or was not flagged.
    """
    reasons: list[str] = []
    if organisation_key(organisation_a) != organisation_key(organisation_b):
        reasons.append(f"different organisations: {organisation_a or 'ours'} / "
                       f"{organisation_b or 'ours'}")  # fmt: skip
        return False, reasons
    reasons.append(f"same organisation: {organisation_a.strip() or 'ours'}")
    span_a, span_b = _span(window_a), _span(window_b)
    if span_a is None or span_b is None:
        threshold = DUPLICATE_SIMILARITY_UNTIMED
        reasons.append("times unknown: cannot tell whether they overlap")
    else:
        if span_a[0] > span_b[1] or span_b[0] > span_a[1]:
            reasons.append(
                f"times do not overlap: {span_a[0]:%Y-%m-%d %H:%M} and {span_b[0]:%Y-%m-%d %H:%M}"
            )
            return False, reasons
        threshold = DUPLICATE_SIMILARITY
        start, end = max(span_a[0], span_b[0]), min(span_a[1], span_b[1])
        reasons.append(f"times overlap: {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC")
    reasons.append(f"text similarity {similarity:.2f}")
    return similarity >= threshold, reasons


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]


def _counts(text: str) -> Counter[str]:
    """Words and word pairs (two-word shingles) of the text, counted."""
    words = _words(text)
    counts = Counter(words)
    counts.update(f"{a} {b}" for a, b in itertools.pairwise(words))
    return counts


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    dot = sum(count * b[word] for word, count in a.items() if word in b)
    norm = math.sqrt(sum(c * c for c in a.values())) * math.sqrt(sum(c * c for c in b.values()))
    return dot / norm if norm else 0.0


def _opening(incident: Incident) -> str:
    return "\n".join(
        (
            incident.title,
            incident.summary[:SUMMARY_CHARS],
            incident.narrative[:NARRATIVE_OPENING_CHARS],
        )
    )


def text_similarity(a: Incident, b: Incident) -> float:
    """How alike two reviews' texts are, from 0 to 1.

    Cosine of word and word-pair counts (common English words left out) of the title, the
    summary and the opening of the narrative — at most a few thousand characters of each
    review, so the cost is bounded whatever their length. The larger of that and the cosine
    of the two summaries counts: one source is often a one-line summary of the other's
    long write-up, and the long narrative alone would hide their shared summary.
    """
    whole = _cosine(_counts(_opening(a)), _counts(_opening(b)))
    summaries = _cosine(
        _counts(f"{a.title}\n{a.summary[:SUMMARY_CHARS]}"),
        _counts(f"{b.title}\n{b.summary[:SUMMARY_CHARS]}"),
    )
    return round(min(1.0, max(whole, summaries)), 4)


# --- flagging -----------------------------------------------------------------------------

_COMPARED_FIELDS = ("pk", "title", "summary", "narrative", "organisation", "started_at",
                    "resolved_at")  # fmt: skip


def _same_organisation(organisation: str) -> QuerySet[Incident]:
    key = organisation_key(organisation)
    if not key:
        return Incident.objects.filter(organisation="")
    # Spaces only: a tab or a newline in an organisation's name is not worth a full scan.
    folded = Replace(Lower("organisation"), Value(" "), Value(""))
    return (
        Incident.objects.filter(organisation__istartswith=organisation.strip()[:1])
        .annotate(organisation_key=folded)
        .filter(organisation_key=key)
    )


def candidates(incident: Incident) -> list[Incident]:
    """The reviews `incident` is compared with: a bounded number from the same organisation
    — the nearest in time on either side, those whose start is unknown (they cannot be ruled
    out by time), and those with the same title. Reviews already merged into another one
    and pairs already decided are left out."""
    from .selectors import merged_away_ids

    pool = (
        _same_organisation(incident.organisation)
        .exclude(pk=incident.pk)
        .exclude(pk__in=merged_away_ids())
        .only(*_COMPARED_FIELDS)
    )
    found: dict[int, Incident] = {}

    def add(rows) -> None:
        for row in rows:
            found.setdefault(row.pk, row)

    if incident.started_at is not None:
        start = incident.started_at
        add(pool.filter(started_at__gte=start).order_by("started_at", "pk")[:NEAREST_EACH_SIDE])
        add(pool.filter(started_at__lt=start).order_by("-started_at", "-pk")[:NEAREST_EACH_SIDE])
        add(pool.filter(started_at__isnull=True).order_by("-pk")[:UNTIMED_CANDIDATES])
    else:
        # Unknown start: time cannot narrow the search, so the newest ones are compared.
        add(pool.order_by("-pk")[: 2 * NEAREST_EACH_SIDE + UNTIMED_CANDIDATES])
    if incident.title.strip():
        add(pool.filter(title__iexact=incident.title.strip()).order_by("-pk")[
            :SAME_TITLE_CANDIDATES])  # fmt: skip
    decided = PossibleDuplicate.objects.filter(
        Q(first=incident.pk) | Q(second=incident.pk)
    ).values_list("first_id", "second_id")
    already = {a if b == incident.pk else b for a, b in decided}
    return [row for pk, row in found.items() if pk not in already]


def judge(a: Incident, b: Incident) -> tuple[bool, float, list[str]]:
    """Whether two loaded reviews may be duplicates, their text similarity and the reasons."""
    similarity = text_similarity(a, b)
    flagged, reasons = is_possible_duplicate(
        organisation_a=a.organisation,
        organisation_b=b.organisation,
        window_a=window_of(a),
        window_b=window_of(b),
        similarity=similarity,
    )
    return flagged, similarity, reasons


def flag_duplicates(incident: Incident) -> list[PossibleDuplicate]:
    """Compare one review with its candidates and record the pairs that may be duplicates.

    Idempotent: a pair is stored once (first = lower id) and never re-judged, so re-running
    creates nothing new, and a dismissed pair is never flagged again. A review merged into
    another one is not compared. Returns the review's open pairs, those flagged now and
    earlier, so a caller (the import report) can list them.
    """
    from .selectors import merged_away_ids

    incident = Incident.objects.only(*_COMPARED_FIELDS).filter(pk=incident.pk).first()
    if incident is None or incident.pk in set(merged_away_ids()):
        return []
    for other in candidates(incident):
        flagged, similarity, reasons = judge(incident, other)
        if not flagged:
            continue
        first, second = sorted((incident.pk, other.pk))
        try:
            with transaction.atomic():
                PossibleDuplicate.objects.get_or_create(
                    first_id=first,
                    second_id=second,
                    defaults={"similarity": similarity, "reasons": reasons},
                )
        except IntegrityError:
            pass  # flagged at the same moment by another worker: one pair is enough
    return list(
        PossibleDuplicate.objects.filter(
            Q(first=incident.pk) | Q(second=incident.pk), status=PossibleDuplicate.Status.OPEN
        ).select_related("first", "second")
    )
