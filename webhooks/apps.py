from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Outgoing webhooks: signed events to endpoints outside Seams, retried with a budget."""

    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        # incidents knows nothing of this app: the events follow the signals it sends.
        from incidents import services
        from incidents.analysis import recurrence

        from . import receivers

        services.review_published.connect(
            receivers.on_review_published, dispatch_uid="webhooks-published"
        )
        services.review_requested.connect(
            receivers.on_review_requested, dispatch_uid="webhooks-requested"
        )
        recurrence.incident_analysed.connect(
            receivers.on_incident_analysed, dispatch_uid="webhooks-analysed"
        )
        recurrence.structures_recognised.connect(
            receivers.on_structures_recognised, dispatch_uid="webhooks-recognised"
        )
