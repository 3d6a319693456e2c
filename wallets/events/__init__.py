"""Events for client backends: written with the change, numbered in commit order, fanned out to the
tenant's webhook endpoints and delivered, signed, at least once.

- `outbox`: `event_emit(tenant=..., type=..., obj=...)` writes the event in the caller's transaction,
  with `data` rendered as the tenant's dialect renders the object (the renderers are registered by
  the dialect modules: `event_renderer`, so the core never imports the API; the types by each app:
  `register_event_types`). `events_sequence()` numbers the events no transaction in flight can still
  precede (those whose writing transaction is older than the oldest one running), so a reader paging
  by `position` never skips one that commits later.
- `endpoints`: the tenant's webhook endpoints (public HTTPS addresses, checked again at each attempt).
- `monitors`: low-balance monitors, evaluated after each posting of a watched wallet (a listener of
  the ledger's, registered in `wallets/apps.py`).
- `deliveries`: `events_dispatch()` makes a `Delivery` for each subscribed endpoint and defers its job
  in the same transaction; `delivery_attempt(delivery_id)` POSTs it once, signed, and schedules the
  next attempt (first after WEBHOOK_RETRY_BASE_SECONDS, doubling) until a 2xx or WEBHOOK_RETRY_HOURS.

Outbound deliveries are "webhooks" to the tenant; the notifications providers send us are "provider
notifications" (`wallets/notifications.py`, `payouts/notifications.py`, the views in
`wallets/api/notifications.py`).
"""
from wallets.events.deliveries import (  # noqa: F401
    deliveries_due,
    delivery_attempt,
    delivery_send_again,
    envelope,
    events_dispatch,
    signature,
)
from wallets.events.endpoints import (  # noqa: F401
    endpoint_create,
    endpoint_delete,
    endpoint_enable,
    endpoint_find,
    endpoints_of,
    webhook_url_check,
)
from wallets.events.outbox import (  # noqa: F401
    DIALECT_EVENT_TYPES,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    event_emit,
    event_renderer,
    events_after,
    events_nudge,
    events_purge,
    events_sequence,
    register_event_types,
)
