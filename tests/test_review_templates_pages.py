"""The pages where an organisation defines its review templates."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from incidents.models import Incident
from review_templates.models import ReviewTemplate

from .factories import GroupFactory, IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(client):
    """Someone allowed to define templates (the permission Django names for the model)."""
    person = UserFactory(username="template-keeper")
    person.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="review_templates", codename="change_reviewtemplate"
        )
    )
    client.force_login(person)
    return client


def _data(**overrides) -> dict:
    data = {
        "name": "Data loss",
        "description": "When data was lost or damaged.",
        "required_sections": ["summary", "impact", "timeline"],
        "timeline_kinds": "Detection, mitigation; recovery",
        "prompt_impact": "Which data, whose, and can it be restored?",
    }
    return {**data, **overrides}


PAGES = [
    ("get", "review_templates:list", False),
    ("get", "review_templates:create", False),
    ("get", "review_templates:edit", True),
    ("get", "review_templates:delete", True),
    ("post", "review_templates:delete", True),
]


@pytest.mark.parametrize(("method", "name", "needs_pk"), PAGES)
def test_anonymous_people_are_sent_to_log_in(client, method, name, needs_pk):
    template = ReviewTemplate.objects.create(name="Anything")
    url = reverse(name, args=[template.pk] if needs_pk else [])
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert ReviewTemplate.objects.filter(pk=template.pk).exists()


@pytest.mark.parametrize(("method", "name", "needs_pk"), PAGES)
def test_a_person_without_the_permission_is_refused_with_a_reason(
    logged_in, method, name, needs_pk
):
    template = ReviewTemplate.objects.create(name="Anything")
    url = reverse(name, args=[template.pk] if needs_pk else [])
    response = getattr(logged_in, method)(url)
    assert response.status_code == 403
    assert "define review templates" in response.content.decode()
    assert ReviewTemplate.objects.filter(pk=template.pk).exists()


def test_a_superuser_may_define_templates(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    assert client.get(reverse("review_templates:list")).status_code == 200


def test_a_template_is_created_with_its_sections_kinds_and_prompts(manager):
    response = manager.post(reverse("review_templates:create"), _data())
    assert response.status_code == 302
    template = ReviewTemplate.objects.get(name="Data loss")
    assert template.required_sections == ["summary", "impact", "timeline"]
    assert template.timeline_kinds == ["detection", "mitigation", "recovery"]
    assert template.prompts == {"impact": "Which data, whose, and can it be restored?"}
    assert not template.is_default

    html = manager.get(reverse("review_templates:list")).content.decode()
    assert "Data loss" in html
    assert "Summary, Impact, Timeline" in html


def test_an_unknown_timeline_kind_and_a_taken_name_are_refused_with_useful_messages(manager):
    ReviewTemplate.objects.create(name="Data loss")
    response = manager.post(
        reverse("review_templates:create"),
        _data(name="data LOSS", timeline_kinds="detection, explosion"),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "The template was not saved" in html
    assert "Not a timeline kind: explosion. The kinds are: trigger, detection" in html
    assert "There is already a template called “data LOSS”" in html
    assert ReviewTemplate.objects.filter(name__iexact="data loss").count() == 1


def test_a_name_that_is_only_a_number_is_refused(manager):
    response = manager.post(reverse("review_templates:create"), _data(name="42"))
    assert "A name needs a letter" in response.content.decode()
    assert not ReviewTemplate.objects.filter(name="42").exists()


def test_an_unknown_section_cannot_be_required(manager):
    response = manager.post(
        reverse("review_templates:create"), _data(required_sections=["summary", "lessons"])
    )
    assert "Select a valid choice. lessons is not one of the available choices." in (
        response.content.decode()
    )
    assert not ReviewTemplate.objects.filter(name="Data loss").exists()


def test_editing_shows_what_is_stored_and_making_a_template_the_default_replaces_the_old(
    manager,
):
    ReviewTemplate.objects.filter(is_default=True).update(is_default=False)
    old = ReviewTemplate.objects.create(name="Old default", is_default=True)
    template = ReviewTemplate.objects.create(
        name="Data loss", timeline_kinds=["detection", "recovery"], prompts={"summary": "Q?"}
    )
    url = reverse("review_templates:edit", args=[template.pk])
    html = manager.get(url).content.decode()
    assert 'value="detection, recovery"' in html
    assert "Q?</textarea>" in html

    response = manager.post(url, _data(make_default="on"))
    assert response.status_code == 302
    template.refresh_from_db()
    old.refresh_from_db()
    assert template.is_default
    assert not old.is_default
    assert template.description == "When data was lost or damaged."


def test_deleting_a_template_keeps_its_reviews_and_says_so_first(manager):
    template = ReviewTemplate.objects.create(name="Doomed")
    kept = IncidentFactory(title="Written from it", template=template)
    hidden = IncidentFactory(title="Secret", template=template, restricted_to=GroupFactory())
    url = reverse("review_templates:delete", args=[template.pk])

    page = manager.get(url).content.decode()
    # The reader may not see the restricted review: it is not counted for them.
    assert "1 review you can see was written from this template" in page
    assert "kept exactly as it is" in page

    response = manager.post(url, follow=True)
    assert "deleted. The reviews written from it are kept as they are." in (
        response.content.decode()
    )
    assert not ReviewTemplate.objects.filter(pk=template.pk).exists()
    kept.refresh_from_db()
    assert kept.title == "Written from it"
    assert kept.template is None
    assert Incident.objects.filter(pk=hidden.pk, template=None).exists()


def test_an_unknown_template_is_404(manager):
    assert manager.get(reverse("review_templates:edit", args=[999999])).status_code == 404


def test_the_list_counts_only_reviews_the_reader_may_see(manager):
    template = ReviewTemplate.objects.create(name="Counted")
    IncidentFactory(template=template)
    IncidentFactory(template=template, restricted_to=GroupFactory())
    response = manager.get(reverse("review_templates:list"))
    row = next(r for r in response.context["rows"] if r["template"].pk == template.pk)
    assert row["template"].visible_reviews == 1


def test_the_list_costs_the_same_few_queries_however_many_templates(
    manager, django_assert_max_num_queries
):
    for n in range(30):
        template = ReviewTemplate.objects.create(
            name=f"Template {n}", required_sections=["summary"], timeline_kinds=["trigger"]
        )
        IncidentFactory(template=template)
    # Session, user, permissions (user's and groups'), the templates with their counts.
    with django_assert_max_num_queries(6):
        response = manager.get(reverse("review_templates:list"))
    assert response.status_code == 200
    assert response.content.decode().count("Template ") >= 30
