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
     returns — it uses the pattern scores stored for the incident from its whole text, so it is
     reported for reference only and has no company-blind variant;
3. repeats the first two "company-blind": company and product names (and obvious variants such
   as AWS for Amazon) are removed from the query text, so neither method can lean on them;
4. scores the top 5 against the labels:
   - recall@5: share of the other members of the query's group found in the top 5;
   - hit@5: at least one other member in the top 5;
   - xhit@5: at least one member *from another company* in the top 5 (the case text
     similarity is bad at, and the one Seams exists for);
   - precision@5: share of the 5 results that are in the query's group;
   - same-co@5: share of the 5 results that are only the same company (not in the group);
   - distractor@5: for labelled same-company pairs with different mechanisms, how often one
     appears in the other's top 5 (lower is better).

Every figure is given for all groups, and for the dev and test halves of the groups separately
(`split` in labels.json): tuning is done on dev, test shows whether it generalises.

Prints a Markdown table; `--json PATH` also writes every figure, per group and per query.
"""

from __future__ import annotations

import argparse
import json
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

# --- company-blind masking ---------------------------------------------------------------

# Other names the same organisation goes by in write-ups; the corpus' own `company` and
# `product` values are added to these automatically.
COMPANY_VARIANTS = {
    "amazon": ["AWS", "Amazon Web Services"],
    "google": ["GCP", "Google Cloud Platform", "Google Cloud", "GCE", "GKE", "Gmail"],
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
# Same organisation under two spellings in the corpus.
COMPANY_ALIASES = {
    "azure": "microsoft",
    "stackoverflow": "stackexchange",
    "uscanadapowersystemoutagetaskforce": "firstenergygeneralelectric",
}
# Words a product name may contain that describe a mechanism rather than name a product.
GENERIC = set(
    """api apis dns database databases db network networks networking jobs job workflows
    workflow worker workers storage search cluster clusters dashboard ui sms website platform
    system systems service services cache caching region regions builds build queue queues
    cloud edge backbone control plane analytics data load balancer balancing balancers
    management engine free tier git server servers authentication user users application
    app apps core runtime pool connection infrastructure internal blob volume file email
    routing protocol messaging distribution execution id generation incident capacity the
    and of for on in with web global long distance grid grids line enterprise environment
    production""".split()
)


def canonical_company(name: str | None) -> str:
    key = re.sub(r"[^a-z0-9]", "", (name or "").lower())
    return COMPANY_ALIASES.get(key, key)


def _parts(value: str) -> list[str]:
    return [p.strip(" .-") for p in re.split(r"[,/()]| and ", value or "") if p.strip(" .-")]


def mask_terms(companies: list[str], product: str) -> tuple[list[str], list[str]]:
    """(phrases masked case-insensitively, single capitalised words masked as written)."""
    phrases: set[str] = set()
    for company in companies:
        phrases.update(_parts(company))
        phrases.add(company.strip())
        phrases.update(COMPANY_VARIANTS.get(canonical_company(company), []))
    words: set[str] = set()
    for part in _parts(product):
        tokens = re.findall(r"[\w.+-]+", part)
        if any(t.lower() not in GENERIC for t in tokens):
            phrases.add(part)
        for t in tokens:
            if t[:1].isupper() and t.lower() not in GENERIC and len(t) > 2:
                words.add(t)
    return sorted(phrases, key=len, reverse=True), sorted(words, key=len, reverse=True)


def mask(text: str, phrases: list[str], words: list[str]) -> str:
    for phrase in phrases:
        if phrase:
            text = re.sub(
                rf"(?<![\w.]){re.escape(phrase)}(?:['’]s)?(?![\w])", " ", text, flags=re.I
            )
    for word in words:
        text = re.sub(rf"(?<![\w.]){re.escape(word)}(?:['’]s)?(?![\w])", " ", text)
    return re.sub(r"[ \t]+", " ", text).strip()


# --- plain TF-IDF baseline ----------------------------------------------------------------

ENGLISH_STOP = set(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers him his how i if in into is it its
    itself just me more most my no nor not now of off on once only or other our ours out over
    own same she should so some such than that the their theirs them then there these they
    this those through to too under until up very was we were what when where which while who
    whom why will with would you your""".split()
)


