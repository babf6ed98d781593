"""Measure Seams' similar-incident search on real public post-mortems.

Run with `make eval-similarity`, or directly:

    .venv/bin/python bench/similarity/evaluate.py --corpus ../shared/corpora/icco-postmortems/data

What it does, in a throw-away SQLite database (the project's own database is never touched):

1. migrates (which loads the shipped catalogue), imports the corpus folder with
   `incidents.importers.import_folder`, and runs `incidents.analysis.recurrence.recompute_all`,
   exactly as `import_postmortems` and the nightly job would;
2. for every incident in a labelled group of `labels.json`, asks with its title and summary,
   then with its whole review (the incident itself and known duplicate copies of it are
   excluded from the results), ranking the archive with
   - **Seams**: `similarity.retrieval.ask`, what `POST /api/v1/similar/` answers, across
     organisations and again with `scope=organisation` ("has this happened to us?");
   - **TF-IDF** and **BM25**: plain baselines computed here over the whole reviews, English
     stop words removed, no catalogue;
   - **MiniLM-L6** sentence embeddings (`embedding_model.py`), when the optional extra
     `requirements-embeddings.txt` is installed;
   and records the first three patterns of Seams' answer against the true ones: the group's,
   and those the labels give the query's own write-up (`write_up_patterns`, where a set has
   them); a query with no true pattern is left out of that figure. Beside it, the same figure
   for a constant answer: the three patterns the tuning corpus's labels name most often
   (`labels.json`, each group's patterns counted once per member), offered for every question
   whatever it says. Labels lean towards a few patterns, so a suggestion is worth something
   only where it beats that list;
3. every query is company-blind: the query's own company and product names (and obvious
   variants: AWS for Amazon, us-east-1, amazonaws.com), and every other company name of the
   corpus, are removed from the query text, so no method can lean on them;
4. scores the top 5 against the labels:
   - recall@5: share of the other members of the query's group found in the top 5;
   - hit@5: at least one other member in the top 5;
   - xhit@5: at least one member *from another company* in the top 5 (the case text
     similarity is bad at, and the one Seams exists for);
   - precision@5: share of the 5 results that are in the query's group;
   - same-co@5: share of the 5 results that are merely the same company (not in the group);
   - distractor@5: for labelled same-company pairs with different mechanisms, how often one
     appears in the other's top 5 (lower is better).

Every figure is given for all groups and for the dev and test halves of the groups (`split` in
labels.json): the method was tuned on dev only; test shows whether that generalises.

Prints a Markdown table; `--json PATH` also writes every figure, per group and per query.
`--match-terms FILE` (JSON: slug → phrases) and `--set NAME=VALUE` (a constant of
`incidents.analysis.similarity`) run the same evaluation with another catalogue vocabulary or
another constant, for ablations.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
K = 5
METRICS = ["recall", "hit", "xhit", "precision", "same_co"]
TUNABLE = {"STRUCTURE_WEIGHT", "PHRASE_SHARE", "PHRASE_SATURATION", "PHRASE_WORDS_CAP"}

# --- company-blind masking ---------------------------------------------------------------

# Other names an organisation goes by in write-ups; the corpus' own `company` and `product`
# values are used as well. Keys are canonical company keys (see canonical_company).
COMPANY_VARIANTS = {
    "amazon": ["AWS", "Amazon Web Services"],
    "google": ["GCP", "Google Cloud Platform", "Google Cloud", "GCE", "GKE"],
    "microsoft": ["Azure", "Windows Azure"],
    "github": ["GitHub.com"],
    "gitlab": ["GitLab.com"],
    "stackexchange": ["Stack Overflow", "StackOverflow", "StackExchange", "StackEgg"],
    "travisci": ["Travis CI", "TravisCI", "Travis"],
    "facebook": ["Instagram", "WhatsApp"],
    "knightcapital": ["Knight"],
    "rustlang": ["crates.io", "Rust"],
    "ccpgames": ["CCP", "EVE Online", "EVE"],
    "epicgames": ["Fortnite"],
    "firstenergygeneralelectric": ["FirstEnergy", "General Electric", "GE"],
    "atomicenergyofcanadalimitedaecl": ["AECL", "Therac-25", "Therac"],
    "europeanspaceagency": ["ESA", "Ariane 5", "Ariane"],
    "nasa": ["JPL"],
    "roscosmosglonass": ["Roscosmos", "GLONASS"],
    "enom": ["Tucows"],
    "broadcomcatechnologies": ["Broadcom", "CA Technologies", "Flowdock"],
    "kingscollegelondon": ["King's College London", "KCL"],
    "atlassian": ["Jira", "Confluence"],
    "zerodha": ["Refinitiv"],
}
# The same organisation under two spellings in the corpus.
COMPANY_ALIASES = {
    "azure": "microsoft",
    "stackoverflow": "stackexchange",
    "uscanadapowersystemoutagetaskforce": "firstenergygeneralelectric",
}
# Words a product name may contain that describe a mechanism rather than name a product.
GENERIC = frozenset(
    re.findall(
        r"\S+",
        """api apis dns database databases db network networks networking jobs job workflows
        workflow worker workers storage search cluster clusters dashboard ui sms website
        platform system systems service services cache caching region regions builds build
        queue queues cloud edge backbone control plane analytics data load balancer balancing
        balancers management engine free tier git server servers authentication user users
        application app apps core runtime pool connection infrastructure internal blob volume
        file email routing protocol messaging distribution execution id generation incident
        capacity the and of for on in with web global long distance grid grids line enterprise
        environment production""",
    )
)
# Cloud region names point at one provider as surely as its name does.
REGION = re.compile(
    r"(?<![\w-])(?:(?:us|eu|ap|sa|ca|me|af)-(?:gov-)?(?:north|south|east|west|central)"
    r"(?:east|west)?-\d|(?:us|europe|asia|australia|northamerica|southamerica)-"
    r"(?:north|south|east|west|central)(?:east|west)?\d(?:-[a-f])?)(?![\w-])",
    re.I,
)


def canonical_company(name: str | None) -> str:
    key = re.sub(r"[^a-z0-9]", "", (name or "").lower())
    return COMPANY_ALIASES.get(key, key)


def _parts(value: str) -> list[str]:
    return [p.strip(" .-") for p in re.split(r"[,/()]| and ", value or "") if p.strip(" .-")]


def _names(company: str) -> set[str]:
    names = {company.strip(), *_parts(company)}
    names.update(COMPANY_VARIANTS.get(canonical_company(company), []))
    return {n for n in names if n}


def blind(text: str, company: str, product: str, other_companies: list[str]) -> str:
    """`text` without the names that identify who wrote it or what it is about.

    The query's own company (with its variants, also inside longer tokens such as
    amazonaws.com) and product are removed whatever their case; single words of the product
    name and other companies' names only where written as names (capitalised), so ordinary
    words that happen to be a name elsewhere ("an order", "slack", "square") survive.
    """
    own = _names(company)
    words: set[str] = set()  # single capitalised words of the product name
    for part in _parts(product):
        tokens = re.findall(r"[\w.+-]+", part)
        if any(t.lower() not in GENERIC for t in tokens):
            own.add(part)
        words.update(t for t in tokens if t[:1].isupper() and t.lower() not in GENERIC)
    for name in sorted(own, key=len, reverse=True):
        edge = r"[\w.-]*" if len(name) >= 5 else ""
        text = re.sub(
            rf"(?<![\w]){edge}{re.escape(name)}{edge}(?:['’]s)?(?![\w])", " ", text, flags=re.I
        )
    others = {n for c in other_companies for n in _names(c) if n[:1].isupper()} | words
    for name in sorted(others - own, key=len, reverse=True):
        text = re.sub(rf"(?<![\w.]){re.escape(name)}(?:['’]s)?(?![\w])", " ", text)
    text = REGION.sub(" ", text)
    return re.sub(r"[ \t]+", " ", text).strip()


# --- plain TF-IDF baseline ----------------------------------------------------------------

ENGLISH_STOP = frozenset(
    re.findall(
        r"\S+",
        """a about above after again against all also am an and any are as at be because been
        before being below between both but by can could did do does doing down during each
        few for from further had has have having he her here hers him his how i if in into is
        it its itself just me more most my no nor not now of off on once only or other our
        ours out over own same she should so some such than that the their theirs them then
        there these they this those through to too under until up very was we were what when
        where which while who whom why will with would you your""",
    )
)


def tokens(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in ENGLISH_STOP]


class TfIdf:
    """Cosine similarity of TF-IDF vectors (smoothed idf, l2-normalised), pure Python."""

    def __init__(self, docs: dict[int, str]):
        df: dict[str, int] = defaultdict(int)
        counts = {pk: self._counts(tokens(text)) for pk, text in docs.items()}
        for c in counts.values():
            for w in c:
                df[w] += 1
        n = len(docs)
        self.idf = {w: math.log((1 + n) / (1 + c)) + 1 for w, c in df.items()}
        self.vectors = {pk: self._vector(c) for pk, c in counts.items()}

    @staticmethod
    def _counts(words: list[str]) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for w in words:
            counts[w] += 1
        return counts

    def _vector(self, counts: dict[str, int]) -> dict[str, float]:
        vec = {w: c * self.idf[w] for w, c in counts.items() if w in self.idf}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {w: v / norm for w, v in vec.items()}

    def rank(self, text: str, exclude: set[int], k: int) -> list[int]:
        q = self._vector(self._counts(tokens(text)))
        scored = []
        for pk, vec in self.vectors.items():
            if pk not in exclude:
                s = sum(v * vec.get(w, 0.0) for w, v in q.items())
                if s > 0:
                    scored.append((-s, pk))
        scored.sort()
        return [pk for _, pk in scored[:k]]


# --- setup --------------------------------------------------------------------------------


def setup_django(db_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["DEBUG"] = "1"
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.pop("REDIS_URL", None)  # jobs run in-process; no broker needed
    import django

    django.setup()
    logging.getLogger("kombu").setLevel(logging.ERROR)  # in-memory broker, nothing to say


def front_matter(corpus: Path) -> dict[str, dict]:
    """uuid → {company, product} straight from the files (the importer keeps them as
    components, which merge spellings; the evaluation wants the source's own words)."""
    import yaml

    from incidents.importers import _FRONT_MATTER

    out = {}
    for path in sorted(corpus.rglob("*.md")):
        match = _FRONT_MATTER.match(path.read_text(encoding="utf-8", errors="replace"))
        if not match:
            continue
        try:
            meta = yaml.safe_load(match.group(1))
        except yaml.YAMLError:
            continue
        if isinstance(meta, dict) and meta.get("uuid"):
            out[str(meta["uuid"])] = {
                "company": str(meta.get("company") or ""),
                "product": str(meta.get("product") or ""),
            }
    return out


def apply_overrides(match_terms: Path | None, settings: list[str]) -> None:
    """Replace the catalogue's match_terms and/or similarity constants for this run only."""
    from incidents.analysis import similarity
    from taxonomy.models import StructuralPattern

    for item in settings:
        name, _, value = item.partition("=")
        if name not in TUNABLE:
            raise SystemExit(f"--set: {name!r} is not one of {sorted(TUNABLE)}")
        setattr(similarity, name, type(getattr(similarity, name))(float(value)))
    if match_terms:
        terms = json.loads(match_terms.read_text())
        for pattern in StructuralPattern.objects.filter(slug__in=terms):
            pattern.entry = {**pattern.entry, "match_terms": terms[pattern.slug]}
            pattern.save(update_fields=["entry"])
    similarity._pattern_phrases.cache_clear()


# --- more baselines ------------------------------------------------------------------------


class Bm25:
    """Okapi BM25 (k1 1.2, b 0.75) over the same documents, pure Python, no catalogue."""

    def __init__(self, docs: dict[int, str], k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        self.tf = {pk: self._counts(tokens(text)) for pk, text in docs.items()}
        self.length = {pk: sum(c.values()) for pk, c in self.tf.items()}
        self.avg = sum(self.length.values()) / max(1, len(self.length))
        df: dict[str, int] = defaultdict(int)
        for c in self.tf.values():
            for w in c:
                df[w] += 1
        n = len(docs)
        self.idf = {w: math.log(1 + (n - d + 0.5) / (d + 0.5)) for w, d in df.items()}
        self.postings: dict[str, list[int]] = defaultdict(list)
        for pk, c in self.tf.items():
            for w in c:
                self.postings[w].append(pk)

    _counts = staticmethod(TfIdf._counts)

    def rank(self, text: str, exclude: set[int], k: int) -> list[int]:
        scores: dict[int, float] = defaultdict(float)
        for w in set(tokens(text)):
            for pk in self.postings.get(w, ()):
                tf = self.tf[pk][w]
                norm = 1 - self.b + self.b * self.length[pk] / self.avg
                scores[pk] += self.idf[w] * tf * (self.k1 + 1) / (tf + self.k1 * norm)
        ranked = sorted((-s, pk) for pk, s in scores.items() if pk not in exclude)
        return [pk for _, pk in ranked[:k]]


class Embeddings:
    """The sentence-embedding model alone (optional: `requirements-embeddings.txt`)."""

    def __init__(self, docs: dict[int, str]):
        sys.path.insert(0, str(HERE))
        import embedding_model

        self.model = embedding_model
        self.ids = list(docs)
        self.matrix = embedding_model.encode([docs[pk] for pk in self.ids])

    @staticmethod
    def available() -> bool:
        sys.path.insert(0, str(HERE))
        try:
            import embedding_model
        except ImportError:
            return False
        return embedding_model.available()

    def rank(self, text: str, exclude: set[int], k: int) -> list[int]:
        query = self.model.encode([text])[0]
        top = self.model.cosine_top(query, self.matrix, k + len(exclude))
        return [self.ids[i] for i, _ in top if self.ids[i] not in exclude][:k]


# --- scoring ------------------------------------------------------------------------------


def score_query(
    ranked: list[int], query: int, group: set[int], company_of: dict[int, str]
) -> dict[str, float | None]:
    """Figures for one query's top K against its group (see the module docstring)."""
    others = group - {query}
    top = ranked[:K]
    hits = [pk for pk in top if pk in others]
    own = company_of[query]
    elsewhere = {pk for pk in others if company_of[pk] != own}
    return {
        "recall": len(hits) / len(others),
        "hit": 1.0 if hits else 0.0,
        # Only defined when the group has a member from another company.
        "xhit": (1.0 if any(pk in elsewhere for pk in hits) else 0.0) if elsewhere else None,
        "precision": len(hits) / K,
        "same_co": sum(1 for pk in top if pk not in others and company_of[pk] == own) / K,
    }


def most_labelled_patterns(labels_path: Path = HERE / "labels.json", n: int = 3) -> list[str]:
    """The `n` patterns the tuning corpus's labels name most often (a group's patterns once
    per member; ties by name): the constant answer pattern suggestions are compared with."""
    counts: dict[str, int] = defaultdict(int)
    for group in json.loads(labels_path.read_text())["groups"]:
        for slug in group.get("patterns", []):
            counts[slug] += len(group["members"])
    return sorted(counts, key=lambda slug: (-counts[slug], slug))[:n]


def mean(rows: list[dict], key: str) -> float:
    values = [r[key] for r in rows if r.get(key) is not None]
    return sum(values) / len(values) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True, type=Path, help="folder of Markdown files")
    parser.add_argument("--labels", type=Path, default=HERE / "labels.json")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--match-terms", type=Path, help="JSON slug → phrases, for ablations")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument(
        "--no-embeddings", action="store_true", help="skip the embedding model baseline"
    )
    parser.add_argument("--split", default="all", help="only groups of this split (dev, test…)")
    args = parser.parse_args(argv)
    labels = json.loads(args.labels.read_text())
    with tempfile.TemporaryDirectory(prefix="seams-eval-") as tmp:
        setup_django(Path(tmp) / "eval.sqlite3")
        return run(args.corpus.resolve(), labels, args)


