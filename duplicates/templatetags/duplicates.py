"""The review page's duplicate notice: `{% load duplicates %}{% duplicate_notice incident %}`."""

from __future__ import annotations

from django import template

from duplicates.models import PossibleDuplicate
from duplicates.permissions import can_decide
from duplicates.selectors import pairs_of

register = template.Library()


@register.inclusion_tag("duplicates/notice.html", takes_context=True)
def duplicate_notice(context, incident) -> dict:
    """What the page says about duplicates of `incident`, for this reader: open pairs (with
    the Merge and "Not a duplicate" buttons when the reader may edit both reviews), the
    review it was merged into, and the copies merged into it (whose sources it now lists).
    Pairs with a review the reader may not see are left out."""
    user = context["request"].user
    open_pairs, merged_from, merged_into = [], [], None
    for pair in pairs_of(incident, user):
        other = pair.second if pair.first_id == incident.pk else pair.first
        if pair.status == PossibleDuplicate.Status.OPEN:
            open_pairs.append({"pair": pair, "other": other, "may": can_decide(user, pair)})
        elif pair.status == PossibleDuplicate.Status.MERGED:
            if pair.primary_id == incident.pk:
                merged_from.append(other)
            else:
                merged_into = other
    return {
        "incident": incident,
        "open_pairs": open_pairs,
        "merged_from": merged_from,
        "merged_into": merged_into,
        "csrf_token": context.get("csrf_token"),
    }
