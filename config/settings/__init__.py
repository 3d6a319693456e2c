"""Settings of the wallet service, read from environment variables only (SPEC §9), by integration:

- `base`: secrets, hosts, apps, middleware, the API framework, the domain's own settings;
- `database`: PostgreSQL (the quick start's own without DATABASE_URL), pooling, replica, cache;
- `security`: https, cookies, tokens, the back office's second factor, login throttling, proxies;
- `payments`: simulated or live Razorpay and Stripe, timeouts, payout rails;
- `jobs`: job workers, periodic jobs, events and their deliveries;
- `observability`: logs.

Every variable is read through `config.settings.env` and listed with its default in
docs/configuration.md (a test holds the two to each other)."""
from config.settings.base import *  # noqa: F401,F403
from config.settings.database import *  # noqa: F401,F403
from config.settings.security import *  # noqa: F401,F403
from config.settings.payments import *  # noqa: F401,F403
from config.settings.jobs import *  # noqa: F401,F403
from config.settings.observability import *  # noqa: F401,F403
