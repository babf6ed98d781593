"""Who may do what through the API.

Two checks, in this order: the token's scope (may it write at all?), then the review's own
rules in `incidents.permissions` (may its user change this review?). A token acts as its
user: it can never do more than that user could in the web pages.
"""

from rest_framework import permissions

from incidents import permissions as rules
from incidents.models import ApiToken, Incident


class TokenScopePermission(permissions.BasePermission):
    """Authenticated users may read; writing needs a write-scoped token (or a session), and
    changing a review needs its author, a named reviewer or an editor behind the request.

    A read token sent with a write method is refused with 403, not silently downgraded.
    """

    message = "This token has read scope; creating or changing reviews needs a write token."
    edit_message = (
        "Only this review's author, its named reviewers and editors may change it; "
        "this token acts as {user}, who is none of these."
    )

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

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in permissions.SAFE_METHODS or not isinstance(obj, Incident):
            return True  # reading: the view's queryset already holds only what may be seen
        if rules.can_edit(request.user, obj):
            return True
        self.message = self.edit_message.format(user=request.user.get_username())
        return False
