"""Compare the shipped catalogue with the database; apply changes only when asked."""

from django.core.management.base import BaseCommand

from taxonomy import catalogue


class Command(BaseCommand):
    help = (
        "Show how the shipped pattern catalogue differs from this database. New entries are "
        "always added; changed entries are only written with --apply, and a local edit is "
        "never overwritten unless Seams also changed that entry."
    )

    def add_arguments(self, parser):
        parser.add_argument("slugs", nargs="*", help="Only these patterns (default: all).")
        parser.add_argument(
            "--apply", action="store_true", help="Write the shipped version of changed entries."
        )
        parser.add_argument("--diff", action="store_true", help="Print the differences.")

    def handle(self, *args, slugs, apply, diff, **options):
        added = catalogue.add_missing()
        for slug in added:
            self.stdout.write(f"added      {slug}")
        changes = [c for c in catalogue.compare() if not slugs or c.slug in slugs]
        # A mechanism is reported as "pattern/mechanism" and follows the same rule as a pattern.
        mechanism_changes = [
            c for c in catalogue.mechanism_changes() if not slugs or c.pattern_slug in slugs
        ]
        labelled = [(c, c.slug) for c in changes] + [(c, c.label) for c in mechanism_changes]
        for change, label in labelled:
            if change.status == "unchanged":
                continue
            self.stdout.write(f"{change.status:<18} {label}")
            if diff and change.diff:
                self.stdout.write(change.diff)
        if apply:
            applied = catalogue.apply(slugs or None)
            for slug in applied:
                self.stdout.write(self.style.SUCCESS(f"applied    {slug}"))
            kept = [label for change, label in labelled if change.status == "edited locally"]
            for slug in kept:
                self.stdout.write(f"kept local edit of {slug}")
        else:
            pending = [c for c, _ in labelled if c.applicable]
            if pending:
                self.stdout.write(f"{len(pending)} shipped change(s) not applied; run with --apply")
        self.stdout.write(self.style.SUCCESS("catalogue checked"))
