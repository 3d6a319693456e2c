"""`python manage.py create_api_key NAME (--tenant CODE | --scope webuddy|tmr)`: prints the new key as
its last line. A key belongs to one tenant and speaks its dialect; `--scope webuddy` and `--scope tmr`
name the WeBuddy and TMR Land tenants."""
from django.core.management.base import BaseCommand, CommandError

from wallets.models import Tenant
from wallets.services.api_keys import api_key_create


class Command(BaseCommand):
    help = "Create an API key of a tenant. The key is shown once, as the last line of the output."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--tenant", help="the tenant's code (a marketplace added in admin)")
        parser.add_argument("--scope", choices=Tenant.Dialect.values,
                            help="webuddy or tmr: the tenant of that code, whose keys speak that dialect")

    def handle(self, *args, name, tenant, scope, **options):
        code = tenant or scope
        if code is None:
            raise CommandError("Name the key's tenant: --tenant CODE (or --scope webuddy|tmr).")
        found = Tenant.objects.filter(code=code).first()
        if found is None:
            raise CommandError(f"No tenant {code!r}; add it in admin first.")
        if scope is not None and found.dialect != scope:
            raise CommandError(f"Tenant {found.code!r} speaks {found.dialect}, not {scope}.")
        key, raw = api_key_create(name=name, tenant=found)
        self.stdout.write(
            f"Created API key {key.name!r} of {found.name} (tenant {found.code}, scope {key.scope}). "
            "Store it now; it is not shown again:"
        )
        self.stdout.write(raw)
