"""Load the demo reviews and make sure a demo login exists."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from incidents.demo import load_demo


class Command(BaseCommand):
    help = "Load the six demo reviews (idempotent) and create the demo login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("SEAMS_DEMO_USER", "demo"))
        parser.add_argument(
            "--password", default=os.environ.get("SEAMS_DEMO_PASSWORD", "seams-demo")
        )
        parser.add_argument("--no-login", action="store_true", help="Do not create a login.")

    def handle(self, *args, username, password, no_login, **options):
        user = None
        if not no_login:
            users = get_user_model().objects
            user, created = users.get_or_create(username=username)
            if created:
                user.set_password(password)
                user.is_staff = True
                user.is_superuser = True
                user.save()
        incidents = load_demo(author=user)
        self.stdout.write(f"{len(incidents)} demo reviews loaded")
        if user is not None:
            self.stdout.write(
                self.style.SUCCESS(f"Demo login: {username} / {password}  (also for /admin/)")
            )
