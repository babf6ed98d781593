"""Fill a PostgreSQL database with synthetic reviews, for the benchmarks.

    .venv/bin/python bench/generate.py --incidents 100000 [--reset] [--markdown-dir DIR]

`DATABASE_URL` chooses the database (default postgres://postgres@127.0.0.1:5432/seams_bench);
it is created if missing and migrated with `manage.py migrate` (which loads the catalogue).
`--reset` drops it first (only databases whose name contains "bench").

Each incident gets a title, a ~3 KB Markdown summary, an impact line, status (mostly
published), severity, start/detection/mitigation/resolution times spread over five years,
1–3 pattern links with a rationale, 1–2 emergent shapes, 1–3 components from a pool of 2,000
(with depends-on edges concentrated on a few core components), 2–4 action items (done/open,
component patch/structural fix, a leverage level) and 2 % are restricted to the group
"security". Summaries mix sentences carrying the catalogue's mechanism phrases (the
`match_terms` and aliases of `taxonomy/catalogue/patterns/*.toml`) — several for each linked
pattern, sometimes a strong unlinked one, a few weak stray ones — with neutral operational
prose. That prose samples words from the front-matter summaries of the icco-postmortems
corpus when it is present (read at run time, never stored in the repository), minus every
word that is itself part of a catalogue phrase, so that only the intended sentences carry
mechanism evidence.

Rows are written with bulk_create in batches; the full-text GIN index on the stored vector
is dropped during the load and rebuilt afterwards (the statement of migration 0006). Then
`incidents.analysis.recurrence.recompute_all` builds the pattern scores and recurring
structures, timed. The random seed is fixed, so a run is reproducible.

With `--markdown-dir`, every review is also written as a Markdown file (front matter, title,
summary): the `grep -ril` floor for full-text search.
"""

from __future__ import annotations

import argparse
import bisect
import importlib
import itertools
import json
import random
import re
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchkit import (
    ROOT,
    database_name,
    database_url,
    ensure_database,
    machine,
    max_rss_mb,
    migrate,
    save_result,
    setup_django,
)

SEED = 20261124
# Times are spread over the five years before this instant (fixed, for reproducibility).
END = datetime(2026, 11, 1, tzinfo=UTC)
YEARS = 5
COMPONENTS = 2000
CORPUS = ROOT.parent / "shared" / "corpora" / "icco-postmortems" / "data"
CATALOGUE = ROOT / "taxonomy" / "catalogue" / "patterns"

_WORD = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")


def normalise(text: str) -> str:
    """The same normalisation as incidents.analysis.similarity (kept bare: no Django)."""
    return " " + " ".join(_WORD.findall(text.lower().replace("_", " "))) + " "


# --- the catalogue ------------------------------------------------------------------------


@dataclass
class Pattern:
    slug: str
    name: str
    phrases: list[str]  # match_terms and aliases, as written
    shapes: list[str]
    related: list[str] = field(default_factory=list)


def load_catalogue() -> list[Pattern]:
    patterns = []
    for path in sorted(CATALOGUE.glob("*.toml")):
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        phrases = sorted({*data.get("match_terms", []), *data.get("aliases", [])})
        patterns.append(
            Pattern(
                slug=data["slug"],
                name=data["name"],
                phrases=phrases,
                shapes=list(data.get("typical_shapes", [])),
                related=[r["slug"] for r in data.get("related", [])],
            )
        )
    return patterns


def catalogue_words(patterns: list[Pattern]) -> set[str]:
    """Every word of every phrase: kept out of the neutral prose."""
    words: set[str] = set()
    for p in patterns:
        for phrase in [*p.phrases, p.name]:
            words.update(normalise(phrase).split())
            words.update(re.findall(r"[a-z0-9]+", phrase.lower()))
    return words


# --- neutral vocabulary -------------------------------------------------------------------


def _split(text: str) -> list[str]:
    return text.split()


