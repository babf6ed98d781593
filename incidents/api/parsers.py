"""JSON request bodies with a bounded nesting depth.

Python's JSON decoder recurses once per nesting level, so `[[[[…]]]]` a few thousand levels
deep raised `RecursionError` (a 500) in the API and the writing endpoints. No Seams document
nests more than a handful of levels; deeper ones are refused with a message that says why.
"""

from __future__ import annotations

import json
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# A review is an object of lists of objects of lists: four levels. Room to spare, far from
# the decoder's recursion limit.
MAX_JSON_DEPTH = 32


class JsonDocumentError(ValueError):
    """A request body that is not an acceptable JSON document; `str()` says why."""


def _depth(value: Any) -> int:
    """Nesting depth of a decoded JSON value, without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_json(body: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decode a JSON request body, refusing invalid text and documents nested too deeply."""
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise JsonDocumentError(
            f"The JSON is nested too deeply; Seams accepts at most {max_depth} levels."
        ) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonDocumentError(f"The body is not valid JSON: {exc}") from exc
    if _depth(value) > max_depth:
        raise JsonDocumentError(
            f"The JSON is nested too deeply; Seams accepts at most {max_depth} levels."
        )
    return value


class DepthLimitedJSONParser(JSONParser):
    """DRF's JSON parser, answering 400 to a body nested deeper than `MAX_JSON_DEPTH`."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            return load_json(stream.read().decode(encoding))
        except UnicodeDecodeError as exc:
            raise ParseError(f"The body is not valid {encoding}.") from exc
        except JsonDocumentError as exc:
            raise ParseError(str(exc)) from exc
