"""Roles as groups with permissions, and the Reviewer role for everyone who could already
write and review reviews (every active person: before roles, any logged-in person could).

The groups' permissions are also put right after every migrate (people.apps), so this
migration's copy of them only has to be right for the Reviewer backfill.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "Role: Reader": [],
    "Role: Author": [("incidents", "add_incident")],
    "Role: Reviewer": [("incidents", "add_incident"), ("people", "review_incidents")],
    "Role: Admin": [
        ("incidents", "add_incident"),
        ("incidents", "change_incident"),
        ("incidents", "publish_incident"),
        ("people", "review_incidents"),
        ("people", "manage_people"),
    ],
}


def forwards(apps, schema_editor):
    # Django creates permissions after the whole migrate; this migration needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    User = apps.get_model("auth", "User")
    role_groups = []
    for name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codename in perms:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        role_groups.append(group)
    reviewer = Group.objects.get(name="Role: Reviewer")
    without_role = User.objects.filter(is_active=True).exclude(groups__in=role_groups)
    Membership = User.groups.through
    Membership.objects.bulk_create(
        [
            Membership(user_id=pk, group_id=reviewer.pk)
            for pk in without_role.values_list("pk", flat=True)
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0001_invitations"),
        ("incidents", "0016_team_review"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