FALLBACK_WORDS = _split("""
request requests latency error errors region regions database cluster node nodes traffic
deployment deploy engineers team teams customer customers service services api endpoint
endpoints page pages dashboard metrics alert alerts queue queues message messages storage
disk disks memory network packet packets router routers certificate certificates payment
payments order orders account accounts session sessions login search index indexes cache
caches build builds pipeline pipelines job jobs worker workers schedule version versions
release releases change changes migration migrations table tables query queries write
writes read reads replica replicas zone zones host hosts container containers pod pods
kernel driver hardware power cooling rack racks link links bandwidth response responses
timeout timeouts status window minutes hours elevated degraded partial intermittent slow
unavailable recovered mitigated resolved investigated identified observed reported
""")


def corpus_vocabulary(excluded: set[str]) -> tuple[list[str], list[float]]:
    """Words of the corpus' front-matter summaries with cumulative frequencies, or a small
    built-in list if the corpus is not there. Catalogue words and capitalised words (company
    and product names) are left out."""
    counts: Counter[str] = Counter()
    if CORPUS.is_dir():
        import yaml

        for path in sorted(CORPUS.glob("*.md")):
            text = path.read_text(errors="replace")
            if not text.startswith("---"):
                continue
            head = text[3:].split("\n---", 1)[0]
            try:
                data = yaml.safe_load(head) or {}
                summary = (data.get("summary") or "") if isinstance(data, dict) else ""
            except yaml.YAMLError:
                found = re.search(r"^summary:\s*(.+)$", head, re.M)
                summary = found.group(1) if found else ""
            for word in re.findall(r"[A-Za-z][A-Za-z'-]*[A-Za-z]", str(summary)):
                if word[0].isupper() or len(word) < 3:
                    continue
                counts[word.lower()] += 1
    if sum(counts.values()) < 2000:
        counts.update(FALLBACK_WORDS)
    for word in list(counts):
        parts = set(_WORD.findall(word)) | set(re.findall(r"[a-z0-9]+", word))
        if parts & excluded:
            del counts[word]
    words = sorted(counts)
    cumulative = list(itertools.accumulate(counts[w] for w in words))
    return words, cumulative


# --- prose --------------------------------------------------------------------------------

DOMAINS = _split("""payments checkout billing ledger invoices refunds orders cart catalogue pricing
search recommendations inventory fulfilment shipping identity accounts sessions profile
notifications email sms push messaging chat media images video thumbnails uploads storage
blob objects metadata analytics events telemetry metrics logging tracing reporting ads
bidding fraud risk compliance audit tax currency maps geo routing dispatch booking
calendar scheduling feeds timeline comments reviews ratings partners vendors onboarding
signup auth tokens keys secrets certificates dns edge cdn gateway ingress mesh network
kafka postgres mysql redis memcached elastic clickhouse cassandra spanner bigtable etcd
zookeeper consul vault build ci deploy registry artifacts packages mobile web desktop
support helpdesk warehouse datalake etl streaming batch ml features experiments flags
config settings feature-store""")
ROLES = _split("""api service gateway worker consumer producer scheduler cron proxy cache store db
index indexer router balancer controller operator agent daemon frontend backend pipeline
exporter collector replicator sync bridge adapter queue broker""")
ENVS = ["", "", "", "", "eu-west", "us-east", "us-west", "ap-south", "internal", "legacy", "v2"]
REGIONS = ["eu-west-1", "eu-central-1", "us-east-1", "us-east-2", "us-west-2", "ap-south-1",
           "ap-northeast-1", "sa-east-1", "one availability zone", "two data centres"]  # fmt: skip
TEAMS = ["payments", "platform", "storage", "networking", "identity", "search", "mobile",
         "data", "infrastructure", "observability", "release engineering", "core services",
         "edge", "database reliability", "developer experience", "customer support"]  # fmt: skip
METRICS = ["p99 latency", "error rate", "queue depth", "CPU usage", "memory usage",
           "request volume", "disk I/O wait", "connection count", "checkout conversion",
           "login success rate", "replication delay", "cache hit ratio", "GC pause time",
           "open file descriptors", "5xx responses", "page load time"]  # fmt: skip
SYMPTOMS = ["elevated error rates", "slow responses", "failed logins", "delayed payments",
            "missing search results", "partial outage", "degraded checkout", "failed deploys",
            "dropped messages", "duplicate orders", "empty dashboards", "timeouts at the edge",
            "unavailable API", "delayed notifications", "corrupted thumbnails",
            "stuck background jobs", "elevated latency", "intermittent 5xx errors"]  # fmt: skip
