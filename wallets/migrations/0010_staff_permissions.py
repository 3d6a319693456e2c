"""Custom permissions for the back office: suspend/reactivate wallets, post adjustments."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('wallets', '0009_statement_lines_and_covering_index'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='account',
            options={'permissions': [('suspend_account', 'Can suspend and reactivate wallets'), ('adjust_account', 'Can post adjustments to wallets')]},
        ),
    ]
