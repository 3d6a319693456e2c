"""Test settings: the real settings with throwaway keys and PostgreSQL at DATABASE_URL."""
import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use")
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "dGVzdC1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5ISE=")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/wallet")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

from config.settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; tests hold no secrets

# The test client speaks plain http (production redirects it to https; tests of that set it back).
SECURE_SSL_REDIRECT = False

# Admin tests sign staff in directly; the second factor has tests of its own that switch it on.
ADMIN_OTP_REQUIRED = False

# Tests deliver events to receivers on this machine, over plain http.
WEBHOOK_ALLOW_HTTP = True
WEBHOOK_ALLOW_PRIVATE = True