VERBS = ["degraded", "slowed down", "returned errors", "stopped serving", "fell behind",
         "was unavailable", "misbehaved", "answered slowly"]  # fmt: skip

FILLER = [
    "At {t} UTC the {team} on-call engineer was paged for {metric} on {comp}.",
    "The {team} team confirmed that {comp} {verb} for about {mins} minutes in {region}.",
    "{Comp} {verb} while {comp2} kept answering, which made the first reports confusing.",
    "Roughly {pct}% of requests to {comp} {verb} during the worst part of the event.",
    "Dashboards for {comp2} showed {metric} climbing from {n} to {n2} within minutes.",
    "Support received {n} tickets mentioning {w}.",
    "An engineer from {team} joined the bridge call at {t} UTC and took over coordination.",
    "The status page was updated at {t} UTC to say that {comp} {verb} in {region}.",
    "We paused all deploys of {comp} and {comp2} until the review was complete.",
    "Traffic from {region} was moved away from {comp} at {t} UTC.",
    "Logs from {comp} contain {n} warnings about {w} in the hour before the page.",
    "A runbook existed for {comp}, but it described {w}.",
    "The incident commander asked the {team} team to look at {comp2} as well.",
    "Customers in {region} saw {symptom} for about {mins} minutes.",
    "By {t} UTC {metric} on {comp} was back to its usual level.",
    "The review group met twice and interviewed {n} people from {team} and {team2}.",
    "{Comp} is owned by {team}; {comp2} is owned by {team2}.",
    "The change to {comp} had been reviewed by two engineers and had passed every check.",
    "Nobody on the call knew at first that {comp} talked to {comp2}.",
    "The first alert came from {comp2}, not from {comp}.",
    "We looked at {metric} and at {metric2} before anyone looked at {comp}.",
    "Engineers noted {w}.",
    "The post-incident survey mentions {w} and {w}.",
    "Earlier that week {team} had written about {w}.",
    "{W}.",
    "{W}, {w}.",
    "The timeline below was reconstructed from chat logs, deploy records and {metric} graphs.",
    "Several teams reported that {comp} answered in {n} ms instead of the usual {n3} ms.",
    "Responders kept a document open, and {n} people edited it during the event.",
]
MECHANISM = [
    "Looking back, the {team} team describes this as {p}.",
    "Several engineers used the words “{p}” when explaining what {comp} did.",
    "The review found {p} around {comp}.",
    "What looked like routine noise on {comp} was {p}.",
    "The {comp} logs from {t} UTC onwards point to {p}.",
    "One contributing factor was {p} between {comp} and {comp2}.",
    "In the retrospective, {p} came up again and again.",
    "Nobody treated {p} as urgent before this incident.",
    "The chat log shows an engineer writing “this is {p}” at {t} UTC.",
    "{P} explains why {comp2} followed {comp} so closely.",
]
RATIONALE = [
    "{P} on {comp}: the review describes it directly, and {comp2} followed the same path.",
    "The timeline shows {p}; this is {name} as the catalogue describes it.",
    "{Name}: {p} let the failure of {comp} reach {comp2}.",
    "We link {name} because of {p} in {comp}, which earlier reviews also mention.",
]
ACTIONS_PATCH = [
    "Raise the connection limit of {comp}",
    "Add a timeout to the {comp} client in {comp2}",
    "Fix the parser in {comp} that mishandled the input",
    "Add an alert on {metric} for {comp}",
    "Roll {comp} forward to the corrected build",
    "Document the {comp} runbook step that was missing",
    "Increase the disk allocation of {comp}",
    "Pin the {comp} dependency to the tested version",
]
ACTIONS_STRUCTURAL = [
    "Stage every change to {comp} through a canary with automatic halt",
    "Give {comp} its own control path that does not depend on {comp2}",
    "Make {comp2} degrade gracefully when {comp} is slow",
    "Introduce an error budget shared by all callers of {comp}",
    "Map which services depend on {comp} and review it each quarter",
    "Require a load test at twice peak before {comp} changes ship",
    "Separate the monitoring of {comp} from the systems it watches",
    "Bound the size of every input {comp} accepts and reject the rest explicitly",
]
IMPACT = (
    "{Symptom} for customers in {region} for {mins} minutes; "
    "about {pct}% of {comp} requests {verb}."
)
OWNERS = _split(
    "alice bob chen dara emeka fatima gustav hana ines jonas kofi lena mateo nadia "
    "oskar priya quinn rosa sven tariq"
)

