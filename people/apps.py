from django.apps import AppConfig


class PeopleConfig(AppConfig):
    """People and teams: invitations, roles, deactivation, single sign-on."""

    name = "people"
    verbose_name = "People and teams"
