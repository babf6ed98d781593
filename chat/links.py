"""Which links point at a Seams review: a link preview is made only for those."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.urls import Resolver404, resolve


def review_id_from_url(url: str) -> int | None:
    """The review number a link to a Seams review page names, else None. Only links on the
    host of `SEAMS_BASE_URL` count (http or https: a proxy may change the scheme)."""
    try:
        link, base = urlsplit(url), urlsplit(settings.SEAMS_BASE_URL)
    except ValueError:
        return None
    if link.scheme not in ("http", "https") or link.netloc.lower() != base.netloc.lower():
        return None
    prefix = base.path.rstrip("/")
    if not link.path.startswith(prefix + "/"):
        return None
    try:
        match = resolve(link.path[len(prefix) :])
    except Resolver404:
        return None
    if match.view_name != "incidents:detail":
        return None
    return int(match.kwargs["pk"])
