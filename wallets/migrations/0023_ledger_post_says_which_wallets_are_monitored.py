"""`ledger_post` also returns the wallets a low-balance monitor watches (its result changes shape, so
the function is dropped and created again from wallets/sql/ledger_post.sql)."""
from pathlib import Path

from django.db import migrations

SQL = Path(__file__).resolve().parent.parent / "sql"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS ledger_post(jsonb);", params=None)
        schema_editor.execute((SQL / "ledger_post.sql").read_text(), params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS ledger_post(jsonb);", params=None)
        schema_editor.execute((SQL / "ledger_post_0014.sql").read_text(), params=None)


class Migration(migrations.Migration):
    dependencies = [("wallets", "0022_events_and_deliveries")]

    operations = [migrations.RunPython(forward, backward)]
