"""Each membership keeps its own remediation (from when its action items aimed at the
structure were all done, and their kinds), so a reader's view of a structure can be computed
from the membership rows alone. Filled here for the structures already stored, with the rule
of `incidents.analysis.recurrence.aim` written out (a migration must not depend on code that
will change)."""

from collections import defaultdict
from datetime import UTC, datetime

from django.db import migrations, models

EARLIEST = datetime.min.replace(tzinfo=UTC)


def fill(apps, schema_editor):
    Structure = apps.get_model("incidents", "RecurringStructure")
    Membership = apps.get_model("incidents", "RecurrenceMembership")
    ActionItem = apps.get_model("incidents", "ActionItem")
    for structure in Structure.objects.all().iterator():
        pattern_ids = set(structure.patterns.values_list("id", flat=True))
        rows = list(Membership.objects.filter(structure=structure).values_list("pk", "incident_id"))
        items = defaultdict(list)
        incident_ids = [i for _, i in rows]
        for start in range(0, len(incident_ids), 5000):
            for incident_id, pattern_id, status, completed, kind in ActionItem.objects.filter(
                incident_id__in=incident_ids[start : start + 5000]
            ).values_list("incident_id", "pattern_id", "status", "completed_at", "kind"):
                if pattern_id in pattern_ids or (pattern_id is None and kind == "structural_fix"):
                    items[incident_id].append((status, completed, kind))
        changed = []
        for pk, incident_id in rows:
            aimed = items.get(incident_id, [])
            done = bool(aimed) and all(status == "done" for status, _, _ in aimed)
            fixed = (
                max((c for _, c, _ in aimed if c is not None), default=EARLIEST) if done else None
            )
            kinds = sorted({kind for _, _, kind in aimed})
            if fixed is not None or kinds:
                changed.append(Membership(pk=pk, remediated_from=fixed, aimed_kinds=kinds))
        Membership.objects.bulk_update(changed, ["remediated_from", "aimed_kinds"], batch_size=2000)
        structure.dated_count = Membership.objects.filter(
            structure=structure, occurred_at__isnull=False
        ).count()
        structure.save(update_fields=["dated_count"])


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0014_mechanisms_and_member_cost"),
    ]

    operations = [
        migrations.AddField(
            model_name="recurrencemembership",
            name="aimed_kinds",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="recurrencemembership",
            name="remediated_from",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="recurringstructure",
            name="dated_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
