from django.contrib import admin

from .models import (
    ActionItem,
    ApiToken,
    Component,
    ContributingFactor,
    Incident,
    PatternLink,
    RecurrenceMembership,
    RecurringStructure,
    TimelineEvent,
)


class TimelineInline(admin.TabularInline):
    model = TimelineEvent
    extra = 0


class FactorInline(admin.TabularInline):
    model = ContributingFactor
    extra = 0


class ActionInline(admin.TabularInline):
    model = ActionItem
    extra = 0
    autocomplete_fields = ["pattern"]


class PatternLinkInline(admin.TabularInline):
    model = PatternLink
    extra = 0
    autocomplete_fields = ["pattern"]


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["title", "status", "severity", "started_at", "restricted_to", "analysed_at"]
    list_filter = ["status", "severity", "shapes", "restricted_to"]
    search_fields = ["title", "summary", "external_id"]
    filter_horizontal = ["shapes", "components"]
    readonly_fields = ["version", "analysis_requested_at", "analysed_at", "created_at"]
    inlines = [TimelineInline, FactorInline, ActionInline, PatternLinkInline]


@admin.register(Component)
class ComponentAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["depends_on"]


class MembershipInline(admin.TabularInline):
    model = RecurrenceMembership
    extra = 0
    readonly_fields = ["incident", "occurred_at"]
    can_delete = False


@admin.register(RecurringStructure)
class RecurringStructureAdmin(admin.ModelAdmin):
    """Read-only: these rows are derived by the analysis and rebuilt by it."""

    list_display = ["signature", "first_seen", "last_seen"]
    readonly_fields = ["signature", "pattern", "first_seen", "last_seen"]
    inlines = [MembershipInline]

    def has_add_permission(self, request):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["scope"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    fields = ["name", "user", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]

    def has_add_permission(self, request):
        # Keys are generated and shown once by `manage.py create_api_token`.
        return False
