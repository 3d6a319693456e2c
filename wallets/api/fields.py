"""Serializer fields, and the request-body and query-string serializers, shared by both dialects."""
import copy
import unicodedata
from collections.abc import Mapping
from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from wallets.money import amount_out
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
        return amount_out(*pair)


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


def _json_type_problem(field: serializers.Field, value) -> str | None:
    """Why `value` is not of the JSON type `field` reads (DRF would turn 10 into "10" and "yes" into
    true), or None."""
    if value is None:
        return None  # the field's own `allow_null` decides
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, (serializers.CharField, serializers.ChoiceField)):
        if not isinstance(value, str):
            return "Must be a string."
        if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
            return "Must not contain control characters."
    return None


class InputSerializer(serializers.Serializer):
    """A JSON request body: an object with only the declared fields, each of its own JSON type (no
    `"10"` for 10, no `10` for `"10"`, no `"yes"` for true), its text free of control characters."""

    def get_fields(self):
        # Each request's serializer binds copies of the declared fields. DRF deep-copies them (each
        # field built again from its arguments); a shallow copy is enough for a plain field: binding
        # sets the copy's own attributes, and what copies share (choices, validators, messages) is only
        # read. A field with fields inside (a list's or dict's child, a nested serializer) is bound
        # with them, so it is deep-copied as DRF does.
        return {
            name: copy.deepcopy(field) if hasattr(field, "child") or isinstance(field, serializers.BaseSerializer)
            else copy.copy(field)
            for name, field in self._declared_fields.items()
        }

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {str(name): ["Unknown field."] for name in data if name not in self.fields}
            for name, field in self.fields.items():
                problem = _json_type_problem(field, data[name]) if name in data else None
                if problem:
                    errors[name] = [problem]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


def refuse_blank(params, names) -> None:
    """A query parameter that is present has a value: DRF and django-filter would read `?x=` as if `x`
    were not sent (a filter silently dropped, a default silently used)."""
    blank = {name: ["May not be blank."] for name in names if params.get(name) == ""}
    if blank:
        raise serializers.ValidationError(blank)


class QuerySerializer(serializers.Serializer):
    """The parameters of a query string (each one, when present, not blank)."""

    def to_internal_value(self, data):
        refuse_blank(data, self.fields)
        return super().to_internal_value(data)


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
