"""The admin, under the same rules as the pages: a non-superuser sees only the reviews (and
the components, memberships and choices) they may see, and changes only what
`incidents.permissions` lets them change.

Every change page here saves back exactly what it showed when nothing was touched (see
`KeepsUnchangedValues`), and a review edited here is versioned, kept as a revision and
analysed again like one edited in the pages.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group
from django.db import models
from django.urls import reverse
from django.utils.html import format_html

from . import permissions, services
from .forms import DATETIME_FORMAT, KeepsUnchangedValues, date_widget
from .models import (
    ActionItem,
    ApiToken,
    Component,
    ContributingFactor,
    Incident,
    PatternLink,
    RecurringStructure,
    TimelineEvent,
)


def keeping_unchanged_values(form_class: type[forms.BaseForm]) -> type[forms.BaseForm]:
    """`form_class` whose untouched text and time fields keep their stored values."""
    return type(form_class.__name__, (KeepsUnchangedValues, form_class), {})


# The admin's split date and time inputs drop microseconds, and its date input shows the
# locale's format: one input per value that shows (and sends back) exactly what is stored.
ROUND_TRIP_WIDGETS: dict[type[models.Field], dict[str, Any]] = {
    models.DateTimeField: {
        "form_class": forms.DateTimeField,
        "widget": forms.DateTimeInput(
            attrs={"type": "datetime-local", "step": "1"}, format=DATETIME_FORMAT
        ),
    },
    models.DateField: {"form_class": forms.DateField, "widget": date_widget()},
    # A link typed without a scheme is taken as https (Django 6's default, chosen now).
    models.URLField: {"assume_scheme": "https"},
}


class RoundTripAdmin(admin.ModelAdmin):
    """A change page that, saved untouched, changes nothing."""

    form = keeping_unchanged_values(forms.ModelForm)
    formfield_overrides = ROUND_TRIP_WIDGETS


class RoundTripInline(admin.TabularInline):
    """Inline rows that, saved untouched, change nothing."""

    form = keeping_unchanged_values(forms.ModelForm)
    formfield_overrides = ROUND_TRIP_WIDGETS
    extra = 0


class TimelineInline(RoundTripInline):
    model = TimelineEvent


class FactorInline(RoundTripInline):
    model = ContributingFactor


class ActionInline(RoundTripInline):
    model = ActionItem
    autocomplete_fields = ["pattern"]


class PatternLinkInline(RoundTripInline):
    model = PatternLink
    autocomplete_fields = ["pattern"]


class IncidentAdminForm(KeepsUnchangedValues, forms.ModelForm):
    """The review's columns, with the version it was read at (to refuse a stale save)."""

    # Not `version`: the model's version is not editable, so a model form may not name it.
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Also when bound: the refusal below compares with what was submitted.
            self.initial["expected_version"] = self.instance.version

    def clean(self) -> dict[str, Any]:
        """Refuse the save if the review was saved since this page was opened.

        The admin validates and saves in one transaction, so the lock taken here holds
        until this save is written: nobody can save in between.
        """
        data = super().clean()
        if self.instance.pk:
            read_at = data.get("expected_version")
            if read_at is None or not services.incident_hold_at_version(
                incident_pk=self.instance.pk, expected_version=read_at
            ):
                raise forms.ValidationError(
                    "This review was changed since you opened it (someone else saved it), so "
                    "nothing was saved. Open it again to see their changes, then make yours.",
                    code="stale",
                )
        return data


@admin.register(Incident)
class IncidentAdmin(RoundTripAdmin):
    """Reviews the staff user may see; the change page only for those they may edit (the
    others open read-only), deleting only with the delete permission."""

    form = IncidentAdminForm
    list_display = ["title", "status", "severity", "started_at", "restricted_to", "analysed_at"]
    list_filter = ["status", "severity", "shapes", "restricted_to"]
    search_fields = ["title", "summary", "external_id"]
    filter_horizontal = ["shapes", "components"]
    # Status moves only through the workflow (send for review, publish through its gate).
    readonly_fields = ["status", "version", "analysis_requested_at", "analysed_at", "created_at"]
    inlines = [TimelineInline, FactorInline, ActionInline, PatternLinkInline]

    def save_related(self, request, form, formsets, change) -> None:
        """After the review and its parts are written: version, revision and analysis, as
        for any save, so an admin edit shows in history and a stale web form is refused."""
        super().save_related(request, form, formsets, change)
        services.incident_changed_elsewhere(
            incident=form.instance, by=request.user, note="Edited in the admin"
        )

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
class ComponentAdmin(RoundTripAdmin):
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


@admin.register(RecurringStructure)
class RecurringStructureAdmin(RoundTripAdmin):
    """Read-only: these rows are derived by the analysis and rebuilt by it.

    Its figures and members are not shown here: the stored ones count every review,
    restricted ones included, and a structure can have thousands of members. The
    structure's page in Seams shows both as the user may see them, a page at a time."""

    list_display = ["signature", "kind", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["signature", "name"]
    # Every field shown, none editable: the next analysis would overwrite an edit anyway.
    fields = readonly_fields = [
        "signature",
        "kind",
        "name",
        "mechanism",
        "pattern",
        "patterns",
        "updated_at",
        "as_you_may_see_it",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Members and figures")
    def as_you_may_see_it(self, structure: RecurringStructure) -> str:
        return format_html(
            '<a href="{}">The structure\'s page, as you may see it</a>',
            reverse("incidents:structure", args=[structure.pk]),
        )


@admin.register(ApiToken)
class ApiTokenAdmin(RoundTripAdmin):
    list_display = ["name", "user", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["scope"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    fields = ["name", "user", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]

    def has_add_permission(self, request):
        # Keys are generated and shown once by `manage.py create_api_token`.
        return False


# Django's own user and group pages, under the same round-trip rule: a user saved untouched
# keeps the spaces in their name and the microseconds of their last login.
User = get_user_model()
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(RoundTripAdmin, auth_admin.UserAdmin):
    form = keeping_unchanged_values(UserChangeForm)


@admin.register(Group)
class GroupAdmin(RoundTripAdmin, auth_admin.GroupAdmin):
    pass
