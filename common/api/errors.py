"""The one error document of the whole API, and its serializer for the OpenAPI schema.

Every error answer, whatever raised it, looks like:

    {"error": {"status": 400, "code": "invalid", "message": "…", "fields": {"patterns": ["…"]}}}

`fields` is present only for validation errors and maps a field path to its messages.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


def error_body(
    status_code: int, code: str, message: str, fields: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Build the error document every API error uses."""
    body: dict[str, Any] = {"status": status_code, "code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


class ErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the API."""

    error = ErrorDetailSerializer()
