"""Finance staff see the tenants (read only), with every money list filtered by tenant."""
from django.db import migrations


def sync(apps, schema_editor):
    from wallets.roles import finance_group_sync

    finance_group_sync(apps)


class Migration(migrations.Migration):
    dependencies = [("wallets", "0014_tenants_required")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