PATCH_LEVELS = ["parameters", "buffers", "stock-and-flow-structures", "delays"]
STRUCTURAL_LEVELS = ["balancing-feedback-loops", "reinforcing-feedback-loops",
                     "information-flows", "rules", "self-organisation", "goals"]  # fmt: skip


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


class _Slots(dict):
    """A template's placeholder values, each drawn the first time the template asks for it
    (so a sentence costs only the random draws it uses)."""

    def __init__(self, generator: Generator, comps: list[str]) -> None:
        super().__init__()
        self.generator = generator
        self.comps = comps

    def __missing__(self, key: str) -> str:
        value = self[key] = self.generator._draw(key, self.comps)
        return value


class Generator:
    """Deterministic synthetic reviews: everything comes from one seeded Random."""

    def __init__(self, seed: int = SEED, *, patterns: list[Pattern] | None = None) -> None:
        self.rng = random.Random(seed)
        self.patterns = patterns or load_catalogue()
        excluded = catalogue_words(self.patterns)
        self.words, self.word_cum = corpus_vocabulary(excluded)
        self.component_names = self._component_names(excluded)
        # Popularity: a few patterns and components are much more common than the rest.
        order = list(range(len(self.patterns)))
        self.rng.shuffle(order)
        self.pattern_cum = list(
            itertools.accumulate(1 / (1 + order[i]) ** 0.7 for i in range(len(self.patterns)))
        )
        self.component_cum = list(
            itertools.accumulate(1 / (1 + i) ** 0.8 for i in range(len(self.component_names)))
        )
        self.by_slug = {p.slug: p for p in self.patterns}
        self.all_phrases = [(p, phrase) for p in self.patterns for phrase in p.phrases]

    # -- pools ------------------------------------------------------------------------------
    def _component_names(self, excluded: set[str]) -> list[str]:
        domains = [d for d in DOMAINS if not set(d.split("-")) & excluded]
        roles = [r for r in ROLES if r not in excluded]
        envs = [e for e in ENVS if not set(e.split("-")) & excluded]
        names = {f"{d}-{r}" + (f"-{e}" if e else "") for d in domains for r in roles for e in envs}
        pool = sorted(names)
        self.rng.shuffle(pool)
        return pool[:COMPONENTS]

    def dependencies(self) -> list[tuple[int, int]]:
        """(from, to) index pairs: each component depends on 0–3 others, mostly on a core of
        50 widely used ones, so that concentration can be seen."""
        n = len(self.component_names)
        core = list(range(50))
        edges: set[tuple[int, int]] = set()
        for i in range(n):
            for _ in range(self.rng.choice((0, 1, 1, 2, 2, 3))):
                j = self.rng.choice(core) if self.rng.random() < 0.7 else self.rng.randrange(n)
                if j != i:
                    edges.add((i, j))
        return sorted(edges)

    # -- sampling helpers ---------------------------------------------------------------------
    def _weighted(self, cumulative: list[float]) -> int:
        return bisect.bisect_right(cumulative, self.rng.random() * cumulative[-1])

    def _distinct(self, cumulative: list[float], k: int) -> list[int]:
        chosen: list[int] = []
        while len(chosen) < k:
            i = self._weighted(cumulative)
            if i not in chosen:
                chosen.append(i)
        return chosen

    def _words(self, lo: int, hi: int) -> str:
        picks = self.rng.choices(self.words, cum_weights=self.word_cum, k=self.rng.randint(lo, hi))
        return " ".join(picks)

    def _slots(self, comps: list[str]) -> _Slots:
        """Values for a template's placeholders, drawn only when the template uses them."""
        return _Slots(self, comps)

    def _draw(self, key: str, comps: list[str]) -> str:
        rng = self.rng
        match key:
            case "comp":
                return rng.choice(comps)
            case "comp2":
                return rng.choice(self.component_names if rng.random() < 0.5 else comps)
            case "team" | "team2":
                return rng.choice(TEAMS)
            case "region":
                return rng.choice(REGIONS)
            case "metric" | "metric2":
                return rng.choice(METRICS)
            case "verb":
                return rng.choice(VERBS)
            case "symptom":
                return rng.choice(SYMPTOMS)
            case "n":
                return str(rng.randint(2, 900))
            case "n2":
                return str(rng.randint(900, 20000))
            case "n3":
                return str(rng.randint(20, 200))
            case "pct":
                return str(rng.randint(1, 95))
            case "mins":
                return str(rng.randint(4, 300))
            case "t":
                return f"{rng.randrange(24):02d}:{rng.randrange(60):02d}"
            case "w":
                return self._words(4, 9)
        if key[:1].isupper():
            return _cap(self._draw(key.lower(), comps))
        raise KeyError(key)

    def _sentence(self, templates: list[str], comps: list[str], **extra: str) -> str:
        slots = self._slots(comps)
        slots.update(extra)
        return self.rng.choice(templates).format_map(slots)

    def _mechanism(self, phrase: str, comps: list[str]) -> str:
        return self._sentence(MECHANISM, comps, p=phrase, P=_cap(phrase))

    # -- one incident ---------------------------------------------------------------------------
    def incident(self, target_chars: int = 3000) -> dict:
        rng = self.rng
        n_patterns = rng.choices((1, 2, 3), weights=(40, 40, 20))[0]
        linked = [self.patterns[i] for i in self._distinct(self.pattern_cum, n_patterns)]
        # Structures co-occur: sometimes the second pattern is one the first leads to.
        if n_patterns > 1 and linked[0].related and rng.random() < 0.4:
            other = self.by_slug.get(rng.choice(linked[0].related))
            if other is not None and other not in linked:
                linked[1] = other
        comp_idx = self._distinct(self.component_cum, rng.choices((1, 2, 3), (45, 35, 20))[0])
        comps = [self.component_names[i] for i in comp_idx]

        mechanism: list[str] = []
        for pattern in linked:
            for phrase in rng.sample(pattern.phrases, min(len(pattern.phrases), rng.randint(2, 4))):
                mechanism.append(self._mechanism(phrase, comps))
        text_only = None
        if rng.random() < 0.15:  # a structure the text shows strongly but nobody linked
            text_only = self.patterns[self._weighted(self.pattern_cum)]
            if text_only in linked:
                text_only = None
            else:
                for phrase in rng.sample(text_only.phrases, 3):
                    mechanism.append(self._mechanism(phrase, comps))
        for _ in range(rng.randint(0, 2)):  # stray, weak evidence for other patterns
            _, phrase = rng.choice(self.all_phrases)
            mechanism.append(self._mechanism(phrase, comps))

        started = END - timedelta(seconds=rng.uniform(2 * 86400, YEARS * 365.25 * 86400))
        detected = started + timedelta(minutes=rng.expovariate(1 / 15))
        mitigated = detected + timedelta(minutes=rng.expovariate(1 / 60))
        resolved = mitigated + timedelta(minutes=rng.expovariate(1 / 180))
        created = min(resolved + timedelta(days=rng.uniform(0.5, 10)), END)

        minutes = max(1, int((resolved - started).total_seconds() // 60))
        opening = f"On {started:%d %B %Y} {comps[0]} {rng.choice(VERBS)} for {minutes} minutes."
        sentences = [*mechanism]
        length = len(opening) + sum(len(s) + 1 for s in sentences)
        while length < target_chars:
            s = self._sentence(FILLER, comps)
            sentences.append(s)
            length += len(s) + 1
        rng.shuffle(sentences)
        sentences.insert(0, opening)
        paragraphs, i = [], 0
        while i < len(sentences):
            k = rng.randint(4, 7)
            paragraphs.append(" ".join(sentences[i : i + k]))
            i += k
        summary = "\n\n".join(paragraphs)

        title = f"{_cap(comps[0])}: {rng.choice(SYMPTOMS)}"
        if rng.random() < 0.4:
            title += f" in {rng.choice(REGIONS)}"

        links = []
        for pattern in linked:
            phrase = rng.choice(pattern.phrases)
            slots = self._slots(comps)
            slots.update(p=phrase, P=_cap(phrase), name=pattern.name, Name=pattern.name)
            links.append((pattern.slug, rng.choice(RATIONALE).format_map(slots)))

        shapes: list[str] = []
        for pattern in linked:
            shapes.extend(pattern.shapes)
        shapes = list(dict.fromkeys(shapes)) or ["cascade"]
        shapes = rng.sample(shapes, min(len(shapes), rng.choice((1, 1, 2))))
        if rng.random() < 0.1 and "recurrence" not in shapes:
            shapes.append("recurrence")

        actions = []
        for _ in range(rng.choice((2, 3, 3, 4))):
            structural = rng.random() < 0.35
            status = rng.choices(("done", "open", "in_progress", "wont_do"), (55, 30, 10, 5))[0]
            completed = None
            if status == "done":
                completed = min(resolved + timedelta(days=rng.uniform(1, 120)), END)
            actions.append(
                {
                    "title": self._sentence(
                        ACTIONS_STRUCTURAL if structural else ACTIONS_PATCH, comps
                    ),
                    "owner": rng.choice(OWNERS),
                    "status": status,
                    "kind": "structural_fix" if structural else "component_patch",
                    "level": rng.choice(STRUCTURAL_LEVELS if structural else PATCH_LEVELS),
                    "pattern": rng.choice(linked).slug if structural else None,
                    "due": (resolved + timedelta(days=rng.randint(7, 90))).date(),
                    "completed_at": completed,
                }
            )

        return {
            "title": title[:250],
            "summary": summary,
            "impact": self._sentence([IMPACT], comps),
            "status": rng.choices(("published", "in_review", "draft"), (90, 5, 5))[0],
            "severity": rng.choices(("sev1", "sev2", "sev3", "sev4"), (5, 20, 50, 25))[0],
            "started_at": started,
            "detected_at": detected,
            "mitigated_at": mitigated,
            "resolved_at": resolved,
            "created_at": created,
            "complexity": rng.randint(1, 5),
            "coupling": rng.randint(1, 5),
            "restricted": rng.random() < 0.02,
            "patterns": links,
            "shapes": shapes,
            "components": comp_idx,
            "actions": actions,
            "text_only": text_only.slug if text_only else None,
        }

    def question(self) -> str:
        """A bot's free-text question during an incident: short, with none, one or two
        mechanism phrases, components and symptoms."""
        rng = self.rng
        comps = [self.component_names[i] for i in self._distinct(self.component_cum, 2)]
        parts = [f"{comps[0]} is showing {rng.choice(SYMPTOMS)} in {rng.choice(REGIONS)}"]
        for _ in range(rng.choice((0, 1, 1, 2))):
            pattern = self.patterns[self._weighted(self.pattern_cum)]
            parts.append(f"looks like {rng.choice(pattern.phrases)}")
        parts.append(f"{comps[1]} {rng.choice(VERBS)} too, {rng.choice(METRICS)} is up")
        return ", ".join(parts) + ". Have we seen this before?"


# --- writing -------------------------------------------------------------------------------


def _front_matter(pk: int, spec: dict, components: list[str]) -> str:
    lines = [
        "---",
        f"id: {pk}",
        f"title: {json.dumps(spec['title'])}",
        f"status: {spec['status']}",
        f"severity: {spec['severity']}",
        f"started_at: {spec['started_at'].isoformat()}",
        f"shapes: [{', '.join(spec['shapes'])}]",
        f"patterns: [{', '.join(slug for slug, _ in spec['patterns'])}]",
        f"components: [{', '.join(components)}]",
    ]
    if spec["restricted"]:
        lines.append("restricted_to: security")
    lines.append("---")
    return "\n".join(lines)


def write_markdown(directory: Path, pk: int, spec: dict, components: list[str]) -> None:
    body = f"{_front_matter(pk, spec, components)}\n\n# {spec['title']}\n\n{spec['summary']}\n"
    (directory / f"{pk:07d}.md").write_text(body)


def search_index_sql() -> tuple[str, str]:
    """The CREATE and DROP of the full-text GIN index, from the migration that owns it.

    Migration 0006 adds the stored vector and its index in one statement list; only the
    index lines are taken, so that the column stays and is computed on each insert.
    """
    migration = importlib.import_module("incidents.migrations.0006_stored_search_vector")
    create = next(line for line in migration.ADD.splitlines() if "CREATE INDEX" in line)
    drop = next(line for line in migration.REMOVE.splitlines() if "DROP INDEX" in line)
    return create, drop


def load(n: int, *, batch: int, markdown_dir: Path | None, seed: int) -> dict:
    """Write n incidents with all their parts; returns timings."""
    from django.contrib.auth.models import Group
    from django.db import connection, transaction
    from django.utils.text import slugify
    from tqdm import tqdm

    from incidents.models import ActionItem, Component, Incident, PatternLink
    from taxonomy.models import EmergentShape, LeverageLevel, StructuralPattern

    gen = Generator(seed)
    timings: dict[str, float] = {}
    pattern_ids = dict(StructuralPattern.objects.values_list("slug", "id"))
    missing = {p.slug for p in gen.patterns} - set(pattern_ids)
    if missing:
        raise SystemExit(f"patterns in the catalogue files but not in the database: {missing}")
    shape_ids = dict(EmergentShape.objects.values_list("slug", "id"))
    level_ids = dict(LeverageLevel.objects.values_list("slug", "id"))
    security, _ = Group.objects.get_or_create(name="security")

    t0 = time.perf_counter()
    components = Component.objects.bulk_create(
        [Component(name=name, slug=slugify(name)) for name in gen.component_names],
        batch_size=2000,
    )
    comp_ids = [c.pk for c in components]
    Edge = Component.depends_on.through
    Edge.objects.bulk_create(
        [
            Edge(from_component_id=comp_ids[a], to_component_id=comp_ids[b])
            for a, b in gen.dependencies()
        ],
        batch_size=5000,
    )
    timings["components_s"] = time.perf_counter() - t0

    create_index, drop_index = search_index_sql()
    with connection.cursor() as cursor:
        cursor.execute(drop_index)

    ShapeLink = Incident.shapes.through
    ComponentLink = Incident.components.through
    if markdown_dir:
        markdown_dir.mkdir(parents=True, exist_ok=True)
    text_bytes = 0
    gen_seconds = 0.0
    t0 = time.perf_counter()
    with tqdm(total=n, desc="incidents", unit="inc", smoothing=0.05) as bar:
        for start in range(0, n, batch):
            g0 = time.perf_counter()
            specs = [gen.incident() for _ in range(min(batch, n - start))]
            gen_seconds += time.perf_counter() - g0
            with transaction.atomic():
                incidents = Incident.objects.bulk_create(
                    [
                        Incident(
                            title=s["title"],
                            summary=s["summary"],
                            impact=s["impact"],
                            status=s["status"],
                            severity=s["severity"],
                            started_at=s["started_at"],
                            detected_at=s["detected_at"],
                            mitigated_at=s["mitigated_at"],
                            resolved_at=s["resolved_at"],
                            complexity=s["complexity"],
                            coupling=s["coupling"],
                            restricted_to=security if s["restricted"] else None,
                            created_at=s["created_at"],
                            analysis_requested_at=s["created_at"],
                        )
                        for s in specs
                    ]
                )
                shapes, comps, links, actions = [], [], [], []
                for incident, s in zip(incidents, specs, strict=True):
                    shapes += [
                        ShapeLink(incident_id=incident.pk, emergentshape_id=shape_ids[slug])
                        for slug in s["shapes"]
                    ]
                    comps += [
                        ComponentLink(incident_id=incident.pk, component_id=comp_ids[i])
                        for i in s["components"]
                    ]
                    links += [
                        PatternLink(
                            incident_id=incident.pk,
                            pattern_id=pattern_ids[slug],
                            rationale=why,
                            created_at=s["created_at"],
                        )
                        for slug, why in s["patterns"]
                    ]
                    actions += [
                        ActionItem(
                            incident_id=incident.pk,
                            title=a["title"][:300],
                            owner=a["owner"],
                            status=a["status"],
                            kind=a["kind"],
                            leverage_level_id=level_ids.get(a["level"]),
                            pattern_id=pattern_ids[a["pattern"]] if a["pattern"] else None,
                            due=a["due"],
                            completed_at=a["completed_at"],
                        )
                        for a in s["actions"]
                    ]
                    text_bytes += len(s["summary"].encode())
                ShapeLink.objects.bulk_create(shapes, batch_size=5000)
                ComponentLink.objects.bulk_create(comps, batch_size=5000)
                PatternLink.objects.bulk_create(links, batch_size=5000)
                ActionItem.objects.bulk_create(actions, batch_size=5000)
            if markdown_dir:
                for incident, s in zip(incidents, specs, strict=True):
                    names = [gen.component_names[i] for i in s["components"]]
                    write_markdown(markdown_dir, incident.pk, s, names)
            bar.update(len(specs))
    timings["incidents_s"] = time.perf_counter() - t0
    timings["of_which_text_generation_s"] = gen_seconds

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(create_index)
    timings["search_index_s"] = time.perf_counter() - t0
    return {"timings": timings, "summary_bytes_mean": round(text_bytes / max(n, 1))}


def vacuum_analyse() -> float:
    from django.db import connection

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return time.perf_counter() - t0


def recompute() -> dict:
    """Run the nightly full recompute, timed, with a progress bar."""
    from tqdm import tqdm

    from incidents.analysis.recurrence import recompute_all

    def progress(it, total):
        return tqdm(it, total=total, desc="recompute_all (score chunks)", unit="chunk")

    t0 = time.perf_counter()
    structures = recompute_all(progress=progress)
    return {"recompute_all_s": time.perf_counter() - t0, "structures": structures}


TABLES = ["incidents_incident", "incidents_patternlink", "incidents_actionitem",
          "incidents_incident_shapes", "incidents_incident_components", "incidents_component",
          "incidents_component_depends_on", "incidents_patternscore",
          "incidents_recurringstructure", "incidents_recurrencemembership"]  # fmt: skip


def counts() -> dict[str, int]:
    from django.db import connection

    out = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"SELECT count(*) FROM {table}")
            out[table] = cursor.fetchone()[0]
        cursor.execute("SELECT pg_database_size(current_database())")
        out["database_bytes"] = cursor.fetchone()[0]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fill a database with synthetic reviews.")
    parser.add_argument("--incidents", type=int, required=True, help="How many to generate.")
    parser.add_argument("--reset", action="store_true", help="Drop and recreate the database.")
    parser.add_argument("--markdown-dir", type=Path, help="Also write each review as Markdown.")
    parser.add_argument("--database-url", help="Default: $DATABASE_URL, else seams_bench.")
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--skip-recompute", action="store_true")
    args = parser.parse_args(argv)

    url = database_url(args.database_url)
    name = database_name(url)
    created = ensure_database(url, reset=args.reset)
    print(f"database {name}: {'created' if created else 'exists'}; migrating", flush=True)
    t0 = time.perf_counter()
    migrate(url)
    migrate_s = time.perf_counter() - t0
    setup_django(url)

    from incidents.models import Incident

    existing = Incident.objects.count()
    if existing:
        raise SystemExit(f"{name} already holds {existing} incidents; use --reset to regenerate")
    result: dict = {"database": name, "incidents": args.incidents, "seed": args.seed}
    result["machine"] = machine()
    t_all = time.perf_counter()
    loaded = load(args.incidents, batch=args.batch, markdown_dir=args.markdown_dir, seed=args.seed)
    result.update(loaded)
    result["timings"]["migrate_s"] = migrate_s
    result["timings"]["vacuum_analyse_s"] = vacuum_analyse()
    result["timings"]["generation_total_s"] = time.perf_counter() - t_all
    if not args.skip_recompute:
        rc = recompute()
        result["timings"]["recompute_all_s"] = rc["recompute_all_s"]
        result["structures"] = rc["structures"]
        result["timings"]["vacuum_analyse_after_recompute_s"] = vacuum_analyse()
    result["max_rss_mb"] = round(max_rss_mb(), 1)
    result["counts"] = counts()
    if args.markdown_dir:
        result["markdown_dir"] = str(args.markdown_dir)
    path = save_result(f"generate-{name}", result)
    print(json.dumps(result, indent=2, default=str))
    print(f"written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
