"""Finance staff see events, clients' webhook endpoints and deliveries, send a delivery again and
enable an endpoint that was disabled."""
from django.db import migrations


def sync(apps, schema_editor):
    from wallets.roles import finance_group_sync

    finance_group_sync(apps)


class Migration(migrations.Migration):
    dependencies = [("wallets", "0023_ledger_post_says_which_wallets_are_monitored")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
