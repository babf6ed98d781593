"""Measure Seams' similar-incident search on real public post-mortems.

Run with `make eval-similarity`, or directly:

    .venv/bin/python bench/similarity/evaluate.py --corpus ../shared/corpora/icco-postmortems/data

What it does, in a throw-away SQLite database (the project's own database is never touched):

1. migrates (which loads the shipped catalogue), imports the corpus folder with
   `incidents.importers.import_folder`, and runs `incidents.analysis.recurrence.recompute_all`,
   exactly as `import_postmortems` and the nightly job would;
2. for every incident in a labelled group of `labels.json`, uses its title and summary as the
   query (the incident itself and known duplicate copies of it are excluded from the results)
   and ranks the archive with
   - **Seams**: `incidents.analysis.similarity.similar_to` (structural bridge through the
     catalogue, re-ranked with lexical similarity);
   - **TF-IDF**: a plain baseline computed here — cosine of TF-IDF vectors of title+summary over
     the whole archive, English stop words removed, no catalogue;
   - **Seams (stored)**: `similar_to_incident`, what `GET /api/v1/incidents/{id}/similar/`
     returns — it starts from the pattern scores stored for the incident (from its whole text),
     so it is reported for reference and has no company-blind variant;
3. repeats the first two "company-blind": the query's own company and product names (and
   obvious variants: AWS for Amazon, us-east-1, amazonaws.com), and every other company name
   of the corpus, are removed from the query text, so no method can lean on them;
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


# --- scoring ------------------------------------------------------------------------------


def score_query(ranked: list[int], query: int, group: set[int], company_of: dict[int, str]):
    others = group - {query}
    top = ranked[:K]
    hits = [pk for pk in top if pk in others]
    own = company_of[query]
    return {
        "recall": len(hits) / len(others),
        "hit": 1.0 if hits else 0.0,
        "xhit": 1.0 if any(company_of[pk] != own for pk in hits) else 0.0,
        "precision": len(hits) / K,
        "same_co": sum(1 for pk in top if pk not in others and company_of[pk] == own) / K,
    }


def mean(rows: list[dict], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows) if rows else float("nan")


def paired_difference(a: list[dict], b: list[dict], split: str, key: str = "recall") -> dict:
    """Per-query difference a − b, with a bootstrap interval that resamples whole groups
    (queries from one group are not independent of each other)."""
    import random

    diffs: dict[str, list[float]] = defaultdict(list)
    for x, y in zip(a, b, strict=True):
        if split in ("all", x["split"]):
            diffs[x["group"]].append(x[key] - y[key])
    flat = [d for ds in diffs.values() for d in ds]
    groups = list(diffs.values())
    rng = random.Random(0)
    means = []
    for _ in range(2000):
        sample = [d for g in rng.choices(groups, k=len(groups)) for d in g]
        means.append(sum(sample) / len(sample))
    means.sort()
    return {
        "wins": sum(1 for d in flat if d > 0),
        "ties": sum(1 for d in flat if d == 0),
        "losses": sum(1 for d in flat if d < 0),
        "mean": round(sum(flat) / len(flat), 3),
        "interval": [round(means[49], 3), round(means[1949], 3)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True, type=Path, help="folder of Markdown files")
    parser.add_argument("--labels", type=Path, default=HERE / "labels.json")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--match-terms", type=Path, help="JSON slug → phrases, for ablations")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    labels = json.loads(args.labels.read_text())
    with tempfile.TemporaryDirectory(prefix="seams-eval-") as tmp:
        setup_django(Path(tmp) / "eval.sqlite3")
        return run(args.corpus.resolve(), labels, args)


def run(corpus: Path, labels: dict, args) -> int:
    from django.core.management import call_command

    from incidents.analysis.recurrence import recompute_all
    from incidents.analysis.similarity import similar_to, similar_to_incident
    from incidents.importers import import_folder
    from incidents.models import Incident

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

    meta = front_matter(corpus)
    by_uuid = dict(Incident.objects.exclude(external_id=None).values_list("external_id", "pk"))
    uuid_of = {pk: u for u, pk in by_uuid.items()}
    rows_ = Incident.objects.values_list("pk", "title", "summary")
    texts = {pk: f"{title}\n{summary}" for pk, title, summary in rows_}
    company_of = {pk: f"unknown-{pk}" for pk in texts}
    company_of.update(
        {pk: canonical_company(meta.get(u, {}).get("company")) for u, pk in by_uuid.items()}
    )
    companies = sorted({m["company"] for m in meta.values() if m["company"]})

    dup_of: dict[int, set[int]] = defaultdict(set)
    for a, b in labels.get("duplicates", []):
        if a in by_uuid and b in by_uuid:
            dup_of[by_uuid[a]].add(by_uuid[b])
            dup_of[by_uuid[b]].add(by_uuid[a])

    tfidf = TfIdf(texts)
    visible = Incident.objects.all()
    query_times: list[float] = []

    def query_text(pk: int, mode: str) -> str:
        if mode == "normal":
            return texts[pk]
        source = meta.get(uuid_of.get(pk, ""), {})
        return blind(texts[pk], source.get("company", ""), source.get("product", ""), companies)

    def ranked(method: str, pk: int, text: str) -> list[int]:
        exclude = {pk} | dup_of[pk]
        if method == "tfidf":
            return tfidf.rank(text, exclude, K)
        if method == "stored":
            _, similar = similar_to_incident(
                incident=Incident.objects.get(pk=pk), visible=visible, limit=K + len(exclude)
            )
            return [r.incident.pk for r in similar if r.incident.pk not in exclude][:K]
        t0 = time.perf_counter()
        found = similar_to(text=text, visible=visible, exclude=frozenset(exclude), limit=K)
        query_times.append(time.perf_counter() - t0)
        return [r.incident.pk for r in found]

    methods = [
        ("seams", "normal"),
        ("tfidf", "normal"),
        ("seams", "blind"),
        ("tfidf", "blind"),
        ("stored", "normal"),
    ]
    rows: dict[tuple[str, str], list[dict]] = defaultdict(list)
    missing = []
    started = time.perf_counter()
    for group in labels["groups"]:
        members = {by_uuid[m["uuid"]] for m in group["members"] if m["uuid"] in by_uuid}
        missing += [m["uuid"] for m in group["members"] if m["uuid"] not in by_uuid]
        if len(members) < 2:
            continue
        for pk in sorted(members):
            for method, mode in methods:
                top = ranked(method, pk, query_text(pk, mode))
                row = score_query(top, pk, members, company_of)
                row.update(group=group["id"], split=group.get("split", "dev"), uuid=uuid_of[pk])
                row["top"] = [uuid_of.get(r, str(r)) for r in top]
                rows[(method, mode)].append(row)
    timings["queries_s"] = round(time.perf_counter() - started, 1)
    query_times.sort()
    timings["seams_query_p50_ms"] = round(1000 * query_times[len(query_times) // 2], 1)

    distractors: dict[tuple[str, str], list[float]] = defaultdict(list)
    for pair in labels.get("distractors", []):
        a, b = by_uuid.get(pair["a"]), by_uuid.get(pair["b"])
        if a is None or b is None:
            continue
        for q, other in ((a, b), (b, a)):
            for method, mode in methods:
                found = ranked(method, q, query_text(q, mode))
                distractors[(method, mode)].append(1.0 if other in found else 0.0)

    results = {
        "k": K,
        "timings": timings,
        "import": report.summary(),
        "overrides": {"match_terms": str(args.match_terms or ""), "set": args.set},
        "missing": missing,
        "table": [],
        "per_group": {},
        "queries": {},
    }
    names = {"seams": "Seams", "tfidf": "TF-IDF", "stored": "Seams (stored)"}
    n_dev = sum(1 for g in labels["groups"] if g.get("split") == "dev")
    lines = [
        f"Groups: {len(labels['groups'])} ({n_dev} dev), "
        f"queries per method: {len(rows[('seams', 'normal')])}, "
        f"distractor pairs: {len(labels.get('distractors', []))}."
        + (f" Overrides: {results['overrides']}." if args.match_terms or args.set else ""),
        "",
        "| Method | Query | Split | n | recall@5 | hit@5 | xhit@5 | precision@5 | same-co@5 "
        "| distractor@5 |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for method, mode in methods:
        data = rows[(method, mode)]
        dis = distractors[(method, mode)]
        for split in ["all", "dev", "test"]:
            subset = [r for r in data if split == "all" or r["split"] == split]
            figures = {m: round(mean(subset, m), 3) for m in METRICS}
            d = round(sum(dis) / len(dis), 3) if (dis and split == "all") else None
            results["table"].append(
                {"method": method, "query": mode, "split": split, "n": len(subset)}
                | figures
                | {"distractor": d}
            )
            query = "company-blind" if mode == "blind" else "title+summary"
            lines.append(
                f"| {names[method]} | {query} | {split} | {len(subset)} | "
                + " | ".join(f"{figures[m]:.2f}" for m in METRICS)
                + f" | {'' if d is None else f'{d:.2f}'} |"
            )
        per_group: dict[str, list[dict]] = defaultdict(list)
        for r in data:
            per_group[r["group"]].append(r)
        results["per_group"][f"{method}/{mode}"] = {
            g: {m: round(mean(rs, m), 3) for m in METRICS} for g, rs in per_group.items()
        }
        results["queries"][f"{method}/{mode}"] = data

    lines += [
        "",
        "Seams minus TF-IDF, recall@5 per query (wins/ties/losses; 95% interval of the mean "
        "difference from 2,000 resamplings of whole groups):",
        "",
        "| Query | Split | wins | ties | losses | mean difference | 95% interval |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for mode in ["normal", "blind"]:
        for split in ["all", "dev", "test"]:
            paired = paired_difference(rows[("seams", mode)], rows[("tfidf", mode)], split)
            results.setdefault("paired", {})[f"{mode}/{split}"] = paired
            query = "company-blind" if mode == "blind" else "title+summary"
            lo, hi = paired["interval"]
            lines.append(
                f"| {query} | {split} | {paired['wins']} | {paired['ties']} | "
                f"{paired['losses']} | {paired['mean']:+.2f} | {lo:+.2f} to {hi:+.2f} |"
            )
    lines += [
        "",
        "Recall@5 per group:",
        "",
        "| Group | split | n | Seams | TF-IDF | Seams blind | TF-IDF blind |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for group in labels["groups"]:
        cells = [
            results["per_group"][f"{m}/{mode}"].get(group["id"], {}).get("recall", math.nan)
            for m, mode in methods[:4]
        ]
        lines.append(
            f"| {group['id']} | {group.get('split')} | {len(group['members'])} | "
            + " | ".join(f"{c:.2f}" for c in cells)
            + " |"
        )
    lines += [
        "",
        f"Import {timings['import_s']} s, recompute {timings['recompute_s']} s, "
        f"queries {timings['queries_s']} s (Seams median {timings['seams_query_p50_ms']} ms "
        "per query, SQLite).",
    ]
    if missing:
        lines.append(f"Labelled incidents not found in the corpus: {len(missing)}.")
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"Wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
