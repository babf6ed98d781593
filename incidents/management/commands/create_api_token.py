"""Create an API token for a bot and print its key once."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from incidents.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token. The key is printed once; only its digest is stored."

    def add_arguments(self, parser):
        parser.add_argument("name", help="What the token is for, e.g. 'chat-bot'.")
        parser.add_argument("--scope", choices=["read", "write"], default="read")
        parser.add_argument(
            "--user",
            help="The user the token acts as (its visibility applies). "
            "Default: a user named after the token, created if needed.",
        )

    def handle(self, *args, name, scope, user, **options):
        users = get_user_model().objects
        if user:
            try:
                owner = users.get(username=user)
            except users.model.DoesNotExist as exc:
                raise CommandError(f"No user named {user!r}.") from exc
        else:
            owner, created = users.get_or_create(username=f"bot-{name}"[:150])
            if created:
                owner.set_unusable_password()
                owner.save()
        token, key = ApiToken.generate(name=name, user=owner, scope=scope)
        self.stderr.write(f"Token {token.name!r} ({scope}) for user {owner.username!r}:")
        self.stdout.write(key)
