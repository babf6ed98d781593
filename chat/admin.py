"""Linking chat users to Seams accounts, and the record of recent chat questions."""

from django.contrib import admin

from .models import ChatIdentity, ChatRequest


@admin.register(ChatIdentity)
class ChatIdentityAdmin(admin.ModelAdmin):
    """An admin links a Slack user (workspace id and user id, from their Slack profile's
    "Copy member ID") to the Seams account whose visibility their questions get."""

    list_display = ["user", "platform", "team_id", "external_user_id", "created_at"]
    list_filter = ["platform"]
    search_fields = ["user__username", "user__email", "team_id", "external_user_id"]
    autocomplete_fields = ["user"]


@admin.register(ChatRequest)
class ChatRequestAdmin(admin.ModelAdmin):
    """Questions of the last day, for the record: whether and when each was answered. The
    question's text and reply address are not shown."""

    list_display = ["key", "kind", "platform", "created_at", "attempts", "answered_at", "failure"]
    list_filter = ["platform", "kind"]
    fields = ["key", "kind", "platform", "team_id", "external_user_id", "created_at",
              "attempts", "answered_at", "failure"]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
