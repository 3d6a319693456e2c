"""Who may come in and how: https behind the proxy, cookies, tokens, the back office's second factor,
login throttling, the proxies whose X-Forwarded-For is believed."""
import ipaddress
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from config.settings import env
from config.settings.base import DEBUG, SECRET_KEY

# Production is served over https behind a proxy that says so in X-Forwarded-Proto (it must set or
# strip that header). Plain http is redirected, except the probes a load balancer makes from inside.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.boolean("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)$"]
SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.boolean("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env.boolean("SECURE_HSTS_PRELOAD", True)
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = not DEBUG
X_FRAME_OPTIONS = "DENY"

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.integer("JWT_ACCESS_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.integer("JWT_REFRESH_DAYS", 7)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "UPDATE_LAST_LOGIN": False,
    "SIGNING_KEY": SECRET_KEY,
}


def _networks(name: str, default: str = "") -> list[str]:
    """Addresses or networks (`10.0.0.0/8`), each checked at start."""
    found = env.items(name, default)
    for item in found:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not an address or a network.") from None
    return found


# Proxies in front of the service: only when the peer is one of them is X-Forwarded-For read for the
# client's address (login throttling, logs, /metrics).
TRUSTED_PROXIES = _networks("TRUSTED_PROXIES")
# Who may read /metrics (empty: nobody, the endpoint answers 404).
METRICS_ALLOWED_IPS = _networks("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
# Back office: whoever can move money signs in with a second factor (TOTP); on whenever DEBUG is off.
ADMIN_OTP_REQUIRED = env.boolean("ADMIN_OTP_REQUIRED", not DEBUG)
OTP_TOTP_ISSUER = env.string("OTP_TOTP_ISSUER", "Wallet back office")
# Failed logins (API and back office) allowed per username and per client IP within the window, before 429.
LOGIN_FAILURE_LIMIT = env.integer("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_WINDOW_SECONDS = env.integer("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60)
