"""`{% sso_sign_in %}`: the login page's single sign-on button, shown only when single
sign-on is set up (and what went wrong when the last attempt failed)."""

from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

register = template.Library()


@register.inclusion_tag("people/_sso_sign_in.html", takes_context=True)
def sso_sign_in(context) -> dict:
    if not getattr(settings, "SEAMS_OIDC_ENABLED", False):
        return {"enabled": False}
    request = context.get("request")
    start = reverse("people:sso_start")
    next_url = context.get("next") or ""
    if (
        next_url
        and request is not None
        and url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        start = f"{start}?{urlencode({'next': next_url})}"
    return {
        "enabled": True,
        "start": start,
        "provider": settings.OIDC_PROVIDER_NAME,
        "failed": request is not None and request.GET.get("sso") == "failed",
    }
