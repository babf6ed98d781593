"""Revoke an API token by id, name or key prefix; it stops working at once."""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from incidents.models import ApiToken


class Command(BaseCommand):
    help = "Revoke an API token (by id, name or the key prefix shown by list_api_tokens)."

    def add_arguments(self, parser):
        parser.add_argument("token", help="Token id, name, or key prefix.")

    def handle(self, *args, token, **options):
        match = Q(name=token) | Q(prefix=token)
        if token.isdigit():
            match |= Q(pk=int(token))
        found = list(ApiToken.objects.filter(match, revoked_at__isnull=True))
        if not found:
            raise CommandError(f"No active token matches {token!r}.")
        if len(found) > 1:
            raise CommandError(f"{len(found)} tokens match {token!r}; use the id.")
        ApiToken.objects.filter(pk=found[0].pk).update(revoked_at=timezone.now())
        self.stdout.write(self.style.SUCCESS(f"Revoked {found[0]}"))
