"""Per-token rate limits: each bot gets its own budget, answered with 429 and Retry-After."""

import logging

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from incidents.models import ApiToken

logger = logging.getLogger("seams.throttle")


class TokenRateThrottle(SimpleRateThrottle):
    """One budget per API token (or per logged-in user, or per address when anonymous).

    A runaway bot exhausts its own budget, not everyone's: the retry storm the seeds warn
    about is stopped at the door, and `Retry-After` tells a well-behaved client when to come
    back.
    """

    scope = "token"

    def get_rate(self):
        # Read at request time, so a changed setting (or a test's override) takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        # The budget lives in the cache (Redis on the real stack). A rate limit protects
        # Seams; it must never be the reason a request fails, so when the cache cannot be
        # reached the request goes through (fail open) and the log says so, once a minute.
        try:
            return super().allow_request(request, view)
        except Exception as error:
            logger.warning(
                "API throttle failed open: its cache is unreachable (%s: %s); requests are "
                "not rate-limited until it is back",
                type(error).__name__,
                error,
            )
            self.history = []
            return True
