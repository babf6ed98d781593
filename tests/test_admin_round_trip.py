"""Every admin change page survives an unchanged round trip, and an admin save keeps history.

For each model registered in the admin, an instance is filled with awkward but valid values
(surrounding whitespace, CR LF, microseconds, unicode, every optional field filled); its
change page is opened as a superuser and submitted exactly as a browser would, untouched.
Every stored column (and every row its inlines edit) must be what it was. The registry is
iterated, so a model registered later fails here until it has a case below.

A review edited in the admin is a review edited like any other: its version goes up, a
revision is kept (equal to the previous one when nothing changed), and a change page opened
before someone else's save is refused rather than saved over their work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group, Permission, User
from django.db import models
from django.test import RequestFactory
from django.urls import reverse

from chat.models import ChatIdentity, ChatRequest
from incidents import services
from incidents.models import ApiToken, Component, Incident, RecurringStructure, Revision
from incidents.revisions import snapshot
from people.models import ExternalIdentity, Invitation
from taxonomy import catalogue
from taxonomy.models import EmergentShape, LeverageLevel, PatternRelation, StructuralPattern
from trackers.models import TrackedIssue, TrackerConnection

from .factories import UserFactory
from .test_round_trip import browser_submission, make_awkward_review, make_member, stored_review

UTC = dt.UTC
MICRO = dt.datetime(2026, 3, 1, 9, 15, 42, 250_001, tzinfo=UTC)

# Admins with nothing to edit: their change page cannot change a row. The test below checks
# that they really have no editable field, so a skip cannot outlive its reason.
READ_ONLY = {
    AccessAttempt: "failed-login records written by the login guard; every field read-only",
    AccessLog: "login records written by the login guard; every field read-only",
    AccessFailureLog: "failed-login records written by the login guard; every field read-only",
    RecurringStructure: "derived by the recurrence analysis, which rebuilds it; read-only",
    Invitation: "made and used on Seams' own people pages; read-only in the admin",
    ExternalIdentity: "recorded by single sign-on at a person's first sign-in; read-only",
    TrackedIssue: "links made by the tracker jobs and moved by the trackers; read-only",
    ChatRequest: "chat questions recorded by the Slack request URLs; read-only in the admin",
}


# --- Awkward instances, one maker per registered model ----------------------------------------


def _group() -> Group:
    group = Group.objects.create(name="  Incident commanders ✓  ")
    group.permissions.set(Permission.objects.filter(codename__in=["view_incident", "add_comment"]))
    return group


def _user() -> User:
    user = User.objects.create_user(
        username="ana.müller@example.com",
        password="a-long-password-1",
        first_name="  Ana ",
        last_name="Müller  ",
        email="ana@example.com",
        is_staff=True,
    )
    user.last_login = MICRO
    user.date_joined = MICRO - dt.timedelta(days=3, microseconds=1)
    user.save()
    user.groups.add(Group.objects.create(name="security"))
    user.user_permissions.set(Permission.objects.filter(codename="view_report"))
    return user


def _local_pattern() -> StructuralPattern:
    pattern = StructuralPattern.objects.create(
        slug="house-pattern",
        name="  Ünïcode house pattern  ",
        summary=" A summary with\r\ntwo lines and spaces  ",
        definition="\n    indented first line\nsecond line  \n",
        aliases=["  spaced alias ", "Alias, with comma"],
        entry={
            "why_it_looks_healthy": ["  dashboards green ", "latency flat"],
            "blast_radius": ["delivery", "made-up-area"],
            "unfolds": {"starts": " It starts.\r\nThen more.  ", "aside": "unknown key kept"},
            "phrases": [{"text": " It's fine ", "said_by": "everyone", "extra": "kept"}],
            "evidence": [{"incident": "", "note": "  a general case "}],
            "match_terms": ["retry  storm", " ünïcode "],
            "house_note": "a key the form does not know",
        },
    )
    pattern.typical_shapes.set(EmergentShape.objects.filter(slug__in=["cascade", "recurrence"]))
    PatternRelation.objects.create(
        source=pattern,
        target=StructuralPattern.objects.exclude(pk=pattern.pk).first(),
        kind=PatternRelation.Kind.choices[0][0],
        note="  a note\r\nwith two lines ",
    )
    return pattern


def _shipped_pattern() -> StructuralPattern:
    return StructuralPattern.objects.get(slug="fast-global-propagation")


def _shape() -> EmergentShape:
    shape = EmergentShape.objects.get(slug="cascade")
    shape.summary = "  " + shape.summary + "\r\n"
    shape.entry = {**shape.entry, "canonical_incident_key": " aws-s3-2017 ", "x": [1]}
    shape.save()
    return shape


def _leverage_level() -> LeverageLevel:
    level = LeverageLevel.objects.order_by("number").first()
    level.name = " " + level.name + "  "
    level.in_operations = "First line\r\nsecond line \n"
    level.save()
    return level


def _incident() -> Incident:
    return make_awkward_review(make_member())


def _component() -> Component:
    other = Component.objects.create(name="Quicksilver", slug="quicksilver")
    component = Component.objects.create(
        name="  Edge, Frankfurt ✓ ", slug="edge-frankfurt", description="  Two\r\nlines  "
    )
    component.depends_on.set([other])
    return component


def _recurring_structure() -> RecurringStructure:
    pattern = _shipped_pattern()
    structure = RecurringStructure.objects.create(
        signature="pattern:fast-global-propagation",
        pattern=pattern,
        first_seen=MICRO,
        last_seen=MICRO + dt.timedelta(days=30, microseconds=7),
        incident_count=2,
        recurred_despite_remediation=True,
    )
    structure.patterns.set([pattern])
    return structure


def _api_token() -> ApiToken:
    token, _ = ApiToken.generate(name="  pager bot ✓ ", user=UserFactory(), scope="write")
    token.revoked_at = MICRO
    token.last_used_at = MICRO - dt.timedelta(microseconds=3)
    token.save()
    return token


def _chat_identity() -> ChatIdentity:
    return ChatIdentity.objects.create(
        team_id="T0123ABCD", external_user_id="U0456EFGH", user=UserFactory(), created_at=MICRO
    )


def _tracker_connection() -> TrackerConnection:
    return TrackerConnection.objects.create(
        name="Jira ✓ OPS", kind="jira", base_url="https://acme.atlassian.net", project="OPS",
        issue_type="Tâche", username="bot@example.com", token="tok\u00e9n ✓",
        webhook_secret="s3cret ✓", allow_restricted=True, acting_user=UserFactory(),
    )  # fmt: skip


CASES: dict[type[models.Model], list[Callable[[], models.Model]]] = {
    Group: [_group],
    User: [_user],
    StructuralPattern: [_shipped_pattern, _local_pattern],
    EmergentShape: [_shape],
    LeverageLevel: [_leverage_level],
    Incident: [_incident],
    Component: [_component],
    ApiToken: [_api_token],
    TrackerConnection: [_tracker_connection],
    ChatIdentity: [_chat_identity],
}


# --- What is stored, whole ------------------------------------------------------------------


def _row(obj: models.Model) -> dict[str, Any]:
    """Every stored column but those the model rewrites itself on every save."""
    return {
        f.attname: getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if not getattr(f, "auto_now", False)
    }


def stored(model: type[models.Model], pk: Any) -> dict[str, Any]:
    """The row, its many-to-many sets and the rows its admin inlines edit."""
    obj = model._default_manager.get(pk=pk)
    state: dict[str, Any] = {"row": _row(obj)}
    for field in model._meta.many_to_many:
        state[field.name] = sorted(getattr(obj, field.name).values_list("pk", flat=True))
    for inline in admin.site._registry[model].inlines:
        fk = next(
            f
            for f in inline.model._meta.concrete_fields
            if f.is_relation and f.related_model is model and f.name == (inline.fk_name or f.name)
        )
        rows = inline.model._default_manager.filter(**{fk.name: obj}).order_by("pk")
        state[inline.model._meta.model_name] = [_row(r) for r in rows]
    return state


# --- The round trip -------------------------------------------------------------------------


def _change_url(obj: models.Model) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def _submit_untouched(client, obj: models.Model):
    page = client.get(_change_url(obj))
    assert page.status_code == 200
    data = browser_submission(page.content.decode(), f"{obj._meta.model_name}_form")
    data["_save"] = ["Save"]
    return client.post(_change_url(obj), data)


def _errors(response) -> str:
    context = response.context or {}
    errors = [context["adminform"].form.errors] if "adminform" in context else []
    errors += [f.formset.errors for f in context.get("inline_admin_formsets", [])]
    return f"{response.status_code}: {errors}"


def _registered() -> list[tuple[str, type[models.Model], Callable | None]]:
    cases = []
    for model in admin.site._registry:
        for make in CASES.get(model, [None]):
            name = make.__name__.lstrip("_") if make else "none"
            cases.append(pytest.param(model, make, id=f"{model._meta.label}-{name}"))
    return cases


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "make"), _registered())
def test_every_admin_change_page_saved_untouched_changes_nothing(admin_client, model, make):
    if model in READ_ONLY:
        request = RequestFactory().get("/")
        request.user = User.objects.get(is_superuser=True)
        form = admin.site._registry[model].get_form(request, None)
        assert not form.base_fields, f"{model} is not read-only: give it a case"
        pytest.skip(READ_ONLY[model])
    assert make is not None, f"{model._meta.label} is in the admin: add an awkward case"
    obj = make()
    before = stored(model, obj.pk)
    revisions = list(Revision.objects.filter(incident_id=obj.pk)) if model is Incident else []
    if model is Incident:
        review_before = stored_review(obj.pk)

    response = _submit_untouched(admin_client, obj)
    assert response.status_code == 302, _errors(response)

    after = stored(model, obj.pk)
    if model is Incident:
        # An admin save is an edit: the version goes up by one and a revision is kept,
        # whose content is the previous revision's, since nothing changed.
        version = before["row"]["version"]
        assert after["row"]["version"] == version + 1
        for bookkeeping in ("version", "analysis_requested_at", "analysed_at"):
            after["row"].pop(bookkeeping), before["row"].pop(bookkeeping)
        assert stored_review(obj.pk) == review_before
        new = Revision.objects.filter(incident_id=obj.pk).exclude(pk__in=[r.pk for r in revisions])
        assert [r.version for r in new] == [version + 1]
        assert new.get().snapshot == max(revisions, key=lambda r: r.version).snapshot
    assert after == before
    if model is StructuralPattern:
        # An untouched save must not make `sync_catalogue` think the entry was edited here.
        assert not catalogue.is_locally_edited(StructuralPattern.objects.get(pk=obj.pk))


@pytest.mark.django_db
def test_a_second_untouched_admin_save_changes_nothing_either(admin_client):
    incident = _incident()
    for _ in range(2):
        assert _submit_untouched(admin_client, incident).status_code == 302
    before = stored_review(incident.pk)
    assert _submit_untouched(admin_client, incident).status_code == 302
    assert stored_review(incident.pk) == before


@pytest.mark.django_db
def test_an_admin_edit_is_kept_as_a_revision_and_analysed_again(
    admin_client, django_capture_on_commit_callbacks
):
    incident = _incident()
    version = Incident.objects.get(pk=incident.pk).version
    url = _change_url(incident)
    data = browser_submission(admin_client.get(url).content.decode(), "incident_form")
    data["where_lucky"] = ["Edited in the admin."]
    data["_save"] = ["Save"]
    with django_capture_on_commit_callbacks() as callbacks:
        assert admin_client.post(url, data).status_code == 302

    stored_incident = Incident.objects.get(pk=incident.pk)
    assert stored_incident.version == version + 1
    revision = stored_incident.revisions.get(version=version + 1)
    assert revision.snapshot["where_lucky"] == "Edited in the admin."
    assert revision.snapshot == snapshot(stored_incident)
    assert revision.created_by.is_superuser
    assert stored_incident.analysis_requested_at is not None
    assert callbacks, "no analysis queued after the admin save"


@pytest.mark.django_db
def test_a_stale_admin_form_is_refused_and_the_other_save_kept(admin_client):
    member = make_member()
    incident = make_awkward_review(member)
    url = _change_url(incident)
    data = browser_submission(admin_client.get(url).content.decode(), "incident_form")

    # Someone saves through the web form meanwhile.
    content = services.content_from_snapshot(snapshot(Incident.objects.get(pk=incident.pk)))
    content.fields["where_lucky"] = "Their edit."
    services.incident_update(incident=incident, by=member, content=content)
    theirs = stored_review(incident.pk)
    version = Incident.objects.get(pk=incident.pk).version
    revisions = Revision.objects.filter(incident_id=incident.pk).count()

    data["where_lucky"] = ["My stale edit."]
    data["_save"] = ["Save"]
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "changed since you opened it" in response.content.decode()
    assert stored_review(incident.pk) == theirs
    assert Incident.objects.get(pk=incident.pk).version == version
    assert Revision.objects.filter(incident_id=incident.pk).count() == revisions
    # The stale page keeps what was typed, so nothing is lost on the refusing side either.
    assert "My stale edit." in response.content.decode()


@pytest.mark.django_db
def test_a_review_added_in_the_admin_starts_its_history(admin_client):
    url = reverse("admin:incidents_incident_add")
    data = browser_submission(admin_client.get(url).content.decode(), "incident_form")
    data.update(title=["Added in the admin"], _save=["Save"])
    assert admin_client.post(url, data).status_code == 302

    incident = Incident.objects.get()
    assert incident.title == "Added in the admin"
    assert [(r.version, r.snapshot) for r in incident.revisions.all()] == [(1, snapshot(incident))]
    assert incident.version == 1
    assert incident.analysis_requested_at is not None


@pytest.mark.django_db
def test_a_recurring_structure_opens_read_only_and_a_forged_save_changes_nothing(admin_client):
    """Derived rows are shown, never edited: the analysis would overwrite an edit unseen."""
    structure = _recurring_structure()
    before = stored(RecurringStructure, structure.pk)
    url = reverse("admin:incidents_recurringstructure_change", args=[structure.pk])

    page = admin_client.get(url)
    forged = admin_client.post(url, {"incident_count": "99", "_save": "Save"})

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert forged.status_code == 403
    assert stored(RecurringStructure, structure.pk) == before
