"""Links to many incidents at once, for pages and API lists that show hundreds of them."""

from __future__ import annotations

from django.urls import reverse


def incident_path_prefix(viewname: str) -> str:
    """The path of `viewname` (an incident's page or API detail) up to the incident's id,
    so a row's link is `f"{prefix}{pk}/"`.

    One `reverse` for a whole list: reversing (or `{% url %}`) per row was most of the time
    a 50-incident API page or a report page of a few hundred links took to build. The URL
    of incident 0 is reversed and its "0/" cut off, so the prefix always follows urls.py.
    """
    return reverse(viewname, args=[0]).removesuffix("0/")
