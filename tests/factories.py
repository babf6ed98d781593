"""factory_boy factories for reviews and their parts."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from incidents import services
from incidents.models import Component, Incident
from people.models import Role
from people.roles import set_role
from taxonomy.models import EmergentShape, StructuralPattern


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True  # the role hook saves what it changes

    username = factory.Sequence(lambda n: f"engineer{n}")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def role(obj, create, extracted, **kwargs):
        """The person's role (people.roles): Reviewer unless `role=` says otherwise
        ("reader", "author", "admin"; "" for none), as everyone could write and review
        before roles (and the migration that brought them made everyone a Reviewer)."""
        if not create or extracted == "":
            return
        set_role(obj, Role(extracted or Role.REVIEWER))


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"group{n}")


class ComponentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Component
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Component {n}")
    slug = factory.LazyAttribute(lambda o: o.name.lower().replace(" ", "-"))


class IncidentFactory(factory.django.DjangoModelFactory):
    """A bare incident row (no parts, no analysis); use `review()` for a full save."""

    class Meta:
        model = Incident

    title = factory.Sequence(lambda n: f"Incident {n}")
    status = Incident.Status.PUBLISHED
    summary = "Something degraded."
    started_at = factory.Sequence(lambda n: timezone.now() - dt.timedelta(days=1000 - n))


def review(
    *,
    title: str = "A review",
    patterns: list[str] = (),
    shapes: list[str] = (),
    components: list[str] = (),
    started_at: dt.datetime | None = None,
    by=None,
    **fields,
) -> Incident:
    """Save a review through the service, as the UI and API do (analysis included)."""
    content = services.ReviewContent(
        fields={"title": title, "started_at": started_at or timezone.now(), **fields},
        shapes=list(EmergentShape.objects.filter(slug__in=shapes)),
        components=list(components),
        patterns=[
            services.PatternClaim(
                pattern=StructuralPattern.objects.get(slug=slug), rationale=f"Shows {slug}."
            )
            for slug in patterns
        ],
    )
    return services.incident_create(by=by, content=content)
