"""The templates Seams ships: "Standard review" (the default) and "Security incident".

Upgrade-safe: a template is created only when none of that name exists, and made the
default only when no template is. An organisation edits, renames or deletes these freely;
a later migration that ships changed wording must add a new template (or touch only rows
still exactly as shipped), never overwrite what an organisation changed.
"""

from django.db import migrations

STANDARD = {
    "name": "Standard review",
    "description": (
        "A blameless review of any incident. Requires, before it is sent for review, what "
        "a published review must contain."
    ),
    # What publishing requires (incidents.services.missing_for_publication).
    "required_sections": [
        "summary",
        "impact",
        "started_at",
        "narrative",
        "timeline",
        "contributing_factors",
        "action_items",
        "shapes",
        "patterns",
    ],
    "timeline_kinds": ["trigger", "detection", "mitigation", "recovery"],
    "prompts": {
        "summary": "In two or three sentences: what happened, to whom, and how it ended.",
        "impact": "Who noticed what, and for how long? Give numbers where anyone knows them.",
        "narrative": (
            "Tell it as the people involved saw it then: what did they know, and what did "
            "they expect to happen?"
        ),
        "timeline": (
            "Start from the trigger, when it was detected, what mitigated it and when it "
            "recovered. For each decision, say why it looked right at the time."
        ),
        "contributing_factors": (
            "Which conditions together made this possible, likely or large? Several, never "
            "one root cause."
        ),
        "went_well": "What worked that we should keep doing?",
        "where_lucky": "What could have made this worse and did not, by luck rather than design?",
        "action_items": (
            "For each action: does it patch a component or change a structure, and at which "
            "leverage level does it act?"
        ),
        "patterns": (
            "Which structure let this happen, whatever the parts involved? Say why this "
            "incident shows it."
        ),
    },
}

SECURITY = {
    "name": "Security incident",
    "description": (
        "For incidents where data, systems or access were exposed. Consider restricting the "
        "review to your security group (“Who may read it”)."
    ),
    "required_sections": [
        "summary",
        "impact",
        "started_at",
        "narrative",
        "timeline",
        "contributing_factors",
        "action_items",
    ],
    "timeline_kinds": [
        "trigger",
        "detection",
        "escalation",
        "decision",
        "mitigation",
        "communication",
        "recovery",
    ],
    "prompts": {
        "summary": (
            "What happened, in words a non-specialist can follow? Leave out details that "
            "would help someone repeat it."
        ),
        "impact": (
            "What data, systems or access were exposed, to whom, and for how long? Who had to "
            "be told (customers, regulators)?"
        ),
        "started_at": "When the exposure began, as far as anyone can tell, not when it was found.",
        "narrative": (
            "How was it found, and by whom? What did the responders know at each step, and "
            "why did their choices make sense then?"
        ),
        "timeline": (
            "Include when the exposure began, when it was detected, who it was escalated to, "
            "how it was contained, and every notification sent."
        ),
        "contributing_factors": (
            "Which conditions made the exposure possible or let it last (access left in "
            "place, missing alerts, unclear ownership)?"
        ),
        "action_items": (
            "For each: does it close this one hole, or change what let it be open? Who owns it?"
        ),
    },
}


def ship(apps, schema_editor):
    ReviewTemplate = apps.get_model("review_templates", "ReviewTemplate")
    has_default = ReviewTemplate.objects.filter(is_default=True).exists()
    for shipped in (STANDARD, SECURITY):
        ReviewTemplate.objects.get_or_create(name=shipped["name"], defaults=shipped)
    if not has_default:
        ReviewTemplate.objects.filter(name=STANDARD["name"]).update(is_default=True)


class Migration(migrations.Migration):
    dependencies = [("review_templates", "0001_initial")]

    # Going back leaves the templates (and any edits) in place.
    operations = [migrations.RunPython(ship, migrations.RunPython.noop)]
