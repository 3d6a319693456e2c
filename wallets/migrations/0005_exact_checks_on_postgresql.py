"""Checks that add or subtract money run on PostgreSQL only, where numeric arithmetic is exact.

SQLite (the quick start) stores decimals as floating point, so `0.1 + 0.2 <= 0.3` could fail there;
the posting engine checks the same rules in Python with Decimal before writing.
"""
from django.db import migrations, models

EXACT_CHECKS = """
ALTER TABLE wallets_account ADD CONSTRAINT account_available_within_credit_limit
    CHECK (balance - held_balance >= -credit_limit);
ALTER TABLE wallets_hold ADD CONSTRAINT hold_parts_within_amount
    CHECK (captured + released <= amount);
"""
DROP_EXACT_CHECKS = """
ALTER TABLE wallets_account DROP CONSTRAINT IF EXISTS account_available_within_credit_limit;
ALTER TABLE wallets_hold DROP CONSTRAINT IF EXISTS hold_parts_within_amount;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(EXACT_CHECKS, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_EXACT_CHECKS, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('wallets', '0004_loginfailure_escrow'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='account',
            name='account_available_within_credit_limit',
        ),
        migrations.RemoveConstraint(
            model_name='hold',
            name='hold_parts_within_amount',
        ),
        migrations.AddConstraint(
            model_name='hold',
            constraint=models.CheckConstraint(condition=models.Q(('captured__gte', 0), ('released__gte', 0)), name='hold_parts_non_negative'),
        ),
        migrations.RunPython(forward, backward),
    ]
