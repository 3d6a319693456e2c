"""Reading the events a test caused, and comparing their data with what the API renders."""
import json
from decimal import Decimal

from wallets.models import Event, ExactJSONEncoder


def events_of(type_: str | None = None, *, tenant: str | None = None) -> list[Event]:
    events = Event.objects.order_by("created_at", "id")
    if type_ is not None:
        events = events.filter(type=type_)
    if tenant is not None:
        events = events.filter(tenant__code=tenant)
    return list(events)


def only_event(type_: str, *, tenant: str | None = None) -> Event:
    found = events_of(type_, tenant=tenant)
    assert len(found) == 1, [e.type for e in found]
    return found[0]


def as_json(value):
    """A JSON value as a client parses it, numbers as exact Decimals (so 100.00 == 100.0 == 100)."""
    text = value if isinstance(value, (str, bytes)) else ExactJSONEncoder().encode(value)
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)
