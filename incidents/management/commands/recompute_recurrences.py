"""Rebuild every pattern score and recurring structure now."""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from incidents.analysis.recurrence import recompute_all
from incidents.selectors import warm_reader_views


class Command(BaseCommand):
    help = "Rebuild pattern scores and recurring structures from all reviews (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, no_progress, **options):
        def progress(chunks, total):
            return tqdm(chunks, total=total, unit="chunk", disable=no_progress, file=self.stderr)

        count = recompute_all(progress=progress)
        warm_reader_views()
        self.stdout.write(self.style.SUCCESS(f"{count} recurring structures"))
