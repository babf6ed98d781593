"""OpenAPI hooks of the incidents API: what the request guards refuse before any view runs."""

from __future__ import annotations

from common.api.errors import error_body

# The documented error answers live in `common.api.schema` (the catalogue's API uses them
# too); they are imported here for the viewsets that always found them in this module.
from common.api.schema import ERRORS, LIST_ERRORS, READ_ERRORS, read_only_schema

__all__ = ["ERRORS", "LIST_ERRORS", "READ_ERRORS", "read_only_schema"]


def document_uri_limit(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook: every operation may answer 414 when its URL is too long.

    `UriLengthLimitMiddleware` refuses such URLs before any view runs, so no view's own
    schema can say so; this adds the answer, with an example, to every operation.
    """
    example = error_body(
        414,
        "uri_too_long",
        "This URL is 5,210 bytes long; Seams accepts at most 4,096. Send fewer or shorter "
        "query parameters (for long text use POST /api/v1/similar/).",
    )
    response = {
        "description": "The URL is longer than Seams accepts (`SEAMS_MAX_URI_LENGTH`).",
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "examples": {"UriTooLong": {"value": example, "summary": "uri_too_long"}},
            }
        },
    }
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault("414", response)
    return result


def document_strict_fields(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook: request bodies that refuse unknown fields say so.

    The serializers built on `StrictFieldsMixin` answer 400 to a field they do not know (a
    typo should not be silently ignored); `additionalProperties: false` puts that rule in
    the contract, where clients and their generated code can see it.
    """
    from .serializers import StrictFieldsMixin

    def subclasses(cls: type) -> set[type]:
        found = set(cls.__subclasses__())
        return found.union(*(subclasses(sub) for sub in found))

    strict = {cls.__name__.removesuffix("Serializer") for cls in subclasses(StrictFieldsMixin)}
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and name.removeprefix("Patched")[: -len("Request")] in strict:
            schema["additionalProperties"] = False
    return result


# The characters `ControlCharacterMiddleware` refuses (see `incidents.bounds`), as a JSON
# Schema pattern: a string parameter must not contain any of them.
NO_CONTROL_CHARACTERS = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$"


_BAD_REQUEST = {
    "description": "Invalid input, such as a control character in the URL; see `error`.",
    "content": {
        "application/json": {
            "schema": {"$ref": "#/components/schemas/Error"},
            "examples": {
                "BadRequest": {
                    "summary": "bad_request",
                    "value": error_body(
                        400,
                        "bad_request",
                        "The query parameter 'q' contains a control character (such as NUL); "
                        "remove it and try again.",
                    ),
                }
            },
        }
    },
}


def document_request_guards(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook: state what the request guards refuse before any view runs.

    `ControlCharacterMiddleware` answers 400 to a path or query string holding NUL or another
    control character, whatever the operation: every free-text string parameter in the path
    or the query gets a `pattern` forbidding them (an enum or a format already excludes
    them), and every operation documents the 400.
    """
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if (
                    parameter.get("in") in ("path", "query")
                    and schema.get("type") == "string"
                    and not {"enum", "format", "pattern"} & set(schema)
                ):
                    schema["pattern"] = NO_CONTROL_CHARACTERS
            operation["responses"].setdefault("400", _BAD_REQUEST)
    return result


# DRF's CharField refuses NUL (PostgreSQL cannot store it); every other character of text,
# line breaks included, is an author's to write.
NO_NUL = "^[^\\u0000]*$"


def _python_whitespace_class() -> str:
    """The characters `str.strip()` removes, as a JSON Schema (ECMA) character class body.

    DRF trims text before its not-blank check, and Python's idea of whitespace is wider than
    the `\\s` of a JSON Schema pattern (it includes U+001C–U+001F and U+0085): the class is
    built from Python itself, so the schema refuses exactly what the API refuses.
    """
    return "".join(f"\\u{code:04x}" for code in range(0x3001) if chr(code).isspace())


# A required text: no NUL, and something left once surrounding whitespace is trimmed.
NOT_BLANK = f"^[^\\u0000]*[^\\u0000{_python_whitespace_class()}][^\\u0000]*$"


def _forbid_nul(schema: dict) -> None:
    if schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema):
        schema["pattern"] = NOT_BLANK if schema.get("minLength", 0) >= 1 else NO_NUL
    for child in schema.get("properties", {}).values():
        _forbid_nul(child)
    if isinstance(schema.get("items"), dict):
        _forbid_nul(schema["items"])


def document_no_nul_in_request_bodies(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook: every free-text string of a request body forbids NUL, and a
    required one must hold more than whitespace: the serializers refuse both with 400 (so a
    generated client and the contract run agree)."""
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            _forbid_nul(schema)
    return result
