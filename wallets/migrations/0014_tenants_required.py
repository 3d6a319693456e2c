"""Every account, API key and escrow has a tenant; phone numbers and order ids are unique within a
tenant; system account stripes per tenant; API keys take their scope from their tenant.

Going back needs each phone number and order id to be unique across tenants again, as it was.

On PostgreSQL a wallet's (user, tenant) must be a user's (id, tenant): a wallet is always in its
owner's marketplace. `ledger_post` is replaced by the version in `wallets/sql/ledger_post.sql`,
which also refuses a posting whose accounts belong to more than one tenant.
"""
import importlib
from pathlib import Path

import django.db.models.deletion
from django.db import migrations, models

import wallets.models

LEDGER_POST = Path(__file__).resolve().parent.parent / "sql" / "ledger_post_0014.sql"

WALLET_OWNER_FK = """
ALTER TABLE wallets_account ADD CONSTRAINT account_wallet_owner_tenant_fk
    FOREIGN KEY (user_id, tenant_id) REFERENCES wallets_user (id, tenant_id) DEFERRABLE INITIALLY DEFERRED;
"""


def scope_from_tenant(apps, schema_editor):
    ApiKey = apps.get_model("wallets", "ApiKey")
    for dialect in ("webuddy", "tmr"):
        ApiKey.objects.filter(tenant__dialect=dialect).update(scope=dialect)


def forward_sql(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(WALLET_OWNER_FK, params=None)
        schema_editor.execute(LEDGER_POST.read_text(), params=None)


def backward_sql(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE wallets_account DROP CONSTRAINT IF EXISTS account_wallet_owner_tenant_fk;", params=None)
        previous = importlib.import_module("wallets.migrations.0009_statement_lines_and_covering_index")
        schema_editor.execute(previous.FUNCTION, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("wallets", "0013_tenants_data"),
    ]

    operations = [
        migrations.AlterField(
            model_name="account",
            name="tenant",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="accounts", to="wallets.tenant"),
        ),
        migrations.AlterField(
            model_name="apikey",
            name="tenant",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="api_keys", to="wallets.tenant"),
        ),
        migrations.AlterField(
            model_name="escrow",
            name="tenant",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="escrows", to="wallets.tenant"),
        ),
        # Going back, `scope` comes back empty, is filled from the key's tenant, then required again.
        migrations.AlterField(
            model_name="apikey",
            name="scope",
            field=models.CharField(choices=[("webuddy", "Webuddy"), ("tmr", "Tmr")], max_length=16, null=True),
        ),
        migrations.RunPython(migrations.RunPython.noop, scope_from_tenant),
        migrations.RemoveField(model_name="apikey", name="scope"),
        migrations.AlterField(
            model_name="user",
            name="phone_number",
            field=models.CharField(blank=True, max_length=16, null=True),
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(fields=("tenant", "phone_number"), name="user_phone_unique_per_tenant"),
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(fields=("id", "tenant"), name="user_id_tenant_unique"),
        ),
        migrations.RemoveConstraint(model_name="account", name="account_system_stripe_unique"),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.UniqueConstraint(
                condition=models.Q(("kind", "system")),
                fields=("tenant", "system_code", "currency", "stripe"),
                name="account_system_stripe_unique",
            ),
        ),
        migrations.AlterField(
            model_name="escrow",
            name="order_id",
            field=models.CharField(max_length=64),
        ),
        migrations.AddConstraint(
            model_name="escrow",
            constraint=models.UniqueConstraint(fields=("tenant", "order_id"), name="escrow_order_unique_per_tenant"),
        ),
        migrations.AlterField(
            model_name="user",
            name="settings",
            field=models.JSONField(blank=True, decoder=wallets.models.ExactJSONDecoder, default=dict, encoder=wallets.models.ExactJSONEncoder),
        ),
        migrations.RunPython(forward_sql, backward_sql),
    ]
