"""drf-spectacular hook: every POST operation documents the `Idempotency-Key` header."""

from __future__ import annotations

from .api import HEADER, REPLAYED_HEADER

PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "description": (
        "Any string you choose (a UUID is a good key). A retry with the same key and the "
        "same request within 24 hours gets the first answer again (status, body, `Location`, "
        f"with `{REPLAYED_HEADER}: true`) and changes nothing; the same key with another "
        "request answers 422; while the first is still running, 409."
    ),
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": "^[!-~]([ -~]*[!-~])?$",
    },
}


def _error(status: int, code: str, message: str, description: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "examples": {
                    code: {
                        "summary": code,
                        "value": {"error": {"status": status, "code": code, "message": message}},
                    }
                },
            }
        },
    }


RESPONSES = {
    "409": _error(
        409,
        "idempotency_key_in_use",
        "A request with this Idempotency-Key is still in progress; retry in a moment to get "
        "its answer.",
        "The first request with this `Idempotency-Key` is still running.",
    ),
    "422": _error(
        422,
        "idempotency_key_reused",
        "This Idempotency-Key was first used for a different request (POST "
        "/api/v1/incidents/ with another body); use a new key for a new request.",
        "The `Idempotency-Key` was first used for a different request.",
    ),
}


def document_idempotency_key(result: dict, generator, request, public) -> dict:
    """Add the header, and the 409 and 422 it may cause, to every POST operation."""
    for path in result.get("paths", {}).values():
        operation = path.get("post")
        if not isinstance(operation, dict):
            continue
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("name") == HEADER and p.get("in") == "header" for p in parameters):
            parameters.append(PARAMETER)
        for code, response in RESPONSES.items():
            operation.setdefault("responses", {}).setdefault(code, response)
    return result
