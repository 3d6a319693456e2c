"""Query-string filters shared by the dialects (django-filter), strict about what they read."""
from datetime import timezone as dt_timezone

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

from wallets.models import Entry

ENTRY_TYPES = [t for t, _ in Entry.Type.choices]


class AsciiIsoDateTimeField(IsoDateTimeField):
    """An ISO-8601 time written in ASCII digits, that exists in UTC (not past year 9999)."""

    def to_python(self, value):
        if isinstance(value, str) and not value.isascii():
            raise forms.ValidationError("Write the time with the digits 0-9, as ISO-8601.", code="invalid")
        parsed = super().to_python(value)
        if parsed is not None:
            try:
                parsed.astimezone(dt_timezone.utc)
            except (OverflowError, ValueError):
                raise forms.ValidationError("The time is out of range.", code="invalid") from None
        return parsed


class TimeFilter(django_filters.IsoDateTimeFilter):
    field_class = AsciiIsoDateTimeField


class StatementFilter(django_filters.FilterSet):
    """`type`, `from` and `to` (inclusive) over a wallet's entries."""

    type = django_filters.ChoiceFilter(field_name="type", choices=[(t, t) for t in ENTRY_TYPES])
    from_ = TimeFilter(field_name="created_at", lookup_expr="gte")
    to = TimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = Entry
        fields = ["type"]


StatementFilter.base_filters["from"] = StatementFilter.base_filters.pop("from_")
