"""Payment providers: simulated (no keys, no network) or live Razorpay (with RazorpayX payouts) and
Stripe; where their APIs are, how long a call may take, how payouts go out."""
from config.settings import env

# "simulated" (no keys, no network) or "live" (Razorpay and Stripe; the six keys below are required:
# `manage.py check`, and with it migrate and the servers, refuse to start without any one of them).
PAYMENTS_MODE = env.string("PAYMENTS_MODE", "simulated")
RAZORPAY_KEY_ID = env.string("RAZORPAY_KEY_ID")
RAZORPAY_KEY_SECRET = env.string("RAZORPAY_KEY_SECRET")
RAZORPAY_WEBHOOK_SECRET = env.string("RAZORPAY_WEBHOOK_SECRET")
RAZORPAYX_ACCOUNT_NUMBER = env.string("RAZORPAYX_ACCOUNT_NUMBER")
STRIPE_SECRET_KEY = env.string("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env.string("STRIPE_WEBHOOK_SECRET")
# Where the providers' APIs are: a sandbox or a local test double can stand in.
RAZORPAY_API_BASE = env.string("RAZORPAY_API_BASE", "https://api.razorpay.com").rstrip("/")
STRIPE_API_BASE = env.string("STRIPE_API_BASE", "https://api.stripe.com").rstrip("/")
# Outside calls (payment gateways) give up after this many seconds.
GATEWAY_TIMEOUT_SECONDS = env.integer("GATEWAY_TIMEOUT_SECONDS", 10)
# How long a request with an Idempotency-Key holds its key; a retry after that resumes its work.
IDEMPOTENCY_LEASE_SECONDS = env.integer("IDEMPOTENCY_LEASE_SECONDS", max(60, 3 * GATEWAY_TIMEOUT_SECONDS))
# RazorpayX payouts up to and including this many rupees go by IMPS, larger ones by NEFT.
PAYOUT_IMPS_LIMIT = env.decimal("PAYOUT_IMPS_LIMIT", "500000")