def prepare(corpus: Path, args) -> dict:
    """Import the corpus into the throw-away database and analyse it."""
    from django.core.management import call_command

    from incidents.analysis.recurrence import recompute_all
    from incidents.importers import import_folder

    timings = {}
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    apply_overrides(args.match_terms, args.set)
    report = import_folder(corpus)
    timings["import_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    structures = recompute_all()
    timings["recompute_s"] = round(time.perf_counter() - started, 1)
    print(f"Imported {corpus.name}: {report.summary()}; {structures} recurring structures.")
    return {"timings": timings, "report": report.summary()}


def run(corpus: Path, labels: dict, args) -> int:
    from incidents.models import Incident
    from similarity.retrieval import ask

    state = prepare(corpus, args)
    timings = state["timings"]
    meta = front_matter(corpus)
    by_uuid = dict(Incident.objects.exclude(external_id=None).values_list("external_id", "pk"))
    uuid_of = {pk: u for u, pk in by_uuid.items()}
    rows_ = Incident.objects.values_list("pk", "title", "summary", "narrative")
    short = {pk: f"{title}\n{summary}" for pk, title, summary, _ in rows_}
    whole = {pk: f"{title}\n{summary}\n{narrative}" for pk, title, summary, narrative in rows_}
    company_of = {pk: f"unknown-{pk}" for pk in short}
    company_of.update(
        {pk: canonical_company(meta.get(u, {}).get("company")) for u, pk in by_uuid.items()}
    )
    organisation_of = dict(Incident.objects.values_list("pk", "organisation"))
    companies = sorted({m["company"] for m in meta.values() if m["company"]})

    dup_of: dict[int, set[int]] = defaultdict(set)
    for a, b in labels.get("duplicates", []):
        if a in by_uuid and b in by_uuid:
            dup_of[by_uuid[a]].add(by_uuid[b])
            dup_of[by_uuid[b]].add(by_uuid[a])

    started = time.perf_counter()
    baselines = {"tfidf": TfIdf(whole), "bm25": Bm25(whole)}
    if not args.no_embeddings and Embeddings.available():
        baselines["embedding"] = Embeddings(whole)
    timings["baselines_s"] = round(time.perf_counter() - started, 1)
    visible = Incident.objects.all()
    query_times: list[float] = []

    def query_text(pk: int, mode: str) -> str:
        source = meta.get(uuid_of.get(pk, ""), {})
        text = short[pk] if mode == "short" else whole[pk]
        return blind(text, source.get("company", ""), source.get("product", ""), companies)

    def ranked(method: str, pk: int, text: str) -> list[int]:
        exclude = {pk} | dup_of[pk]
        if method in baselines:
            return baselines[method].rank(text, exclude, K)
        scope = "organisation" if method == "seams-us" else "anywhere"
        t0 = time.perf_counter()
        answer = ask(
            text=text,
            visible=visible,
            reader_groups=None,
            scope=scope,
            organisation=organisation_of[pk],
            exclude=frozenset(exclude),
            limit=K,
        )
        query_times.append(time.perf_counter() - t0)
        confidences.append((answer.results, pk))
        if method == "seams":
            offered[0] = [p.slug for p in answer.patterns]
        return [r.incident.pk for r in answer.results]

    methods = ["seams", *baselines, "seams-us"]
    modes = ["short", "whole"]
    rows: dict[tuple[str, str], list[dict]] = defaultdict(list)
    confidences: list = []
    offered: list[list[str]] = [[]]  # the patterns of the last "seams" answer
    calibration: list[tuple[float, str, bool]] = []
    pattern_rows: dict[str, list[float]] = defaultdict(list)
    constant = most_labelled_patterns()
    constant_rows: list[float] = []
    groups = [g for g in labels["groups"] if args.split in ("all", g.get("split"))]
    same_org_groups = labels.get("same_organisation", [])
    started = time.perf_counter()
    for group in groups + same_org_groups:
        members = {by_uuid[m["uuid"]] for m in group["members"] if m["uuid"] in by_uuid}
        if len(members) < 2:
            continue
        kind = "same-organisation" if group in same_org_groups else "group"
        for pk in sorted(members):
            for mode in modes:
                text = query_text(pk, mode)
                for method in methods:
                    confidences.clear()
                    top = ranked(method, pk, text)
                    row = score_query(top, pk, members, company_of)
                    own = company_of[pk]
                    same = {m for m in members - {pk} if company_of[m] == own}
                    row["same_org_hit"] = (1.0 if same & set(top) else 0.0) if same else None
                    row.update(group=group["id"], kind=kind, split=group.get("split", "dev"))
                    row["uuid"] = uuid_of[pk]
                    row["top"] = [uuid_of.get(r, str(r)) for r in top]
                    rows[(method, mode)].append(row)
                    if method == "seams" and kind == "group":
                        # The patterns the answer offers (what `POST /similar/` returns).
                        # A true pattern is one of the group's, or one the labels say the
                        # query's own write-up shows (`write_up_patterns`, where given).
                        truth = set(group.get("patterns", [])) | set(
                            labels.get("write_up_patterns", {}).get(uuid_of[pk], [])
                        )
                        hit = truth & set(offered[0][:3])
                        if truth:  # a query with no labelled pattern cannot be judged
                            pattern_rows[mode].append(1.0 if hit else 0.0)
                            if mode == "short":  # the constant answer ignores the question
                                constant_rows.append(1.0 if truth & set(constant) else 0.0)
                        row["patterns"] = offered[0][:5]
                        row["true_patterns"] = sorted(truth)
                        for result, _ in confidences[:1]:
                            for r in result:
                                calibration.append(
                                    (r.score, r.confidence, r.incident.pk in members)
                                )
    timings["queries_s"] = round(time.perf_counter() - started, 1)
    query_times.sort()
    timings["seams_query_p50_ms"] = round(1000 * query_times[len(query_times) // 2], 1)

    names = {
        "seams": "Seams", "seams-us": "Seams, scope organisation", "tfidf": "TF-IDF",
        "bm25": "BM25", "embedding": "MiniLM-L6 embedding",
    }  # fmt: skip
    lines = [
        f"Corpus {corpus.name}: {len(groups)} groups ({args.split}), "
        f"{len(same_org_groups)} same-organisation groups; queries company-blind.",
        "",
        "| Method | Query | n | xhit@5 | recall@5 | hit@5 | same-org hit@5 | precision@5 "
        "| same-co@5 |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    results = {"timings": timings, "import": state["report"], "table": [], "queries": {}}
    for method in methods:
        for mode in modes:
            data = rows[(method, mode)]
            grouped = [r for r in data if r["kind"] == "group"]
            figures = {
                "xhit": mean(grouped, "xhit"),
                "recall": mean(grouped, "recall"),
                "hit": mean(grouped, "hit"),
                "same_org_hit": mean(data, "same_org_hit"),
                "precision": mean(grouped, "precision"),
                "same_co": mean(grouped, "same_co"),
            }
            n = len(grouped)
            results["table"].append({"method": method, "query": mode, "n": n} | figures)
            results["queries"][f"{method}/{mode}"] = data
            label = "title+summary" if mode == "short" else "whole review"
            lines.append(
                f"| {names[method]} | {label} | {n} | "
                + " | ".join("–" if math.isnan(v) else f"{v:.2f}" for v in figures.values())
                + " |"
            )
    lines += ["", "A true pattern among Seams' top 3 suggested patterns:"]
    for mode in modes:
        values = pattern_rows[mode]
        label = "title+summary" if mode == "short" else "whole review"
        if values:
            lines.append(f"- {label}: {sum(values) / len(values):.2f} (n={len(values)})")
    if constant_rows:
        lines.append(
            f"- the same three for every question ({', '.join(constant)}, the tuning corpus's "
            f"most labelled): {sum(constant_rows) / len(constant_rows):.2f} "
            f"(n={len(constant_rows)})"
        )
    # distractor@5: same-company pairs with different mechanisms, each asked about the other.
    pairs = [
        (by_uuid[d["a"]], by_uuid[d["b"]])
        for d in labels.get("distractors", [])
        if d["a"] in by_uuid and d["b"] in by_uuid
    ]
    if pairs:
        lines += ["", "distractor@5 (a same-company review with another mechanism in the top 5;"]
        lines += ["lower is better), both directions of each labelled pair:", ""]
        lines += ["| Method | title+summary | whole review |", "|---|--:|--:|"]
        results["distractor"] = {}
        for method in methods:
            row = []
            for mode in modes:
                found = [
                    1.0 if other in ranked(method, pk, query_text(pk, mode)) else 0.0
                    for a, b in pairs
                    for pk, other in ((a, b), (b, a))
                ]
                results["distractor"][f"{method}/{mode}"] = sum(found) / len(found)
                row.append(f"{sum(found) / len(found):.2f}")
            lines.append(f"| {names[method]} | {' | '.join(row)} |")
    lines += ["", "Confidence levels (Seams, every result in the top 5, both query kinds):", ""]
    lines += ["| Level | results | in the query's group (precision) |", "|---|--:|--:|"]
    results["calibration"] = calibration
    results["pattern_top3"] = {
        **{mode: sum(v) / len(v) for mode, v in pattern_rows.items() if v},
        "constant": sum(constant_rows) / len(constant_rows) if constant_rows else None,
        "constant_patterns": constant,
    }
    for name in ("strong", "possible", "weak"):
        subset = [hit for _, lvl, hit in calibration if lvl == name]
        precision = f"{sum(subset) / len(subset):.2f}" if subset else "–"
        lines.append(f"| {name} | {len(subset)} | {precision} |")
    lines += [
        "",
        f"Import {timings['import_s']} s, recompute {timings['recompute_s']} s, baselines "
        f"{timings['baselines_s']} s, queries {timings['queries_s']} s (Seams median "
        f"{timings['seams_query_p50_ms']} ms per query, SQLite).",
    ]
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
        print(f"Wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
