"""`python manage.py expire_sessions --older-than 6h`: cancel stale sessions and release their holds."""
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from sessions_app.services import sessions_expire
from wallets.validation import parse_duration


def parse_age(text: str) -> timedelta:
    age = parse_duration(text)
    if age is None:
        raise CommandError("--older-than takes a number (digits 0-9, up to 6) and a unit: 90m, 6h, 2d.")
    return age


class Command(BaseCommand):
    help = "Cancel sessions left active longer than --older-than and release their holds."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", default="6h")

    def handle(self, *args, older_than, **options):
        expired = sessions_expire(older_than=parse_age(older_than))
        for session_id in expired:
            self.stdout.write(f"cancelled {session_id}")
        self.stdout.write(f"Expired {len(expired)} session(s).")
