"""Conditional GET for detail endpoints: an ETag on every answer, 304 when it still holds."""

from __future__ import annotations

from rest_framework import status
from rest_framework.response import Response


class ConditionalRetrieveMixin:
    """Adds `ETag` to detail answers and honours `If-None-Match` with 304 Not Modified.

    Subclasses say what identifies a version of the object in `etag_for(obj)`; visibility is
    checked before (get_object), so a 304 never confirms that a hidden object exists.
    """

    def etag_for(self, obj) -> str:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def retrieve(self, request, *args, **kwargs):
        obj = self.get_object()
        etag = f'"{self.etag_for(obj)}"'
        candidates = {
            tag.strip().removeprefix("W/")
            for tag in request.headers.get("If-None-Match", "").split(",")
        }
        if etag in candidates or "*" in candidates:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        response = Response(self.get_serializer(obj).data)
        response["ETag"] = etag
        return response
