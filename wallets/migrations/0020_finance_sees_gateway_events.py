"""Finance staff read the payment providers' events (unknown and mismatched ones are theirs to follow)."""
from django.db import migrations


def sync(apps, schema_editor):
    from wallets.roles import finance_group_sync

    finance_group_sync(apps)


class Migration(migrations.Migration):
    dependencies = [("wallets", "0019_live_payments"), ("payouts", "0004_live_payments"), ("experts", "0002_live_payments")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
