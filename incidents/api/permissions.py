"""Who may do what through the API."""

from rest_framework import permissions

from incidents.models import ApiToken


class TokenScopePermission(permissions.BasePermission):
    """Authenticated users may read; writing needs a write-scoped token (or a session).

    A read token sent with a write method is refused with 403, not silently downgraded.
    """

    message = "This token has read scope; creating or changing reviews needs a write token."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        # A question sent by POST (e.g. "have we seen this before?") changes nothing.
        if getattr(view, "post_is_read", False) and request.method == "POST":
            return True
        if isinstance(request.auth, ApiToken):
            return request.auth.can_write
        return True  # a logged-in session user, protected by CSRF
