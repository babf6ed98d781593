"""Import a folder of Markdown post-mortems with YAML front matter."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from incidents.importers import ImportProblem, import_folder


class Command(BaseCommand):
    help = (
        "Import every .md file of PATH (Markdown with YAML front matter: uuid, url, title, "
        "company, product, summary, start_time, end_time, …). Re-importing updates, never "
        "duplicates; bad files are reported and skipped, and the exit status is 1 when any was."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, path, no_progress, **options):
        def progress(paths):
            paths = list(paths)
            return tqdm(paths, desc="importing", unit="file", disable=no_progress, file=self.stderr)

        try:
            report = import_folder(path, progress=progress)
        except ImportProblem as problem:
            raise CommandError(str(problem)) from problem
        for name, reason in report.skipped:
            self.stdout.write(self.style.WARNING(f"skipped {name}: {reason}"))
        for name, warning in report.warnings:
            self.stdout.write(f"note    {name}: {warning}")
        for name, duplicate in report.possible_duplicates:
            self.stdout.write(f"check   {name}: {duplicate}")
        if report.skipped:
            # A non-zero exit lets a script or cron job notice; everything else was imported.
            self.stdout.write(self.style.WARNING(report.summary()))
            raise CommandError(
                f"{len(report.skipped)} of {report.seen} files were skipped (reasons above); "
                "the others were imported"
            )
        self.stdout.write(self.style.SUCCESS(report.summary()))
