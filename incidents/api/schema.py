"""OpenAPI helpers shared by every API viewset: the documented error answers."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema

from .serializers import ErrorSerializer

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input; see `error.fields`."),
    401: OpenApiResponse(ErrorSerializer, description="No or invalid token."),
    403: OpenApiResponse(ErrorSerializer, description="The token's scope does not allow this."),
    404: OpenApiResponse(ErrorSerializer, description="Not found, or not visible to you."),
}
READ_ERRORS = {code: ERRORS[code] for code in (401, 403)}


def read_only_schema(title: str, serializer) -> dict:
    """OpenAPI descriptions of a read-only viewset's list and detail, errors included."""
    return {
        "list": extend_schema(
            summary=f"{title}: list", responses={200: serializer(many=True), **READ_ERRORS}
        ),
        "retrieve": extend_schema(
            summary=f"{title}: one",
            responses={200: serializer, **READ_ERRORS, 404: ERRORS[404]},
        ),
    }
