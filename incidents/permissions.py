"""Who may do what to a review: the one place the rules live.

The web views, the API and the admin all ask these functions, so the three cannot drift
apart. An API token acts as its user (its scope decides only whether it may write at all).

The model (docs/security.md has the same rules as a table):

- **See**: unrestricted reviews are visible to every logged-in user; a review restricted to
  a group only to that group's members. Superusers see everything.
- **Edit, restore, answer suggestions**: the author (`created_by`), the named reviewers, and
  editors. An *editor* is a superuser or a user with Django's `incidents.change_incident`
  permission; editors may edit any review they can see. A review with no author (imported,
  or loaded without a login) is editable by editors only.
- **Send for review**: whoever may edit; a published review goes back to review only by an
  editor, and only when they say so explicitly (never as a side effect).
- **Approve or request changes**: a named reviewer who is not the author, while the review
  is in review (`reviewflow.gate`).
- **Publish**: a named reviewer who is not the author, or a user with the
  `incidents.publish_incident` permission (superusers have every permission) — and only
  through the publish gate, for them too: every required section, `SEAMS_REQUIRED_APPROVALS`
  (default 1) current approvals by named reviewers other than the author, and no outstanding
  request for changes (docs/review-workflow.md).
- **Restrict**: only to a group the user belongs to (superusers: any group); lifting or
  changing a restriction only by a member of the current group (or a superuser), so nobody
  can lose a review by restricting it away from themselves.
- **Comment**: anyone who can see the review.
- **Write a new review**: users with `incidents.add_incident` (the Author, Reviewer and Admin
  roles of `people.roles`); Readers read and comment only.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission
from django.db.models import Exists, OuterRef, Q, QuerySet

from .models import Component, Incident

User = AbstractBaseUser | AnonymousUser

EDIT_PERMISSION = "incidents.change_incident"
# May be named a reviewer (and so approve or request changes). The permission is the people
# app's (its Reviewer and Admin roles carry it); it is named here, not imported, so that the
# rule lives with the others without incidents depending on the app above it.
REVIEW_PERMISSION = "people.review_incidents"
PUBLISH_PERMISSION = "incidents.publish_incident"
CREATE_PERMISSION = "incidents.add_incident"
# What a refused new review says (a Reader's role is to read and comment).
CREATE_REFUSED = (
    "Your role lets you read and comment on reviews, not write them. "
    "Ask an admin of Seams for the Author role."
)
# Groups named so are roles (people.roles: what a person may do), not teams: a review is
# never restricted to one, and no list of teams offers them.
ROLE_GROUP_PREFIX = "Role: "
# What a refused edit says, in the web pages and the API alike.
EDIT_REFUSED = (
    "Only this review's author, its named reviewers and editors may change it. "
    "Ask one of them, or comment on the review instead."
)


def _in_group(user: User, group_id: int | None) -> bool:
    return group_id is not None and user.groups.filter(pk=group_id).exists()


def can_view(user: User, incident: Incident) -> bool:
    """Whether the user may see this review at all (the per-object form of
    `Incident.objects.visible_to`)."""
    if not user.is_authenticated:
        return False
    if user.is_superuser or incident.restricted_to_id is None:
        return True
    return _in_group(user, incident.restricted_to_id)


def is_editor(user: User) -> bool:
    """Editors may edit every review they can see, whoever wrote it."""
    return user.is_authenticated and (user.is_superuser or user.has_perm(EDIT_PERMISSION))


def is_author(user: User, incident: Incident) -> bool:
    """Whether the user wrote the review (reviews without an author have none)."""
    return (
        user.is_authenticated
        and incident.created_by_id is not None
        and incident.created_by_id == user.pk
    )


def is_reviewer(user: User, incident: Incident) -> bool:
    """Whether the user is one of the review's named reviewers."""
    if not user.is_authenticated or incident.pk is None:
        return False
    # `.all()`, not a filter: a page that prefetched the reviewers asks no query here.
    return any(reviewer.pk == user.pk for reviewer in incident.reviewers.all())


def can_create(user: User) -> bool:
    """Write a new review (web form and API): users with Django's `incidents.add_incident`
    permission, which the Author, Reviewer and Admin roles carry (superusers have every
    permission). Readers read and comment only."""
    return user.is_authenticated and user.has_perm(CREATE_PERMISSION)


def can_edit(user: User, incident: Incident) -> bool:
    """Edit the review's content (web form, API PATCH and appends, admin change page),
    restore an old version, or accept or reject a suggestion for it."""
    if not can_view(user, incident):
        return False
    # Cheapest first: the author and reviewer checks need no permission lookup.
    return is_author(user, incident) or is_reviewer(user, incident) or is_editor(user)


