"""Pagination for API lists."""

from rest_framework.pagination import CursorPagination, PageNumberPagination


class StablePageNumberPagination(PageNumberPagination):
    """Page-number pagination that refuses unordered querysets, whose pages could overlap."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        if hasattr(queryset, "ordered") and not queryset.ordered:
            raise AssertionError(f"{view.__class__.__name__} paginates an unordered queryset")
        return super().paginate_queryset(queryset, request, view)


class IncidentCursorPagination(CursorPagination):
    """Cursor pagination for lists that grow while bots page through them: a new incident
    never shifts a page, so nothing is skipped or shown twice. Newest first."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
