"""`{% tracker_cell action items [may_change] %}`: an action item's tracker link, and the
form to create or link one, for the review page and the action-item lists.

What every row needs is loaded once per page, however many rows it has: the links of all
`items`, the enabled connections, and the reader's teams.
"""

from __future__ import annotations

from django import template

from actions.permissions import is_owner
from incidents import permissions as rules

from ..models import TrackedIssue, TrackerConnection

register = template.Library()


def _page_data(context, items) -> dict:
    """The links, connections and the reader's teams, once per page: kept on the request
    (each `{% include %}` of the cell renders with a fresh render context)."""
    request = context.get("request")
    pages = getattr(request, "_tracker_cells", None)
    if pages is None:
        pages = {}
        if request is not None:
            request._tracker_cells = pages
    cache = pages.setdefault(id(items), {})
    if "trackers" not in cache:
        # The page's items, or its rows of (item, …) as the action-item lists have them.
        ids = [row[0].pk if isinstance(row, tuple | list) else row.pk for row in items]
        user = context.get("user") or getattr(context.get("request"), "user", None)
        signed_in = bool(user is not None and user.is_authenticated)
        cache["trackers"] = {
            "links": {
                link.action_item_id: link
                for link in TrackedIssue.objects.filter(action_item_id__in=ids).select_related(
                    "connection"
                )
            },
            "connections": list(TrackerConnection.objects.filter(enabled=True))
            if signed_in
            else [],
            "teams": None,  # the reader's teams, asked for once when a row needs them
            "editable": {},
            "user": user,
        }
    return cache["trackers"]


@register.inclusion_tag("trackers/_cell.html", takes_context=True)
def tracker_cell(context, item, items, may_change=None):
    """The tracker cell of one action item of `items` (the page's list of them).
    `may_change`: whether the reader may close the item, when the page knows already."""
    data = _page_data(context, items)
    user = data["user"]
    if not isinstance(may_change, bool):
        may_change = None  # not given (the include passes "" for a missing variable)
    if not data["connections"]:
        may_change = False
    elif may_change is None:
        incident = item.incident
        if incident.pk not in data["editable"]:
            data["editable"][incident.pk] = rules.can_edit(user, incident)
        if not data["editable"][incident.pk] and data["teams"] is None:
            data["teams"] = set(user.groups.values_list("pk", flat=True))
        may_change = data["editable"][incident.pk] or is_owner(user, item, data["teams"])
    restricted = item.incident.restricted_to_id is not None
    return {
        "item": item,
        "link": data["links"].get(item.pk),
        "connections": data["connections"] if may_change else [],
        "creatable": [c for c in data["connections"] if c.allow_restricted or not restricted],
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
    }
