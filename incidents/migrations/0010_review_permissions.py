"""The `publish_incident` permission (approvers who are not a review's named reviewer), and
reports made before snapshots were built per viewer closed to anyone outside a restricted
group: those snapshots counted restricted reviews for every reader."""

from django.db import migrations


def close_old_reports(apps, schema_editor):
    # A snapshot of schema version 1 may hold a restricted review's counts, components and
    # action items without naming its group. Which ones cannot be told afterwards, so every
    # such report is scoped to every group that restricts a review (superusers still read
    # them; anyone can ask for a new report).
    Report = apps.get_model("incidents", "Report")
    Group = apps.get_model("auth", "Group")
    groups = list(Group.objects.filter(restricted_incidents__isnull=False).distinct())
    if not groups:
        return
    for report in Report.objects.filter(status="done").only("pk", "snapshot").iterator():
        if (report.snapshot or {}).get("schema_version", 1) < 2:
            report.scope_groups.add(*groups)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0009_search_head"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="incident",
            options={
                "ordering": ["-started_at", "-id"],
                "permissions": [
                    ("publish_incident", "Can publish a review without being its reviewer")
                ],
            },
        ),
        migrations.RunPython(close_old_reports, migrations.RunPython.noop),
    ]
