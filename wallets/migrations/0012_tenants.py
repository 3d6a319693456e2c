"""Tenants: the marketplaces whose money this service keeps. Adds the tenant table and a nullable
tenant on users, accounts, API keys and escrows; 0013 fills them in, 0014 makes them required."""
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("wallets", "0011_finance_group"),
    ]

    operations = [
        migrations.CreateModel(
            name="Tenant",
            fields=[
                ("code", models.SlugField(max_length=32, primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=100)),
                ("dialect", models.CharField(choices=[("webuddy", "WeBuddy (/v1)"), ("tmr", "TMR Land (/api/v1/wallet)")], max_length=16)),
                ("currencies", models.JSONField(default=list, help_text='Currency codes, the default first: ["USD", "USDC"].')),
                ("platform_fee_percent", models.DecimalField(blank=True, decimal_places=2, help_text="The platform's cut in percent; empty means the deployment's PLATFORM_FEE_PERCENT.", max_digits=5, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["code"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("platform_fee_percent__isnull", True), models.Q(("platform_fee_percent__gte", 0), ("platform_fee_percent__lte", 100)), _connector="OR"),
                        name="tenant_fee_percent_range",
                    )
                ],
            },
        ),
        migrations.AddField(
            model_name="user",
            name="tenant",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="users", to="wallets.tenant"),
        ),
        migrations.AddField(
            model_name="account",
            name="tenant",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="accounts", to="wallets.tenant"),
        ),
        migrations.AddField(
            model_name="apikey",
            name="tenant",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="api_keys", to="wallets.tenant"),
        ),
        migrations.AddField(
            model_name="escrow",
            name="tenant",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="escrows", to="wallets.tenant"),
        ),
    ]
