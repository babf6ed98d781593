from django.apps import AppConfig


class ReviewflowConfig(AppConfig):
    """Review as a gate: named reviewers approve or request changes; threaded comments."""

    name = "reviewflow"
    verbose_name = "Review workflow"

    def ready(self) -> None:
        # incidents knows nothing of this app: publishing consults the gate registered here,
        # and the notices follow the signals incidents sends.
        from incidents import services

        from .gate import publish_gate
        from .notices import on_comment_added, on_review_requested

        services.register_publish_gate(publish_gate)
        services.review_requested.connect(on_review_requested, dispatch_uid="reviewflow-request")
        services.comment_added.connect(on_comment_added, dispatch_uid="reviewflow-comment")
