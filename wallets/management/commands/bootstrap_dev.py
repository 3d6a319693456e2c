"""`python manage.py bootstrap_dev`: for the local quick start only. Creates an admin login, a
Finance staff login and a `webuddy` and a `tmr` API key if absent, remembers them in var/dev-credentials.json (git-ignored), and prints
both with where to go.

`--demo` adds a new demo expert of the `webuddy` tenant each time: a bank account, and earnings of
last month imported as a data migration would bring them (wallets.services.history), so that
`run_monthly_payouts --month <last month>` has a month that is over to pay."""
import json
import random
import secrets
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from experts.services import bank_detail_add
from wallets.errors import DomainError, ErrorCode
from wallets.models import Account, ApiKey, Tenant, User
from wallets.roles import FINANCE_GROUP
from wallets.services.api_keys import api_key_create
from wallets.services.history import wallet_history_import
from wallets.services.users import user_create

DEMO_EARNINGS = Decimal(1200)

CREDENTIALS = settings.QUICK_START_DIR / "dev-credentials.json"


class Command(BaseCommand):
    help = "Create a local admin login and API keys (quick start only) and print them."

    def add_arguments(self, parser):
        parser.add_argument("--address", default="http://127.0.0.1:8000")
        parser.add_argument("--demo", action="store_true",
                            help="also add a demo expert with last month's earnings and a bank account (a new one each time)")

    def handle(self, *args, address, demo, **options):
        if not settings.DEBUG:
            raise CommandError("bootstrap_dev is for local development only (DEBUG=1).")
        if demo:
            return self._demo_expert()
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
                    "Wallet service (local quick start)",
                    f"  Admin:    {address}/admin/   user: {saved['admin_username']}   password: {saved['admin_password']}",
                    f"  Back office as Finance staff: {address}/admin/   user: finance   password: {saved['finance_password']}",
                    f"  API docs: {address}/api/docs/",
                    f"  Health:   {address}/healthz",
                    f"  WeBuddy API key (tenant webuddy, for /v1): {saved['webuddy_key']}",
                    f"  TMR Land API key (tenant tmr, for escrow calls): {saved['tmr_key']}",
                    f"  Keys and logins are kept in {CREDENTIALS}; the README walks through both APIs. Ctrl-C stops.",
                    "",
                ]
            )
        )

    def _demo_expert(self) -> None:
        tenant = Tenant.objects.get(code=Tenant.Dialect.WEBUDDY)
        first_of_month = datetime.now(dt_timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        earned_at = (first_of_month - timedelta(days=1)).replace(day=15, hour=12)
        month = f"{earned_at.year:04d}-{earned_at.month:02d}"
        for _ in range(20):  # a free phone number (another run's demo expert may have one)
            try:
                expert = user_create(tenant=tenant, phone_number=f"+91 9{random.randrange(10**8, 10**9)}",
                                     name="Demo expert")
                break
            except DomainError as exc:
                if exc.code != ErrorCode.PHONE_NUMBER_TAKEN:
                    raise
        else:
            raise CommandError("no free phone number for a demo expert; try again")
        wallet = Account.objects.get(user=expert, currency=tenant.default_currency)
        wallet_history_import(wallet=wallet, amount=DEMO_EARNINGS, at=earned_at,
                              description=f"Imported earning: consultations of {month}")
        bank_detail_add(expert=expert, bank_name="HDFC Bank", account_number=f"5010{random.randrange(10**8, 10**9)}",
                        ifsc_code="HDFC0001234", account_holder_name="Demo expert")
        self.stdout.write(
            f"Demo expert {expert.id}: earned {DEMO_EARNINGS:.2f} {wallet.currency} in {month}, with a bank account.\n"
            f"Pay it: DEBUG=1 .venv/bin/python manage.py run_monthly_payouts --month {month}"
        )
