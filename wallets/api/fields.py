"""Serializer fields shared by both dialects."""
from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from wallets.money import as_currency
from wallets.validation import MAX_QUERY_INT, parse_ascii_int, parse_uuid


@extend_schema_field(OpenApiTypes.NUMBER)
class AmountField(serializers.Field):
    """An amount in, as the JSON number the client sent (int or exact Decimal; strings, booleans and
    floats are refused here, the currency's own rules by `wallets.money.parse_amount`). Out, a JSON
    number with the currency's decimals, read from the instance's `currency` (or `currency_source`)."""

    default_error_messages = {"invalid": "Must be a number."}

    def __init__(self, *, currency_source: str = "currency", **kwargs):
        self.currency_source = currency_source
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, Decimal)):
            self.fail("invalid")
        return data

    def get_attribute(self, instance):
        value = super().get_attribute(instance)
        source = self.currency_source
        currency = instance.get(source) if isinstance(instance, dict) else getattr(instance, source, None)
        return value, currency

    def to_representation(self, pair):
        value, currency = pair
        if value is None:
            return None
        return as_currency(value, currency) if currency else Decimal(value)


class QueryIntegerField(serializers.IntegerField):
    """A page, offset or limit from the query string: ASCII digits only (Python's `int()` also reads
    other scripts' digits, `_` and spaces), at most MAX_QUERY_INT."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_value", MAX_QUERY_INT)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        value = parse_ascii_int(data)
        if value is None:
            self.fail("invalid")
        return value


@extend_schema_field(OpenApiTypes.UUID)
class IdField(serializers.Field):
    """An id in a request body: a UUID written as text in ASCII (no integers, no other scripts' digits)."""

    default_error_messages = {"invalid": "Must be a valid UUID."}

    def to_internal_value(self, data):
        parsed = parse_uuid(data) if isinstance(data, str) else None
        if parsed is None:
            self.fail("invalid")
        return parsed

    def to_representation(self, value):
        return str(value)
