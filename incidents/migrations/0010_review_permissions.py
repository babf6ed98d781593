"""The `publish_incident` permission: approvers who are not a review's named reviewer."""

from django.db import migrations


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
    ]
