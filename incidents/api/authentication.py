"""`Authorization: Token <key>` for bots, checked against hashed keys."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from incidents.models import ApiToken

# Keys are 43 characters (see ApiToken.generate); anything much longer is not a key.
MAX_KEY_LENGTH = 256


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Authenticate a request by an API token; `request.auth` is the ApiToken."""

    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: expected 'Token <key>'."
            )
        if len(header[1]) > MAX_KEY_LENGTH:
            # Not worth hashing: no key Seams makes is this long.
            raise exceptions.AuthenticationFailed(
                f"Invalid token: keys are at most {MAX_KEY_LENGTH} characters long."
            )
        try:
            key = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("The token contains invalid characters.") from exc
        token = (
            ApiToken.objects.select_related("user").filter(digest=ApiToken.hash_key(key)).first()
        )
        if token is None or token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's user is inactive.")
        # Recording use at most once a minute keeps reads from turning into writes.
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Token <key>` in the OpenAPI schema."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`; make a key with `manage.py create_api_token`.",
        }
