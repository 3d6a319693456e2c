"""`python manage.py bootstrap_dev`: for the local quick start only. Creates an admin login, a
Finance staff login and a `webuddy` and a `tmr` API key if absent, remembers them in var/dev-credentials.json (git-ignored), and prints
both with where to go."""
import json
import secrets

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from wallets.models import ApiKey, Tenant, User
from wallets.roles import FINANCE_GROUP
from wallets.services.api_keys import api_key_create

CREDENTIALS = settings.BASE_DIR / "var" / "dev-credentials.json"


class Command(BaseCommand):
    help = "Create a local admin login and API keys (quick start only) and print them."

    def add_arguments(self, parser):
        parser.add_argument("--address", default="http://127.0.0.1:8000")

    def handle(self, *args, address, **options):
        if not settings.DEBUG:
            raise CommandError("bootstrap_dev is for local development only (DEBUG=1).")
        saved = json.loads(CREDENTIALS.read_text()) if CREDENTIALS.exists() else {}
        admin = User.objects.filter(username=saved.get("admin_username", "admin")).first()
        if admin is None or not admin.check_password(saved.get("admin_password", "")):
            password = secrets.token_urlsafe(12)
            if admin is None:
                admin = User.objects.create_superuser("admin", password, name="Local admin")
            else:
                admin.set_password(password)
                admin.save(update_fields=["password"])
            saved.update(admin_username="admin", admin_password=password)
        finance = User.objects.filter(username="finance").first()
        if finance is None or not finance.check_password(saved.get("finance_password", "")):
            password = secrets.token_urlsafe(12)
            if finance is None:
                finance = User.objects.create_user("finance", password, name="Local finance", is_staff=True)
            else:
                finance.set_password(password)
                finance.save(update_fields=["password"])
            finance.groups.add(Group.objects.get(name=FINANCE_GROUP))
            saved.update(finance_password=password)
        for scope in ApiKey.Scope.values:
            key = ApiKey.objects.filter(prefix=saved.get(f"{scope}_key_prefix", ""), is_active=True).first()
            if key is None:
                key, raw = api_key_create(name=f"local {scope}", tenant=Tenant.objects.get(code=scope))
                saved.update({f"{scope}_key_prefix": key.prefix, f"{scope}_key": raw})
        CREDENTIALS.parent.mkdir(parents=True, exist_ok=True)
        CREDENTIALS.write_text(json.dumps(saved, indent=2))
        CREDENTIALS.chmod(0o600)
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "Wallet service (local quick start, SQLite)",
                    f"  Admin:    {address}/admin/   user: {saved['admin_username']}   password: {saved['admin_password']}",
                    f"  Back office as Finance staff: {address}/admin/   user: finance   password: {saved['finance_password']}",
                    f"  API docs: {address}/api/docs/",
                    f"  Health:   {address}/healthz",
                    f"  WeBuddy API key (tenant webuddy, for /v1): {saved['webuddy_key']}",
                    f"  TMR Land API key (tenant tmr, for escrow calls): {saved['tmr_key']}",
                    "  Keys and login are kept in var/dev-credentials.json; the README walks through both APIs.",
                    "",
                ]
            )
        )
