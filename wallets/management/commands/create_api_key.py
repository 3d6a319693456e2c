"""`python manage.py create_api_key NAME --scope webuddy|tmr`: prints the new key as its last line."""
from django.core.management.base import BaseCommand

from wallets.models import ApiKey
from wallets.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key. The key is shown once, as the last line of the output."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--scope", required=True, choices=ApiKey.Scope.values)

    def handle(self, *args, name, scope, **options):
        key, raw = api_key_create(name=name, scope=scope)
        self.stdout.write(f"Created API key {key.name!r} (scope {key.scope}). Store it now; it is not shown again:")
        self.stdout.write(raw)
