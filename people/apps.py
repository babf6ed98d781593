from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, using="default", **kwargs) -> None:
    # After every migrate (and after the test runner's flush): the role groups exist and
    # carry exactly the permissions this version of Seams gives them.
    from .roles import sync_role_groups

    if using == "default":
        sync_role_groups()


class PeopleConfig(AppConfig):
    """People and teams: invitations, roles, deactivation, single sign-on."""

    name = "people"
    verbose_name = "People and teams"

    def ready(self) -> None:
        # Sent for this app after Django created its permissions (and, earlier in the same
        # migrate, those of the incidents app).
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="people.sync_roles")
