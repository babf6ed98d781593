"""Admin for tracker connections (secrets are write-only) and the links they hold."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from incidents.models import Incident

from .models import TrackedIssue, TrackerConnection

SECRETS = ("token", "webhook_secret")


class ConnectionForm(forms.ModelForm):
    """The token and the webhook secret are never shown again: a blank field keeps the
    stored value, a filled one replaces it."""

    base_url = forms.URLField(
        required=False,
        assume_scheme="https",
        help_text=TrackerConnection._meta.get_field("base_url").help_text,
    )
    token = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text=TrackerConnection._meta.get_field("token").help_text
        + " Leave blank to keep the stored one.",
    )
    webhook_secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="The secret you give the tracker's webhook. Leave blank to keep the stored one.",
    )

    class Meta:
        model = TrackerConnection
        fields = [
            "name",
            "kind",
            "base_url",
            "project",
            "issue_type",
            "username",
            "token",
            "webhook_secret",
            "allow_restricted",
            "close_from_seams",
            "enabled",
            "acting_user",
        ]

    def clean(self):
        """Keep the stored secrets a blank field leaves alone; what each kind needs."""
        data = super().clean()
        for name in SECRETS:
            if not data.get(name) and self.instance.pk:
                data[name] = getattr(self.instance, name)
        if data.get("kind") == TrackerConnection.Kind.JIRA:
            if not data.get("base_url"):
                self.add_error("base_url", "Jira needs your site: https://your-site.atlassian.net")
            if not data.get("username"):
                self.add_error("username", "Jira needs the e-mail address of the token's account.")
        if data.get("kind") == TrackerConnection.Kind.GITHUB and "/" not in data.get("project", ""):
            self.add_error("project", "GitHub needs owner/repository.")
        return data


@admin.register(TrackerConnection)
class TrackerConnectionAdmin(admin.ModelAdmin):
    """Connections, with their secrets write-only and their webhook URL to copy."""

    form = ConnectionForm
    list_display = ("name", "kind", "project", "enabled", "allow_restricted", "has_token")
    list_filter = ("kind", "enabled")
    readonly_fields = ("webhook_url", "polled_at")
    raw_id_fields = ("acting_user",)

    @admin.display(boolean=True, description="token set")
    def has_token(self, obj: TrackerConnection) -> bool:
        return bool(obj.token)

    @admin.display(description="webhook URL")
    def webhook_url(self, obj: TrackerConnection) -> str:
        if not obj.pk:
            return "Shown once the connection is saved."
        path = reverse("trackers:webhook", args=[obj.pk])
        return format_html("<code>{}</code> (prefix with the address people reach Seams at)", path)


@admin.register(TrackedIssue)
class TrackedIssueAdmin(admin.ModelAdmin):
    """Links are made by the tracker jobs and changed by the trackers: read-only here.
    Deleting one unlinks the item (the issue stays in its tracker)."""

    list_display = ("action_item", "connection", "key", "state", "remote_state", "last_synced_at")
    list_filter = ("state", "remote_state", "connection")
    list_select_related = ("action_item", "connection")
    search_fields = ("key", "action_item__title")
    readonly_fields = [field.name for field in TrackedIssue._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def get_queryset(self, request):
        # Links of restricted reviews stay with the review's group, here as everywhere.
        visible = Incident.objects.visible_to(request.user).values("pk")
        return super().get_queryset(request).filter(action_item__incident__in=visible)
