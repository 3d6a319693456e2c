"""Give a staff user a TOTP device for the back office's second factor and print how to add it to an
authenticator app (the otpauth:// address and its QR code). Run by a superuser, for themselves or others."""
import io

import qrcode
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Create a TOTP device for a staff user and print its QR code (to scan with an authenticator app)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--replace", action="store_true", help="Remove the user's existing TOTP devices first.")

    def handle(self, *args, username, replace=False, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None or not user.is_staff:
            raise CommandError(f"No staff user {username!r}.")
        existing = TOTPDevice.objects.filter(user=user)
        if existing.exists() and not replace:
            raise CommandError(f"{username} already has a TOTP device; --replace makes a new one (the old code stops working).")
        existing.delete()
        device = TOTPDevice.objects.create(user=user, name="authenticator app", confirmed=True)
        code = qrcode.QRCode(border=1)
        code.add_data(device.config_url)
        picture = io.StringIO()
        code.print_ascii(out=picture, invert=True)
        self.stdout.write(picture.getvalue())
        self.stdout.write(f"Scan this with an authenticator app, or enter the address by hand:\n{device.config_url}")
