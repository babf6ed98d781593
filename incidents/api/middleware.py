"""Request limits that must answer in the API's one error shape."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from .errors import error_body


class UriLengthLimitMiddleware:
    """Refuse over-long URLs with 414 and a message that names the limit.

    gunicorn's own request-line limit answers with an HTML page, which a bot cannot parse
    and the OpenAPI contract cannot describe. gunicorn's limit is therefore lifted (see
    `config/gunicorn.conf.py`) and the limit enforced here instead, so every client gets
    the documented error document.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.SEAMS_MAX_URI_LENGTH
        length = len(request.path_info.encode()) + len(request.META.get("QUERY_STRING", ""))
        if length > limit:
            message = (
                f"This URL is {length:,} bytes long; Seams accepts at most {limit:,}. "
                "Send fewer or shorter query parameters (for long text use POST "
                "/api/v1/similar/)."
            )
            if request.path_info.startswith("/api/"):
                return JsonResponse(error_body(414, "uri_too_long", message), status=414)
            return HttpResponse(message, status=414, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
