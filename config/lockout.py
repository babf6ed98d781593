"""The page a locked-out login gets: the login form again, saying why and for how long.

django-axes calls `locked_out` instead of checking the password once an account or an
address has had too many failed logins. The same page answers the admin's login, so a
person is never left with a bare 403.
"""

from __future__ import annotations

from axes.helpers import get_cool_off
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def lockout_message(request: HttpRequest) -> str:
    """What a locked-out person reads: what happened and when to try again."""
    cool_off = get_cool_off(request)
    minutes = round(cool_off.total_seconds() / 60) if cool_off else None
    wait = f"Try again in {minutes} minutes" if minutes else "Ask an administrator to unlock it"
    return (
        "Too many failed logins for this account or from this address, so logging in is "
        f"locked for now, even with the right password. {wait}, or ask an administrator."
    )


def locked_out(request: HttpRequest, response=None, credentials=None) -> HttpResponse:
    """429 with the login form and the lockout message (django-axes' AXES_LOCKOUT_CALLABLE)."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username})
    return render(
        request,
        "registration/login.html",
        {"form": form, "locked_out": lockout_message(request), "next": request.GET.get("next", "")},
        status=429,
    )
