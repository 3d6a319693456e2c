"""The `Finance` staff group with exactly the back office's permissions (wallets.roles)."""
from django.db import migrations


def create_finance_group(apps, schema_editor):
    from wallets.roles import finance_group_sync

    finance_group_sync(apps)


def remove_finance_group(apps, schema_editor):
    from wallets.roles import FINANCE_GROUP

    apps.get_model("auth", "Group").objects.filter(name=FINANCE_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("wallets", "0010_staff_permissions"),
        ("kyc", "0002_review_permission"),
        ("payouts", "0002_staff_permissions"),
        ("sessions_app", "0001_initial"),
        ("experts", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_finance_group, remove_finance_group)]
