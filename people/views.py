"""Web pages of the people app: people and their roles, teams, invitations, single sign-on.

Every page but accepting an invitation (and signing in) is for admins: people with the
`people.manage_people` permission (the Admin role) and superusers.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from . import accounts, invitations
from . import teams as team_ops
from .forms import AcceptInvitationForm, InviteForm, MemberForm, RoleForm, TeamForm
from .models import Role
from .roles import (
    MANAGE_REFUSED,
    RoleError,
    can_manage_people,
    role_from_group_names,
    role_of,
    teams,
)

PAGE_SIZE = 50


def admins_only(view):
    """Logged-in admins only: others are sent to log in (anonymous) or refused (403)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not can_manage_people(request.user):
            raise PermissionDenied(MANAGE_REFUSED)
        return view(request, *args, **kwargs)

    return wrapper


def _people():
    return get_user_model().objects.prefetch_related(
        Prefetch("groups", queryset=Group.objects.order_by("name"))
    )


def _describe(person) -> dict:
    """A person as the pages show them: role and teams from the prefetched groups."""
    groups = list(person.groups.all())
    return {
        "person": person,
        "role": role_from_group_names(group.name for group in groups),
        "teams": [group for group in groups if role_from_group_names([group.name]) is None],
    }


@admins_only
@require_http_methods(["GET"])
def people_list(request: HttpRequest) -> HttpResponse:
    """Everyone with an account: name, e-mail, role, teams, whether active, last login."""
    query = request.GET.get("q", "").strip()[:150]
    people = _people().order_by("username", "pk")
    if query:
        people = people.filter(
            Q(username__icontains=query)
            | Q(email__icontains=query)
            | Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
        )
    page = Paginator(people, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [_describe(person) for person in page.object_list]
    return render(request, "people/list.html", {"page": page, "rows": rows, "q": query})


@admins_only
@require_http_methods(["GET"])
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One person: their role (to change), their teams, deactivate or reactivate."""
    person = get_object_or_404(_people(), pk=pk)
    row = _describe(person)
    form = RoleForm(initial={"role": row["role"] or Role.READER})
    return render(request, "people/person.html", {**row, "form": form})


@admins_only
@require_POST
def change_role(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(get_user_model(), pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return render(
            request, "people/person.html", {**_describe(person), "form": form}, status=400
        )
    try:
        accounts.change_role(person=person, role=form.cleaned_data["role"], by=request.user)
    except RoleError as error:
        messages.error(request, str(error))
        return render(
            request, "people/person.html", {**_describe(person), "form": form}, status=409
        )
    messages.success(
        request, f"{person.get_username()} is now {Role(form.cleaned_data['role']).label}."
    )
    return redirect("people:detail", pk=person.pk)


@admins_only
@require_POST
def set_active(request: HttpRequest, pk: int, active: bool) -> HttpResponse:
    person = get_object_or_404(get_user_model(), pk=pk)
    try:
        if active:
            accounts.reactivate(person=person, by=request.user)
        else:
            accounts.deactivate(person=person, by=request.user)
    except RoleError as error:
        messages.error(request, str(error))
        form = RoleForm(initial={"role": role_of(person) or Role.READER})
        return render(
            request, "people/person.html", {**_describe(person), "form": form}, status=409
        )
    if active:
        messages.success(request, f"{person.get_username()} can log in again.")
    else:
        messages.success(
            request,
            f"{person.get_username()} is deactivated: they can no longer log in or use "
            "their API tokens. Their reviews and comments stay.",
        )
    return redirect("people:detail", pk=person.pk)


@admins_only
@require_http_methods(["GET", "POST"])
def team_list(request: HttpRequest) -> HttpResponse:
    """Every team with its number of members; a form to create one."""
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = team_ops.create_team(form.cleaned_data["name"])
        messages.success(request, f"Team “{team.name}” created: now add its members.")
        return redirect("people:team", pk=team.pk)
    all_teams = teams().annotate(members=Count("user")).order_by("name")
    status = 400 if form.is_bound else 200
    return render(request, "people/teams.html", {"teams": all_teams, "form": form}, status=status)


def _team_page(request, team, form, status=200) -> HttpResponse:
    members = team.user_set.order_by("username")
    return render(
        request, "people/team.html", {"team": team, "members": members, "form": form}, status=status
    )


@admins_only
@require_http_methods(["GET", "POST"])
def team_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A team's members; add someone by username."""
    team = get_object_or_404(teams(), pk=pk)
    form = MemberForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            return _team_page(request, team, form, status=400)
        person = form.cleaned_data["username"]
        if team_ops.add_member(team, person):
            messages.success(request, f"{person.get_username()} joined {team.name}.")
        else:
            messages.info(request, f"{person.get_username()} was already in {team.name}.")
        return redirect("people:team", pk=team.pk)
    return _team_page(request, team, form)


@admins_only
@require_POST
def team_remove(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    team = get_object_or_404(teams(), pk=pk)
    person = get_object_or_404(get_user_model(), pk=user_pk)
    if team_ops.remove_member(team, person):
        messages.success(request, f"{person.get_username()} left {team.name}.")
    else:
        messages.info(request, f"{person.get_username()} was not in {team.name}.")
    return redirect("people:team", pk=team.pk)


@admins_only
@require_http_methods(["GET", "POST"])
def invite(request: HttpRequest) -> HttpResponse:
    """Invite someone by e-mail with a role and teams."""
    form = InviteForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "people/invite.html", {"form": form}, status=400)
        data = form.cleaned_data
        try:
            sent = invitations.invite(
                email=data["email"], role=data["role"], teams=data["teams"], by=request.user
            )
        except invitations.InvitationError as error:
            form.add_error("email", str(error))
            return render(request, "people/invite.html", {"form": form}, status=error.status)
        except invitations.EmailNotSent as unsent:
            # The invitation is made; only the e-mail failed. Its link is shown once, here,
            # so the admin can pass it on another way.
            context = {"form": InviteForm(), "unsent_email": data["email"], "unsent": unsent}
            return render(request, "people/invite.html", context, status=502)
        messages.success(
            request,
            f"Invitation sent to {sent.invitation.email}; the link works once, for "
            f"{settings.SEAMS_INVITE_DAYS} days.",
        )
        return redirect("people:invite")
    return render(request, "people/invite.html", {"form": form})


@require_http_methods(["GET", "POST"])
def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The invitee chooses a username and password, and is logged in."""
    try:
        invitation = invitations.open_invitation(token)
    except invitations.InvitationError as error:
        return render(
            request, "people/invitation_invalid.html", {"message": str(error)}, status=error.status
        )
    form = AcceptInvitationForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = invitations.accept(
                invitation=invitation,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
            )
        except invitations.InvitationError as error:
            return render(
                request,
                "people/invitation_invalid.html",
                {"message": str(error)},
                status=error.status,
            )
        except IntegrityError:
            form.add_error("username", "Someone took this username just now; choose another.")
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to Seams, {user.get_username()}.")
            return redirect(settings.LOGIN_REDIRECT_URL)
    status = 400 if form.is_bound else 200
    context = {"form": form, "invitation": invitation}
    return render(request, "people/accept.html", context, status=status)


def _sso_enabled() -> None:
    if not getattr(settings, "SEAMS_OIDC_ENABLED", False):
        raise Http404("Single sign-on is not configured.")


_sso_start = OIDCAuthenticationRequestView.as_view()
_sso_callback = OIDCAuthenticationCallbackView.as_view()


@require_http_methods(["GET"])
def sso_start(request: HttpRequest) -> HttpResponse:
    """Send the browser to the identity provider (only when single sign-on is set up)."""
    _sso_enabled()
    return _sso_start(request)


@require_http_methods(["GET"])
def sso_callback(request: HttpRequest) -> HttpResponse:
    """Where the identity provider sends the browser back with a one-time code."""
    _sso_enabled()
    return _sso_callback(request)
