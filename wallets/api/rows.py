"""Model instances read with hand-written SQL, converted as the ORM converts them.

The callers of every request (an API key with its tenant; a signed-in user with its tenant and
wallets) are read with one statement each; the ORM's query compiler would cost more than the query.
"""
from django.db import connection


def columns(model, alias: str) -> tuple[list[str], str]:
    """The model's concrete fields' attribute names, and their columns as `alias.column, ...`."""
    fields = model._meta.concrete_fields
    return [f.attname for f in fields], ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in fields)


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _converters(model) -> list[tuple[int, object, list]]:
    """What the ORM applies to each column on the way in (the backend's, then the field's own: JSON,
    for one), as its compiler does."""
    out = []
    for i, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if converters:
            out.append((i, column, converters))
    return out


_CONVERTERS: dict = {}


def instance(model, names: list[str], values):
    """A model instance from a row of all its concrete fields (`columns(model, ...)`)."""
    converters = _CONVERTERS.get(model)
    if converters is None:
        converters = _CONVERTERS[model] = _converters(model)
    if converters:
        values = list(values)
        for i, column, functions in converters:
            for convert in functions:
                values[i] = convert(values[i], column, connection)
    return model.from_db(connection.alias, names, values)


def db_value(model, value):
    """A primary key value as the database takes it."""
    return model._meta.pk.get_db_prep_value(value, connection)
