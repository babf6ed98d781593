"""Measure duplicate detection on public post-mortems with labelled duplicates.

    .venv/bin/python bench/duplicates/measure.py --corpus ../shared/corpora/icco-postmortems/data

In a throw-away SQLite database (the project's own is never touched), like
`bench/similarity/evaluate.py`: migrate, import the corpus with
`incidents.importers.import_folder` (which flags duplicates as an import does), run
`duplicates.detection.flag_duplicates` for every incident once more (nothing new may appear:
it is idempotent), then print

- recall: how many of the labelled `duplicates` pairs of `bench/similarity/labels.json` were
  flagged, and for each one missed, why (the reasons `is_possible_duplicate` gave);
- every other flagged pair, with both titles, for a person to read and judge;
- with `--sweep`: the same two figures for other thresholds, computed over every pair of
  incidents of the same organisation (not only the bounded candidates), to choose them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LABELS = ROOT / "bench" / "similarity" / "labels.json"

sys.path.insert(0, str(ROOT / "bench" / "similarity"))
from evaluate import setup_django  # noqa: E402  (the same throw-away database set-up)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True, type=Path, help="folder of Markdown files")
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--sweep", action="store_true", help="try other thresholds too")
    args = parser.parse_args(argv)
    labels = json.loads(args.labels.read_text())
    with tempfile.TemporaryDirectory(prefix="seams-duplicates-") as tmp:
        setup_django(Path(tmp) / "measure.sqlite3")
        return run(args.corpus.resolve(), labels, sweep=args.sweep)


def run(corpus: Path, labels: dict, *, sweep: bool) -> int:
    from django.core.management import call_command

    from duplicates import detection
    from duplicates.models import PossibleDuplicate
    from incidents.importers import import_folder
    from incidents.models import Incident

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    report = import_folder(corpus)
    print(f"Imported {corpus.name}: {report.summary()} ({time.perf_counter() - started:.0f} s)")
    print(f"The import report listed {len(report.possible_duplicates)} possible duplicates.")
    incidents = list(Incident.objects.order_by("pk"))
    before = PossibleDuplicate.objects.count()
    started = time.perf_counter()
    for incident in incidents:
        detection.flag_duplicates(incident)
    elapsed = time.perf_counter() - started
    after = PossibleDuplicate.objects.count()
    print(
        f"flag_duplicates over all {len(incidents)} incidents: {elapsed:.1f} s "
        f"({1000 * elapsed / len(incidents):.0f} ms each); pairs {before} → {after} "
        "(equal: idempotent)"
    )

    by_uuid = dict(Incident.objects.exclude(external_id=None).values_list("external_id", "pk"))
    by_pk = {i.pk: i for i in incidents}
    labelled = [
        tuple(sorted((by_uuid[a], by_uuid[b])))
        for a, b in labels["duplicates"]
        if a in by_uuid and b in by_uuid
    ]
    flagged = {
        (p.first_id, p.second_id): p for p in PossibleDuplicate.objects.order_by("first", "second")
    }
    found = [pair for pair in labelled if pair in flagged]
    print(
        f"\nRecall on the labelled duplicates: {len(found)}/{len(labelled)} "
        f"= {len(found) / len(labelled):.2f}"
    )
    for a, b in labelled:
        if (a, b) not in flagged:
            _, _, reasons = detection.judge(by_pk[a], by_pk[b])
            print(f"  missed #{a} / #{b}: {'; '.join(reasons)}")
    others = [p for key, p in flagged.items() if key not in set(labelled)]
    print(f"\nOther pairs flagged: {len(others)}")
    for p in others:
        a, b = by_pk[p.first_id], by_pk[p.second_id]
        print(f"  #{a.pk} {a.title[:60]!r} / #{b.pk} {b.title[:60]!r}: {'; '.join(p.reasons)}")
    if sweep:
        _sweep(incidents, set(labelled))
    return 0


def _sweep(incidents, labelled: set[tuple[int, int]]) -> None:
    """Recall and other flags for a grid of thresholds, over every same-organisation pair."""
    from duplicates import detection

    groups: dict[str, list] = {}
    for incident in incidents:
        groups.setdefault(detection.organisation_key(incident.organisation), []).append(incident)
    judged = []
    for members in groups.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                similarity = detection.text_similarity(a, b)
                spans = (
                    detection._span(detection.window_of(a)),
                    detection._span(detection.window_of(b)),
                )
                if None in spans:
                    timing = "unknown"
                else:
                    (s1, e1), (s2, e2) = spans
                    timing = "overlap" if s1 <= e2 and s2 <= e1 else "apart"
                judged.append(((min(a.pk, b.pk), max(a.pk, b.pk)), similarity, timing))
    print(f"\nSweep over {len(judged)} same-organisation pairs")
    print("| timed | untimed | recall | other flags |")
    print("|---|---|---|---|")
    for timed in (0.3, 0.4, 0.5, 0.6):
        for untimed in (0.5, 0.6, 0.7, 0.8):
            if untimed < timed:
                continue
            hits = [
                pair
                for pair, sim, timing in judged
                if (timing == "overlap" and sim >= timed)
                or (timing == "unknown" and sim >= untimed)
            ]
            recall = len(set(hits) & labelled)
            print(f"| {timed} | {untimed} | {recall}/{len(labelled)} | {len(hits) - recall} |")
    print("\nLabelled pairs: similarity and timing")
    for pair, sim, timing in judged:
        if pair in labelled:
            print(f"  {pair}: {sim:.2f} {timing}")
    print("\nHighest-similarity unlabelled pairs")
    for pair, sim, timing in sorted(judged, key=lambda j: -j[1])[:25]:
        if pair not in labelled:
            print(f"  {pair}: {sim:.2f} {timing}")


if __name__ == "__main__":
    raise SystemExit(main())
