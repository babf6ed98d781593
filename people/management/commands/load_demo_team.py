"""Demo colleagues for the demo login: a reviewer and a reader, so the review gate can be tried."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from people.roles import Role, set_role

# A review is published only once a named reviewer other than its author approves it, so
# one demo login alone could never publish a review it writes.
TEAM = [("demo-reviewer", Role.REVIEWER), ("demo-reader", Role.READER)]


class Command(BaseCommand):
    help = "Create the demo colleagues (idempotent): a reviewer and a reader."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password", default=os.environ.get("SEAMS_DEMO_PASSWORD", "seams-demo")
        )

    def handle(self, *args, password, **options):
        users = get_user_model().objects
        for username, role in TEAM:
            user, created = users.get_or_create(username=username)
            if created:
                user.set_password(password)
                user.save()
                set_role(user, role)
                login = f"{username} / {password}"
            else:  # someone may have changed it since: do not print one that may be wrong
                login = f"{username} (password unchanged)"
            self.stdout.write(self.style.SUCCESS(f"Demo {role.label.lower()}: {login}"))
