"""JSON in and out with exact decimals: amounts arrive as `Decimal` (never float) and leave as JSON
numbers written digit for digit (`2450.00`, not `2450.0`)."""
import json
from decimal import Decimal

import simplejson
from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder


class DecimalJSONParser(JSONParser):
    """Parses JSON numbers with a fraction into Decimal; NaN/Infinity arrive as Decimal too, so the
    amount validation refuses them with a field error instead of a parse error."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
            return json.loads(text, parse_float=Decimal, parse_constant=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"The request body is not valid JSON: {exc}") from None


_drf_encoder = JSONEncoder()


class DecimalJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return simplejson.dumps(
            data,
            use_decimal=True,
            ensure_ascii=False,
            separators=(",", ":"),
            default=_drf_encoder.default,
        ).encode("utf-8")
