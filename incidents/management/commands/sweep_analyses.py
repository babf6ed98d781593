"""Queue analysis for every incident whose analysis is missing or stale."""

from django.core.management.base import BaseCommand

from incidents.tasks import sweep_stale_analyses


class Command(BaseCommand):
    help = "Catch up analyses lost while the broker or the worker was down."

    def add_arguments(self, parser):
        parser.add_argument(
            "--grace", type=int, default=0, help="Skip saves younger than this many seconds."
        )

    def handle(self, *args, grace, **options):
        queued = sweep_stale_analyses(grace_seconds=grace, limit=100_000)
        self.stdout.write(f"{queued} analysis job(s) queued")
