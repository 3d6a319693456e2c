"""JSON in and out with exact decimals: amounts arrive as `Decimal` (never float) and leave as JSON
numbers written digit for digit (`2450.00`, not `2450.0`).

A request body is read once, here: at most API_MAX_BODY_BYTES (413 `payload_too_large` beyond) and
nested at most MAX_JSON_DEPTH levels (a clean client error at any depth), before anything else
looks at it."""
import json
from datetime import datetime, timezone
from decimal import Decimal

import simplejson
from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

from wallets.validation import MAX_JSON_DEPTH, json_depth_check


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


def json_object(pairs: list) -> dict:
    """A JSON object whose keys are unique: with a key twice, which value counts would depend on
    the parser (here the last, elsewhere the first), so such a body is refused."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"the key {twice!r} appears more than once")
    return obj


def json_int(text: str):
    """An integer as written; `-0` stays a negative zero (a Decimal), for the amount rules to see."""
    return Decimal(text) if text == "-0" else int(text)


class DecimalJSONParser(JSONParser):
    """Parses JSON numbers with a fraction into Decimal; NaN/Infinity arrive as Decimal too, so the
    amount validation refuses them with a field error instead of a parse error. An object with a
    key twice is not valid JSON here."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        try:
            parsed = json.loads(
                raw.decode(encoding), parse_float=Decimal, parse_int=json_int, parse_constant=Decimal,
                object_pairs_hook=json_object,
            )
        except RecursionError:
            raise ParseError(f"The request body nests deeper than {MAX_JSON_DEPTH} levels.") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"The request body is not valid JSON: {exc}") from None
        except ArithmeticError:  # a number Decimal cannot hold, like 1e-6000000000000000000000
            raise ParseError("The request body has a number out of range.") from None
        try:
            json_depth_check(parsed)
        except ValueError:
            raise ParseError(f"The request body nests deeper than {MAX_JSON_DEPTH} levels.") from None
        return parsed


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


def iso_time(value: datetime) -> str:
    """A time as DRF's DateTimeField writes it (UTC, `Z`)."""
    text = value.astimezone(timezone.utc).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def optional_time(value: datetime | None) -> str | None:
    return None if value is None else iso_time(value)


# What a JSON client's request says it accepts, or says nothing (then anything is accepted).
_ANY = frozenset({None, "*/*", "application/json"})


class JSONFirstNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, answered at once for what nearly every request sends (no `Accept`, `*/*`
    or JSON, no `?format=`) when the view's first renderer is JSON: the answer DRF would give."""

    def select_renderer(self, request, renderers, format_suffix=None):
        first = renderers[0] if renderers else None
        if (
            format_suffix is None
            and first is not None
            and first.media_type == "application/json"
            and request.META.get("HTTP_ACCEPT") in _ANY
            and self.settings.URL_FORMAT_OVERRIDE not in request._request.GET
        ):
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
