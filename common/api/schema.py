"""The documented error answers of the API, shared by every viewset (the catalogue's too)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema

from .errors import ErrorSerializer


def documented_error(status: int, code: str, message: str, description: str, fields=None):
    """An error answer for the OpenAPI schema: the shared error shape with one example."""
    body = {"status": status, "code": code, "message": message}
    if fields:
        body["fields"] = fields
    return OpenApiResponse(
        ErrorSerializer,
        description=description,
        examples=[OpenApiExample(code, value={"error": body}, status_codes=[str(status)])],
    )


ERRORS = {
    400: documented_error(
        400, "invalid", "The request has invalid fields; see `fields`.",
        "Invalid input; see `error.fields`.",
        {"patterns[0].slug": ["Unknown structural pattern 'x'; see /api/v1/patterns/ for the "
                              "valid slugs."]},
    ),
    401: documented_error(401, "not_authenticated", "Authentication credentials were not provided.",
                "No or invalid token."),
    403: documented_error(403, "permission_denied",
                "This token has read scope; creating or changing reviews needs a write token.",
                "The token's scope does not allow this."),
    404: documented_error(404, "not_found", "No Incident matches the given query.",
                "Not found, or not visible to you."),
}  # fmt: skip
READ_ERRORS = {code: ERRORS[code] for code in (401, 403)}
# Lists also answer 400 (an unknown filter value) and 404 (a page past the end).
LIST_ERRORS = {
    **READ_ERRORS,
    400: ERRORS[400],
    404: documented_error(404, "not_found", "Invalid page.", "No such page."),
}


def read_only_schema(title: str, serializer) -> dict:
    """OpenAPI descriptions of a read-only viewset's list and detail, errors included."""
    return {
        "list": extend_schema(
            summary=f"{title}: list", responses={200: serializer(many=True), **LIST_ERRORS}
        ),
        "retrieve": extend_schema(
            summary=f"{title}: one",
            responses={200: serializer, **READ_ERRORS, 404: ERRORS[404]},
        ),
    }
