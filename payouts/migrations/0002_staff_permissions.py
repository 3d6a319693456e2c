"""Custom permissions for the back office: retry, cancel, run monthly payouts."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('payouts', '0001_initial'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='payout',
            options={'permissions': [('retry_payout', 'Can retry failed payouts'), ('cancel_payout', 'Can cancel pending payouts'), ('run_monthly_payouts', 'Can run monthly payouts')]},
        ),
    ]