can_restore = can_edit


def can_request_review(user: User, incident: Incident) -> bool:
    """Send the review to named reviewers. A published review can be sent back to review
    only by an editor (the caller must also make them confirm it)."""
    if not can_edit(user, incident):
        return False
    if incident.status == Incident.Status.PUBLISHED:
        return is_editor(user)
    return True


def can_publish(user: User, incident: Incident) -> bool:
    """Press Publish: a named reviewer other than the author, or a user with the
    `publish_incident` permission. Whether it then publishes is the publish gate's call
    (`services.incident_publish`: sections, and the approvals `reviewflow` requires); an
    author cannot approve their own review."""
    if not can_view(user, incident) or incident.status == Incident.Status.PUBLISHED:
        return False
    if user.has_perm(PUBLISH_PERMISSION):
        return True
    return is_reviewer(user, incident) and not is_author(user, incident)


def can_comment(user: User, incident: Incident) -> bool:
    """Comment on the review: every reader may."""
    return can_view(user, incident)


def can_delete(user: User, incident: Incident) -> bool:
    """Delete the review (admin only): superusers, or users with Django's delete permission
    who can see it."""
    return can_view(user, incident) and (
        user.is_superuser or user.has_perm("incidents.delete_incident")
    )


def can_restrict_to(user: User, group: Group | None) -> bool:
    """Restrict a review to `group`: only a group the user belongs to (superusers: any).
    `None` (no restriction) is always allowed here; lifting a restriction is
    `can_change_restriction`'s concern."""
    if group is None:
        return user.is_authenticated
    if group.name.startswith(ROLE_GROUP_PREFIX):
        return False
    return user.is_authenticated and (user.is_superuser or _in_group(user, group.pk))


def can_change_restriction(user: User, incident: Incident, group: Group | None) -> bool:
    """Move a review from its current restriction to `group` (either may be none): the
    user must belong to the group it leaves and to the group it enters."""
    current = incident.restricted_to_id
    new = group.pk if group is not None else None
    if current == new:
        return True
    leaving_ok = current is None or user.is_superuser or _in_group(user, current)
    return leaving_ok and can_restrict_to(user, group)


def restrictable_groups(user: User) -> QuerySet[Group]:
    """The groups the user may restrict a review to (the choices of every edit form)."""
    if not user.is_authenticated:
        return Group.objects.none()
    teams = Group.objects.exclude(name__startswith=ROLE_GROUP_PREFIX)
    if user.is_superuser:
        return teams.order_by("name")
    return teams.filter(user=user).order_by("name")


def assignable_teams(user: User) -> QuerySet[Group]:
    """The teams (groups) the user may make the owner of an action item: those they belong
    to, and those no review is restricted to (superusers: any). A group that restricts a
    review is a closed circle whose very name only its members see, so it is offered, and
    accepted, only to them. Roles are not teams."""
    if not user.is_authenticated:
        return Group.objects.none()
    teams = Group.objects.exclude(name__startswith=ROLE_GROUP_PREFIX)
    if user.is_superuser:
        return teams
    restricting = Incident.objects.filter(restricted_to_id=OuterRef("pk"))
    mine = Group.objects.filter(user=user).values("pk")
    return teams.filter(Q(pk__in=mine) | ~Q(Exists(restricting)))


def visible_components(user: User) -> QuerySet[Component]:
    """Components the user may know exist: those used by a review the user can see, and
    those no review uses yet. A component only restricted reviews use is their content."""
    used = Incident.components.through.objects.filter(component_id=OuterRef("pk"))
    visible = Incident.objects.visible_to(user).values("pk")
    return Component.objects.filter(
        Q(Exists(used.filter(incident_id__in=visible))) | ~Q(Exists(used))
    )


def may_review(user: User) -> bool:
    """Whether the person may be named a reviewer: active, with the Reviewer or Admin role
    (the review permission) or a superuser."""
    return user.is_authenticated and user.is_active and user.has_perm(REVIEW_PERMISSION)


def reviewer_candidates() -> QuerySet:
    """The people who may be named reviewers, for the "Send for review" choices."""
    app_label, codename = REVIEW_PERMISSION.split(".")
    perm = Q(content_type__app_label=app_label, codename=codename)
    holders = Q(is_superuser=True) | Q(
        pk__in=get_user_model()
        .objects.filter(
            Q(user_permissions__in=Permission.objects.filter(perm))
            | Q(groups__permissions__in=Permission.objects.filter(perm))
        )
        .values("pk")
    )
    return get_user_model().objects.filter(holders, is_active=True).order_by("username")