def tokens(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in ENGLISH_STOP]


class TfIdf:
    """Cosine similarity of TF-IDF vectors (smoothed idf, l2-normalised), pure Python."""

    def __init__(self, docs: dict[int, str]):
        self.tf = {pk: self._counts(tokens(text)) for pk, text in docs.items()}
        df: dict[str, int] = defaultdict(int)
        for counts in self.tf.values():
            for w in counts:
                df[w] += 1
        n = len(docs)
        self.idf = {w: math.log((1 + n) / (1 + c)) + 1 for w, c in df.items()}
        self.vectors = {pk: self._vector(c) for pk, c in self.tf.items()}

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
        scores = []
        for pk, vec in self.vectors.items():
            if pk in exclude:
                continue
            s = sum(v * vec.get(w, 0.0) for w, v in q.items())
            if s > 0:
                scores.append((-s, pk))
        scores.sort()
        return [pk for _, pk in scores[:k]]


# --- setup --------------------------------------------------------------------------------


def setup_django(db_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["DEBUG"] = "1"
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.pop("REDIS_URL", None)  # jobs run in-process; no broker needed
    import django

    django.setup()


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


METRICS = ["recall", "hit", "xhit", "precision", "same_co"]


def mean(rows: list[dict], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows) if rows else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True, type=Path, help="folder of Markdown files")
    parser.add_argument("--labels", type=Path, default=HERE / "labels.json")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    corpus = args.corpus.resolve()
    labels = json.loads(args.labels.read_text())

    with tempfile.TemporaryDirectory(prefix="seams-eval-") as tmp:
        setup_django(Path(tmp) / "eval.sqlite3")
        return run(corpus, labels, args)


