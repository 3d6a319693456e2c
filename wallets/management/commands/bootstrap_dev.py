"""`python manage.py bootstrap_dev`: for the local quick start only. Creates an admin login and a
`webuddy` API key if absent, remembers them in var/dev-credentials.json (git-ignored), and prints
both with where to go."""
import json
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from wallets.models import ApiKey, User
from wallets.services import api_key_create

CREDENTIALS = settings.BASE_DIR / "var" / "dev-credentials.json"


class Command(BaseCommand):
    help = "Create a local admin login and a webuddy API key (quick start only) and print them."

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
        key = ApiKey.objects.filter(prefix=saved.get("webuddy_key_prefix", ""), is_active=True).first()
        if key is None:
            key, raw = api_key_create(name="local webuddy", scope=ApiKey.Scope.WEBUDDY)
            saved.update(webuddy_key_prefix=key.prefix, webuddy_key=raw)
        CREDENTIALS.parent.mkdir(parents=True, exist_ok=True)
        CREDENTIALS.write_text(json.dumps(saved, indent=2))
        CREDENTIALS.chmod(0o600)
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "Wallet service (local quick start, SQLite)",
                    f"  Admin:    {address}/admin/   user: {saved['admin_username']}   password: {saved['admin_password']}",
                    f"  API docs: {address}/api/docs/",
                    f"  Health:   {address}/healthz",
                    f"  WeBuddy API key: {saved['webuddy_key']}",
                    f"  Try:      curl -H 'Authorization: Api-Key {saved['webuddy_key']}' {address}/api/schema/ | head",
                    "",
                ]
            )
        )
