"""List API tokens (never their keys: only digests are stored)."""

from django.core.management.base import BaseCommand

from incidents.models import ApiToken


class Command(BaseCommand):
    help = "List API tokens: id, name, user, scope, key prefix, last use, revoked."

    def handle(self, *args, **options):
        tokens = ApiToken.objects.select_related("user").order_by("created_at")
        if not tokens:
            self.stdout.write("no tokens")
        for t in tokens:
            used = t.last_used_at.isoformat(timespec="minutes") if t.last_used_at else "never"
            state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
            self.stdout.write(
                f"{t.pk}\t{t.name}\t{t.user.get_username()}\t{t.scope}\t{t.prefix}…\t"
                f"used {used}\t{state}"
            )
