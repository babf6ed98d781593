"""Request guards that must answer in the API's one error shape, whatever the server."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from incidents.bounds import CONTROL_CHARACTERS

from .errors import bad_request, error_body, not_found

request_logger = logging.getLogger("django.request")


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def _refuse(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body(status, code, message), status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


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
            return _refuse(request, 414, "uri_too_long", message)
        return self.get_response(request)


class ControlCharacterMiddleware:
    """Refuse a URL whose path or query holds NUL or another control character, with 400.

    No path segment, slug, filter or search of Seams needs one, and PostgreSQL refuses NUL in
    any query: checked once here, no view has to remember it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if CONTROL_CHARACTERS.search(request.path_info):
            return _refuse(
                request, 400, "bad_request", "The URL path contains a control character."
            )
        for name, values in request.GET.lists():
            if CONTROL_CHARACTERS.search(name) or any(CONTROL_CHARACTERS.search(v) for v in values):
                return _refuse(
                    request,
                    400,
                    "bad_request",
                    f"The query parameter {name[:40]!r} contains a control character "
                    "(such as NUL); remove it and try again.",
                )
        return self.get_response(request)


class ApiErrorMiddleware:
    """Errors under /api/ answer in the error shape with DEBUG on too.

    With DEBUG on, Django answers an exception with its HTML debug page; bots and the
    OpenAPI contract get the same JSON from the development server as from production.
    The traceback is still logged (and printed by the development server).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not _is_api(request):
            return None
        if isinstance(exc, Http404):
            return not_found(request, exc)
        if isinstance(exc, PermissionDenied):
            return JsonResponse(
                error_body(403, "permission_denied", str(exc) or "Not allowed."), status=403
            )
        if isinstance(exc, SuspiciousOperation):
            return bad_request(request, exc)
        request_logger.error(
            "Internal Server Error: %s",
            request.path,
            exc_info=exc,
            extra={"status_code": 500, "request": request},
        )
        return JsonResponse(
            error_body(500, "server_error", "Seams hit an internal error; it has been logged."),
            status=500,
        )
