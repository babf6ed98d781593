"""Invitations in the admin: visible for the record, made and used only through Seams'
own pages (the link's token exists only in the e-mail)."""

from django.contrib import admin

from .models import ExternalIdentity, Invitation


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "role", "invited_by", "created_at", "expires_at", "accepted_at"]
    search_fields = ["email"]
    readonly_fields = ["email", "role", "teams", "invited_by", "created_at", "expires_at",
                       "accepted_at", "accepted_by"]  # fmt: skip

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(admin.ModelAdmin):
    list_display = ["user", "issuer", "subject", "created_at"]
    search_fields = ["user__username", "subject"]
    readonly_fields = ["user", "issuer", "subject", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False
