"""Pagination for API lists.

`page_size`, `page` and the cursor come from the query string: each is checked against its
stated bounds (in the schema too) and a bad one answers 400 or 404, never a 500 or a quietly
different page size.
"""

import re

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination, CursorPagination, PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from incidents.bounds import InvalidInput, bounded_int

# The id a cursor may carry: the largest integer any supported database compares.
MAX_CURSOR_POSITION = 2**63 - 1


def page_number(request, name: str = "page") -> int:
    """The page number the query string asks for, 1 when absent.

    Text that is not a whole number (`page=null`) answers 400: it is a client's bug, not a
    page past the end. A whole number is returned as it is, for the caller to refuse with
    404 when no such page exists.
    """
    raw = request.query_params.get(name)
    if raw is None:
        return 1
    if not re.fullmatch(r"[+-]?\d+", raw.strip()):
        raise ValidationError(
            {name: [f"`{name}` must be a whole number from 1, not {raw[:40]!r}."]}
        )
    try:
        return int(raw)
    except ValueError:  # more digits than Python converts: far past any last page
        return MAX_CURSOR_POSITION


class BoundedPageSizeMixin:
    """`page_size` between 1 and `max_page_size`, or 400 (DRF silently used the default)."""

    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            return bounded_int(
                raw, name=self.page_size_query_param, minimum=1, maximum=self.max_page_size
            )
        except InvalidInput as exc:
            raise ValidationError({self.page_size_query_param: [str(exc)]}) from exc

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                }
            elif parameter["name"] == "page":
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters


class StablePageNumberPagination(BoundedPageSizeMixin, PageNumberPagination):
    """Page-number pagination that refuses unordered querysets, whose pages could overlap."""

    page_size = 50

    def paginate_queryset(self, queryset, request, view=None):
        if hasattr(queryset, "ordered") and not queryset.ordered:
            raise AssertionError(f"{view.__class__.__name__} paginates an unordered queryset")
        return super().paginate_queryset(queryset, request, view)

    def get_page_number(self, request, paginator):
        # DRF reads `page=` (empty) as the first page; it is not a page number: 400. A whole
        # number DRF's paginator does not have (0, past the end) stays its 404.
        number = page_number(request, self.page_query_param)
        return number if self.page_query_param in request.query_params else 1


class IncidentCursorPagination(BoundedPageSizeMixin, CursorPagination):
    """Cursor pagination for lists that grow while bots page through them: a new incident
    never shifts a page, so nothing is skipped or shown twice. Newest first."""

    ordering = "-id"
    page_size = 50

    def paginate_queryset(self, queryset, request, view=None):
        # `page` only means something to ranked results (`RankedPagination`), but the
        # schema states it for the whole list: a malformed one is refused here too, not
        # silently ignored.
        if page_number(request) < 1:
            raise NotFound("Invalid page: pages are numbered from 1.")
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        # DRF checks the offset but passes the position (an id) to the query as it came.
        if cursor is not None and cursor.position is not None:
            try:
                bounded_int(cursor.position, name="cursor", maximum=MAX_CURSOR_POSITION)
            except InvalidInput as exc:
                raise NotFound(self.invalid_cursor_message) from exc
        return cursor


class RankedPagination(BoundedPageSizeMixin, BasePagination):
    """Page numbers for results ranked by relevance, without counting every match.

    A ranked list cannot use a cursor (a rank is not a stable position), and counting the
    matches of a broad search costs as much as the search itself. Each page reads one row
    more than it shows, to know whether there is a next one; the answer has the same
    `next` / `previous` / `results` shape as the cursor-paginated list.
    """

    page_size = 50
    page_query_param = "page"
    # Nobody reads past this in a relevance order, and an unbounded page number would let
    # one request ask the database to skip billions of rows.
    max_results = 10_000

    def paginate_queryset(self, queryset, request, view=None):
        if hasattr(queryset, "ordered") and not queryset.ordered:
            raise AssertionError(f"{view.__class__.__name__} paginates an unordered queryset")
        self.request = request
        self.size = self.get_page_size(request)
        self.number = page_number(request, self.page_query_param)
        if self.number < 1:
            raise NotFound("Invalid page: pages are numbered from 1.")
        start = (self.number - 1) * self.size
        if start >= self.max_results:
            raise NotFound(
                f"Invalid page: ranked results go {self.max_results:,} deep; "
                "narrow the search with more words or filters."
            )
        rows = list(queryset[start : start + self.size + 1])
        if self.number > 1 and not rows:
            raise NotFound("Invalid page: there are no results this far.")
        self.has_next = len(rows) > self.size
        return rows[: self.size]

    def _link(self, number: int | None) -> str | None:
        if number is None:
            return None
        url = self.request.build_absolute_uri()
        if number == 1:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, number)

    def get_paginated_response(self, data):
        return Response(
            {
                "next": self._link(self.number + 1 if self.has_next else None),
                "previous": self._link(self.number - 1 if self.number > 1 else None),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        return CursorPagination().get_paginated_response_schema(schema)