def run(corpus: Path, labels: dict, args) -> int:
    from django.core.management import call_command

    from incidents.analysis.recurrence import recompute_all
    from incidents.analysis.similarity import similar_to, similar_to_incident
    from incidents.importers import import_folder
    from incidents.models import Incident

    timings = {}
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    report = import_folder(corpus)
    timings["import_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    structures = recompute_all()
    timings["recompute_s"] = round(time.perf_counter() - started, 1)
    print(f"Imported {corpus.name}: {report.summary()}; {structures} recurring structures.")

    meta = front_matter(corpus)
    by_uuid = dict(Incident.objects.exclude(external_id=None).values_list("external_id", "pk"))
    texts = {pk: f"{t}\n{s}" for pk, t, s in Incident.objects.values_list("pk", "title", "summary")}
    uuid_of = {pk: u for u, pk in by_uuid.items()}
    company_of = {pk: canonical_company(meta.get(u, {}).get("company")) for u, pk in by_uuid.items()}
    for pk in texts:
        company_of.setdefault(pk, f"unknown-{pk}")
    all_companies = sorted({m["company"] for m in meta.values() if m["company"]})

    dup_of: dict[int, set[int]] = defaultdict(set)
    for a, b in labels.get("duplicates", []):
        if a in by_uuid and b in by_uuid:
            dup_of[by_uuid[a]].add(by_uuid[b])
            dup_of[by_uuid[b]].add(by_uuid[a])

    tfidf = TfIdf(texts)
    visible = Incident.objects.all()

    def blind_text(pk: int) -> str:
        phrases, words = mask_terms(all_companies, meta.get(uuid_of.get(pk), {}).get("product", ""))
        return mask(texts[pk], phrases, words)

    def rankers(pk: int):
        exclude = {pk} | dup_of[pk]
        seams = lambda text: [  # noqa: E731
            r.incident.pk
            for r in similar_to(text=text, visible=visible, exclude=frozenset(exclude), limit=K)
        ]
        baseline = lambda text: tfidf.rank(text, exclude, K)  # noqa: E731

        def stored(_text):
            _, similar = similar_to_incident(
                incident=Incident.objects.get(pk=pk), visible=visible, limit=K + len(exclude)
            )
            return [r.incident.pk for r in similar if r.incident.pk not in exclude][:K]

        return {"seams": seams, "tfidf": baseline, "stored": stored}

    methods = [
        ("seams", "normal"), ("tfidf", "normal"), ("seams", "blind"), ("tfidf", "blind"),
        ("stored", "normal"),
    ]  # fmt: skip
    rows: dict[tuple[str, str], list[dict]] = defaultdict(list)
    missing = []
    started = time.perf_counter()
    query_times: list[float] = []
    for group in labels["groups"]:
        members = [by_uuid[m["uuid"]] for m in group["members"] if m["uuid"] in by_uuid]
        missing += [m["uuid"] for m in group["members"] if m["uuid"] not in by_uuid]
        if len(members) < 2:
            continue
        member_set = set(members)
        for pk in members:
            run_with = rankers(pk)
            for method, mode in methods:
                text = texts[pk] if mode == "normal" else blind_text(pk)
                t0 = time.perf_counter()
                ranked = run_with[method](text)
                if method == "seams":
                    query_times.append(time.perf_counter() - t0)
                row = score_query(ranked, pk, member_set, company_of)
                row.update(
                    group=group["id"], split=group.get("split", "dev"), uuid=uuid_of[pk],
                    top=[uuid_of.get(r, str(r)) for r in ranked],
                )  # fmt: skip
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
            run_with = rankers(q)
            for method, mode in methods:
                text = texts[q] if mode == "normal" else blind_text(q)
                distractors[(method, mode)].append(1.0 if other in run_with[method](text) else 0.0)

    names = {"seams": "Seams", "tfidf": "TF-IDF", "stored": "Seams (stored)"}
    splits = ["all", "dev", "test"]
    results = {"k": K, "timings": timings, "import": report.summary(), "missing": missing,
               "groups": len(labels["groups"]), "table": [], "per_group": {}, "queries": {}}  # fmt: skip
    lines = [
        f"Groups: {len(labels['groups'])} ({sum(1 for g in labels['groups'] if g.get('split') == 'dev')} dev), "  # noqa: E501
        f"queries per method: {len(rows[('seams', 'normal')])}, "
        f"distractor pairs: {len(labels.get('distractors', []))}.",
        "",
        "| Method | Query | Split | n | recall@5 | hit@5 | xhit@5 | precision@5 | same-co@5 "
        "| distractor@5 |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for method, mode in methods:
        data = rows[(method, mode)]
        dis = distractors[(method, mode)]
        for split in splits:
            subset = [r for r in data if split == "all" or r["split"] == split]
            figures = {m: round(mean(subset, m), 3) for m in METRICS}
            d = round(sum(dis) / len(dis), 3) if (dis and split == "all") else None
            results["table"].append(
                {"method": method, "query": mode, "split": split, "n": len(subset), **figures,
                 "distractor": d}  # fmt: skip
            )
            lines.append(
                f"| {names[method]} | {'company-blind' if mode == 'blind' else 'title+summary'} "
                f"| {split} | {len(subset)} | "
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

    lines += ["", "Recall@5 per group (title+summary / company-blind):", ""]
    lines += ["| Group | split | n | Seams | TF-IDF | Seams blind | TF-IDF blind |",
              "|---|---|--:|--:|--:|--:|--:|"]  # fmt: skip
    for group in labels["groups"]:
        g = group["id"]
        cells = [results["per_group"][f"{m}/{mode}"].get(g, {}).get("recall", float("nan"))
                 for m, mode in methods[:4]]  # fmt: skip
        lines.append(
            f"| {g} | {group.get('split')} | {len(group['members'])} | "
            + " | ".join(f"{c:.2f}" for c in cells) + " |"
        )
    lines += [
        "",
        f"Import {timings['import_s']} s, recompute {timings['recompute_s']} s, "
        f"queries {timings['queries_s']} s (Seams median {timings['seams_query_p50_ms']} ms "
        f"per query on SQLite).",
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
