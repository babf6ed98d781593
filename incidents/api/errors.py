"""The one error shape of the whole API.

Every error answer, whatever raised it, looks like:

    {"error": {"status": 400, "code": "invalid", "message": "…", "fields": {"patterns": ["…"]}}}

`fields` is present only for validation errors and maps a field path to its messages.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from common.api.errors import error_body
from review_templates.api import REFUSED_STATUS, refusal_body
from review_templates.requirements import RequiredSectionsEmpty

__all__ = ["api_exception_handler", "bad_request", "error_body", "not_found", "server_error"]


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error details into {"field.sub": ["message", …]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # an item of a list field, e.g. patterns[0]
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, path))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                out.update(_flatten(item, f"{prefix}[{index}]"))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler that answers every error in the one shape."""
    if isinstance(exc, RequiredSectionsEmpty):
        # Sent for review while its template requires an empty section: whichever endpoint
        # called the service, the answer names the sections.
        return Response(refusal_body(exc), status=REFUSED_STATUS)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let it surface as a 500 (JSON via `server_error` below)
    if isinstance(exc, exceptions.ValidationError):
        fields = {k: v for k, v in _flatten(exc.detail).items() if k != "non_field_errors"}
        general = _flatten(exc.detail).get("non_field_errors")
        message = general[0] if general else "The request has invalid fields; see `fields`."
        response.data = error_body(response.status_code, "invalid", message, fields)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = error_body(response.status_code, str(code), str(detail))
    return response


def not_found(request, exception=None):
    """404 for any URL: JSON in the error shape under /api/, the usual page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body(404, "not_found", f"No API endpoint at {request.path}."),
            status=status.HTTP_404_NOT_FOUND,
        )
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request):
    """500 for any URL: JSON in the error shape under /api/, the usual page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body(500, "server_error", "Seams hit an internal error; it has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    from django.views.defaults import server_error as page_server_error

    return page_server_error(request)


def bad_request(request, exception=None):
    """400 for any URL. A request over the upload limit gets a message naming the limit."""
    from django.conf import settings
    from django.core.exceptions import RequestDataTooBig
    from django.http import HttpResponseBadRequest

    if isinstance(exception, RequestDataTooBig):
        limit_mb = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)
        message = (
            f"This request is larger than Seams accepts ({limit_mb} MB). Nothing was saved; "
            "go back, shorten the longest sections (each may hold "
            f"{settings.SEAMS_MAX_SECTION_CHARS:,} characters) and save again."
        )
    else:
        message = "Seams could not read this request."
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(400, "bad_request", message), status=400)
    return HttpResponseBadRequest(
        f"<!doctype html><title>Too large</title><h1>Not saved</h1><p>{message}</p>"
    )
