"""Print a recurrence report for a window, for cron jobs and scripts."""

import sys
from datetime import UTC

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime

from reports.analysis import TABLES, ReportParams, build_snapshot, to_csv, to_markdown
from reports.services import FullVisibility


def _when(value: str):
    try:
        parsed = parse_datetime(value) or (
            parse_datetime(f"{value}T00:00:00") if parse_date(value) else None
        )
    except ValueError:
        parsed = None
    if parsed is None:
        raise CommandError(f"Not a date or date-time: {value!r} (use e.g. 2025-07-01)")
    # A date without a zone means UTC, the zone every stored time is in.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Build a recurrence report now and print it (Markdown, CSV or JSON)."

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True)
        parser.add_argument("--until", required=True)
        parser.add_argument("--format", choices=["md", "csv", "json"], default="md")
        parser.add_argument("--table", choices=sorted(TABLES), default="structures",
                            help="Which table to print with --format csv.")  # fmt: skip
        parser.add_argument("--component")
        parser.add_argument("--severity")
        parser.add_argument("--shape")
        parser.add_argument("--pattern")

    def handle(self, *args, **o):
        import json

        params = ReportParams(
            since=_when(o["since"]), until=_when(o["until"]), component=o["component"],
            severity=o["severity"], shape=o["shape"], pattern=o["pattern"],
        )  # fmt: skip
        if params.until <= params.since:
            raise CommandError("--until must be after --since")
        snapshot = build_snapshot(params=params, viewer=FullVisibility())
        if o["format"] == "md":
            self.stdout.write(to_markdown(snapshot))
        elif o["format"] == "csv":
            sys.stdout.write(to_csv(snapshot, o["table"]))
        else:
            self.stdout.write(json.dumps(snapshot, indent=2, ensure_ascii=False))
