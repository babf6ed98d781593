"""The admin, under the same rules as the pages: a non-superuser sees only the reviews (and
the components, memberships and choices) they may see, and changes only what
`incidents.permissions` lets them change."""

from django.contrib import admin

from . import permissions
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
    """Reviews the staff user may see; the change page only for those they may edit (the
    others open read-only), deleting only with the delete permission."""

    list_display = ["title", "status", "severity", "started_at", "restricted_to", "analysed_at"]
    list_filter = ["status", "severity", "shapes", "restricted_to"]
    search_fields = ["title", "summary", "external_id"]
    filter_horizontal = ["shapes", "components"]
    readonly_fields = ["version", "analysis_requested_at", "analysed_at", "created_at"]
    inlines = [TimelineInline, FactorInline, ActionInline, PatternLinkInline]

    def get_queryset(self, request):
        # The list, its search and counts, the change, history and delete pages all start
        # here: a restricted review outside the user's groups is simply not found.
        return (
            super()
            .get_queryset(request)
            .filter(pk__in=Incident.objects.visible_to(request.user).values("pk"))
        )

    def has_view_permission(self, request, obj=None) -> bool:
        allowed = super().has_view_permission(request, obj) or self._editable(request, obj)
        return allowed and (obj is None or permissions.can_view(request.user, obj))

    def has_change_permission(self, request, obj=None) -> bool:
        return self._editable(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or permissions.can_delete(request.user, obj))

    def _editable(self, request, obj) -> bool:
        return obj is None or permissions.can_edit(request.user, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "restricted_to":
            kwargs["queryset"] = permissions.restrictable_groups(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "components":
            kwargs["queryset"] = permissions.visible_components(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(Component)
class ComponentAdmin(admin.ModelAdmin):
    """Components the user may know exist (one only restricted reviews use is theirs)."""

    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["depends_on"]

    def get_queryset(self, request):
        visible = permissions.visible_components(request.user).values("pk")
        return super().get_queryset(request).filter(pk__in=visible)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "depends_on":
            kwargs["queryset"] = permissions.visible_components(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class MembershipInline(admin.TabularInline):
    model = RecurrenceMembership
    extra = 0
    # Not `previous`: as a select it would list every review's title.
    fields = readonly_fields = ["incident", "occurred_at", "basis", "after_remediation"]
    can_delete = False

    def get_queryset(self, request):
        # A member's title is its review's content: only the members the user may see.
        visible = Incident.objects.visible_to(request.user).values("pk")
        return super().get_queryset(request).filter(incident__in=visible)


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
