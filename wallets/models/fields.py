"""What the tables share: the money column's shape, and JSON that keeps decimals exact."""
import json
from decimal import Decimal

import simplejson


MONEY = {"max_digits": 24, "decimal_places": 6}


class ExactJSONEncoder(json.JSONEncoder):
    """Writes `Decimal` numbers digit for digit (`1.50` stays `1.50`), as the API received them."""

    def encode(self, o):
        return simplejson.dumps(o, use_decimal=True, ensure_ascii=False, allow_nan=False)

    def iterencode(self, o, _one_shot=False):
        yield self.encode(o)


class ExactJSONDecoder(json.JSONDecoder):
    """Reads numbers with a fraction as `Decimal`, so a stored document comes back as it was sent."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("parse_float", Decimal)
        super().__init__(*args, **kwargs)
