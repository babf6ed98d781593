"""Single sign-on through OpenID Connect (mozilla-django-oidc), set up from the environment
(config/settings/base.py, docs/people.md).

What Seams adds to the library's authorization-code flow:

- The ID token must be for this client (`aud`) and, when OIDC_OP_ISSUER is set, from that
  issuer; the user-info answer must be about the same subject.
- A person is found again by their identity at the provider (issuer + subject), so a
  changed e-mail address does not make a second account. The first time, an existing
  account is linked only when the provider says the e-mail address is verified.
- A new person gets the role SEAMS_OIDC_DEFAULT_ROLE; with SEAMS_OIDC_GROUPS_CLAIM set,
  their teams follow that claim at every sign-in (existing teams only).
- A deactivated person cannot sign in, and their open session ends.
- A provider that cannot be reached or answers nonsense fails the sign-in with a message
  on the login page, never a server error.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from .models import ExternalIdentity, Role
from .roles import set_role, teams

logger = logging.getLogger("seams.sso")

USERNAME_MAX = 150
NOT_IN_USERNAME = re.compile(r"[^\w.@+-]")


def username_from_claims(claims: dict[str, Any]) -> str:
    """A username for a new person: their preferred username at the provider, else the
    local part of their e-mail address, else their subject; only the characters Django
    allows in usernames."""
    email = claims.get("email") or ""
    for candidate in (claims.get("preferred_username"), email.partition("@")[0], claims["sub"]):
        cleaned = NOT_IN_USERNAME.sub("", str(candidate or ""))[:USERNAME_MAX]
        if cleaned:
            return cleaned
    return "sso-user"


def team_names_from_claims(claims: dict[str, Any]) -> set[str] | None:
    """The team names in the configured groups claim (None when no claim is configured).
    Keycloak's group mapper sends paths ("/sre"); the last part is the name."""
    claim = getattr(settings, "SEAMS_OIDC_GROUPS_CLAIM", "")
    if not claim:
        return None
    values = claims.get(claim) or []
    if isinstance(values, str):
        values = [values]
    return {str(value).rstrip("/").rpartition("/")[2] for value in values if str(value).strip()}


class SeamsOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend with Seams' rules for finding and making people."""

    def authenticate(self, request, **kwargs):
        try:
            return super().authenticate(request, **kwargs)
        except (requests.RequestException, SuspiciousOperation, jwt.PyJWTError, ValueError) as exc:
            # A failed sign-in is the provider's or the request's fault, not a server error:
            # the browser goes back to the login page, which says so.
            logger.warning("Single sign-on failed: %s", exc)
            return None

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        if "nonce" not in kwargs:
            return payload  # a signed user-info answer, not the ID token
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The ID token was issued for another client.")
        issuer = getattr(settings, "OIDC_OP_ISSUER", "")
        if issuer and payload.get("iss") != issuer:
            raise SuspiciousOperation("The ID token comes from another issuer.")
        if not payload.get("sub"):
            raise SuspiciousOperation("The ID token names no subject.")
        return payload

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        if claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("The user-info answer is about someone else.")
        if not self.verify_claims(claims):
            raise SuspiciousOperation("The provider did not send the claims Seams needs.")
        issuer, subject = str(payload.get("iss", "")), str(payload["sub"])
        with transaction.atomic():
            identity = (
                ExternalIdentity.objects.select_related("user")
                .filter(issuer=issuer, subject=subject)
                .first()
            )
            if identity is not None:
                user = identity.user
            else:
                user = self._verified_email_owner(claims) or self.create_user(claims)
                ExternalIdentity.objects.create(user=user, issuer=issuer, subject=subject)
            return self.update_user(user, claims)

    def _verified_email_owner(self, claims) -> AbstractBaseUser | None:
        """The one existing account with the claimed e-mail address, when the provider
        verified it (an unverified address could be anyone's)."""
        email = claims.get("email")
        if not email or claims.get("email_verified") is not True:
            return None
        owners = list(self.UserModel.objects.filter(email__iexact=email)[:2])
        if len(owners) > 1:
            raise SuspiciousOperation("Several accounts have this e-mail address.")
        return owners[0] if owners else None

    def create_user(self, claims):
        base = username_from_claims(claims)
        username, n = base, 1
        while self.UserModel.objects.filter(username__iexact=username).exists():
            n += 1
            suffix = f"-{n}"
            username = base[: USERNAME_MAX - len(suffix)] + suffix
        user = self.UserModel.objects.create_user(
            username,
            email=claims.get("email") or "",
            first_name=str(claims.get("given_name") or "")[:150],
            last_name=str(claims.get("family_name") or "")[:150],
        )  # no password: this person signs in through the provider
        set_role(user, Role(settings.SEAMS_OIDC_DEFAULT_ROLE))
        return user

    def update_user(self, user, claims):
        names = team_names_from_claims(claims)
        if names is not None:
            current = set(user.groups.filter(pk__in=teams()).values_list("pk", flat=True))
            wanted = set(teams().filter(name__in=names).values_list("pk", flat=True))
            user.groups.remove(*(current - wanted))
            user.groups.add(*(wanted - current))
        return user

    def get_user(self, user_id):
        # The library's own returns deactivated people too, which would keep their session.
        user = super().get_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
