"""Single-row reads and writes in plain SQL, for the statements every chat message runs.

On the message path the ORM spent several times longer building each statement than the database
spent running it (py-spy on the chat benchmark's servers: about a quarter of a process's CPU). Here a
model's statement is built once per process and reused. What is written and read is what the ORM
would write and read: each field's `pre_save` and database conversion going in, the backend's
converters coming out. No model signals are sent, so these are only for models no receiver listens
to, and `update` writes exactly the fields it is given.
"""

import contextlib
import functools
from dataclasses import dataclass
from typing import NamedTuple

from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Model


def preparing_cursor():
    """A cursor for the statements every chat message runs, whose text is built once per process:
    prepared once per connection on PostgreSQL (`helpdesk.postgresql`), Django's cursor elsewhere."""
    preparing = getattr(connection, "preparing_cursor", None)
    return preparing() if preparing else connection.cursor()


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


class _Insert(NamedTuple):
    into: str  # "INSERT INTO table (columns) VALUES "
    row: str  # "(%s, ...)", once per row
    returning: str
    fields: list


@functools.cache
def _insert_statement(model: type[Model], vendor: str) -> _Insert:
    meta = model._meta
    fields = [field for field in meta.concrete_fields if field is not meta.auto_field]
    names = ", ".join(_quote(field.column) for field in fields)
    return _Insert(
        f"INSERT INTO {_quote(meta.db_table)} ({names}) VALUES ",
        "(" + ", ".join(["%s"] * len(fields)) + ")",
        f" RETURNING {_quote(meta.pk.column)}",
        fields,
    )


def insert(*instances: Model) -> None:
    """Store new rows of one model in one statement, as `save(force_insert=True)` would each, and
    give each instance its primary key."""
    if not instances:
        return
    if not connection.features.can_return_rows_from_bulk_insert:
        for instance in instances:  # the ORM knows how this backend tells the new keys
            instance.save(force_insert=True)
        return
    statement = _insert_statement(type(instances[0]), connection.vendor)
    params = [value for instance in instances for value in _values(instance, statement.fields, adding=True)]
    with preparing_cursor() as cursor:
        cursor.execute(statement.into + ", ".join([statement.row] * len(instances)) + statement.returning, params)
        keys = cursor.fetchall()
    for instance, (key,) in zip(instances, keys, strict=True):
        _stored(instance, key)


def insert_with(parent: Model, link: str, children: list[Model]) -> None:
    """Store a new row and new rows that point to it through their field `link`, all or nothing, as
    `insert` stores each. On PostgreSQL that is one statement (a data-modifying WITH), which needs no
    transaction of its own: one round trip where BEGIN, two inserts and COMMIT take four."""
    if connection.vendor != "postgresql" or not children:
        with transaction.atomic():
            insert(parent)
            for child in children:
                setattr(child, link, parent)
            insert(*children)
        return
    parent_fields = _insert_statement(type(parent), connection.vendor).fields
    sql, child_fields = _insert_with_statement(type(parent), type(children[0]), link, len(children), connection.vendor)
    params = _values(parent, parent_fields, adding=True)
    params += [value for child in children for value in _values(child, child_fields, adding=True)]
    # Inside a transaction a failed statement would spoil it: a savepoint keeps that to this one.
    scope = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with scope, preparing_cursor() as cursor:
        cursor.execute(sql, params)
        keys = cursor.fetchall()
    parent_key = next(key for which, key in keys if which == 0)
    _stored(parent, parent_key)
    for child, key in zip(children, [key for which, key in keys if which == 1], strict=True):
        setattr(child, link, parent)
        _stored(child, key)


@functools.cache
def _insert_with_statement(
    parent_model: type[Model], child_model: type[Model], link: str, count: int, vendor: str
) -> tuple[str, list]:
    """`insert_with`'s statement for `count` children, and the children's fields it takes values for."""
    parent_statement = _insert_statement(parent_model, vendor)
    child_statement = _insert_statement(child_model, vendor)
    pk = _quote(parent_model._meta.pk.column)
    link_field = child_model._meta.get_field(link)
    values = [f"(SELECT {pk} FROM parent)" if field is link_field else "%s" for field in child_statement.fields]
    child_row = f"({', '.join(values)})"
    sql = (
        f"WITH parent AS ({parent_statement.into}{parent_statement.row}{parent_statement.returning}), "
        f"children AS ({child_statement.into}{', '.join([child_row] * count)}{child_statement.returning}) "
        f"SELECT 0, {pk} FROM parent UNION ALL SELECT 1, {_quote(child_model._meta.pk.column)} FROM children"
    )
    return sql, [field for field in child_statement.fields if field is not link_field]


def _values(instance: Model, fields, *, adding: bool) -> list:
    """The instance's values for these fields as the database takes them, as `save` prepares them."""
    return [field.get_db_prep_save(field.pre_save(instance, adding), connection) for field in fields]


def _stored(instance: Model, key) -> None:
    instance.pk = key
    instance._state.adding = False
    instance._state.db = connection.alias


@functools.cache
def _update_statement(model: type[Model], vendor: str, field_names: tuple[str, ...]) -> tuple[str, list]:
    meta = model._meta
    fields = [meta.get_field(name) for name in field_names]
    assignments = ", ".join(f"{_quote(field.column)} = %s" for field in fields)
    return f"UPDATE {_quote(meta.db_table)} SET {assignments} WHERE {_quote(meta.pk.column)} = %s", fields


def update(instance: Model, fields: list[str]) -> None:
    """Write these fields of a stored row, as `save(update_fields=fields)` would."""
    sql, params = _update(instance, fields)
    with preparing_cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount != 1:
            raise _not_found(instance)


def _update(instance: Model, fields: list[str]) -> tuple[str, list]:
    """The statement that writes these fields of a stored row, and its parameters."""
    sql, model_fields = _update_statement(type(instance), connection.vendor, tuple(dict.fromkeys(fields)))
    return sql, [*_values(instance, model_fields, adding=False), instance.pk]


def _not_found(instance: Model) -> DatabaseError:
    return DatabaseError(f"{type(instance).__name__} {instance.pk} was not found to update.")


def skips_duplicates() -> bool:
    """Whether `insert_and_update` can leave out a new row that repeats a unique one."""
    return connection.vendor == "postgresql"


# The end of a statement whose WITH has `new` (the new row's key) and `changed` (the stored rows written).
_NEW_AND_CHANGED = "SELECT (SELECT * FROM new), (SELECT count(*) FROM changed)"


def insert_and_update(new: Model, changed: Model, fields: list[str], *, unless_duplicate: bool = False) -> bool:
    """Store a new row and write these fields of a stored row, as `insert` and `update` do, within the
    caller's transaction. On PostgreSQL that is one statement (a data-modifying WITH): one round trip
    where they take two.

    With `unless_duplicate` (where `skips_duplicates()`), a new row that would break a unique
    constraint writes nothing, neither row, and the answer is False: the repeat is found without a
    query of its own before."""
    if connection.vendor != "postgresql":
        if unless_duplicate:
            raise NotImplementedError(f"{connection.vendor} cannot leave out a duplicate in the statement.")
        insert(new)
        update(changed, fields)
        return True
    inserting = _insert_statement(type(new), connection.vendor)
    updating, update_params = _update(changed, fields)
    if unless_duplicate:
        skip, only_if_new = " ON CONFLICT DO NOTHING", " AND EXISTS (SELECT 1 FROM new)"
    else:
        skip = only_if_new = ""
    return _store_new_and_changed(
        f"WITH new AS ({inserting.into}{inserting.row}{skip}{inserting.returning}), "
        f"changed AS ({updating}{only_if_new} RETURNING 1) {_NEW_AND_CHANGED}",
        _values(new, inserting.fields, adding=True) + update_params,
        new,
        changed,
    )


def _store_new_and_changed(sql: str, params: list, new: Model, changed: Model) -> bool:
    """Runs a statement ending in `_NEW_AND_CHANGED`: False when it stored no new row (and so changed
    nothing), else the new row has its key."""
    with preparing_cursor() as cursor:
        cursor.execute(sql, params)
        key, updated = cursor.fetchone()
    if key is None:
        return False
    if updated != 1:
        raise _not_found(changed)
    _stored(new, key)
    return True


def writes_if_unchanged() -> bool:
    """Whether `insert_and_update_if_unchanged` can be used: a read can tell which version of a row it
    saw (`version_sql`)."""
    return connection.vendor == "postgresql"


def version_sql(alias: str) -> str:
    """Selects the version of the row under `alias` that a read saw (PostgreSQL: the transaction that
    wrote it), for `insert_and_update_if_unchanged`."""
    return f"{alias}.xmin::text"


def insert_and_update_if_unchanged(new: Model, changed: Model, fields: list[str], *, version: str) -> bool:
    """Store a new row and write these fields of a stored row, as `insert_and_update` does with
    `unless_duplicate`, in one statement that needs no transaction around it, and only while the stored
    row is still the `version` that was read: the statement locks it as it checks. False when nothing
    was written: the row has changed since, or the new row repeats a unique one.

    A decision taken on an unlocked read is written as if the read had held the lock, for one round
    trip where BEGIN, the locked read, the write and COMMIT take four."""
    sql, new_fields, changed_fields = _if_unchanged_statement(type(new), type(changed), tuple(dict.fromkeys(fields)))
    params = [changed.pk, version, *_values(new, new_fields, adding=True)]
    params += [*_values(changed, changed_fields, adding=False), changed.pk]
    return _store_new_and_changed(sql, params, new, changed)


@functools.cache
def _if_unchanged_statement(new_model: type[Model], changed_model: type[Model], field_names: tuple[str, ...]):
    inserting = _insert_statement(new_model, "postgresql")
    updating, changed_fields = _update_statement(changed_model, "postgresql", field_names)
    table, pk = _quote(changed_model._meta.db_table), _quote(changed_model._meta.pk.column)
    # Selected rather than listed in VALUES, the new row's values need their types said.
    typed = ", ".join(f"%s::{field.db_type(connection)}" for field in inserting.fields)
    sql = (
        f"WITH unchanged AS (SELECT 1 FROM {table} t WHERE t.{pk} = %s AND {version_sql('t')} = %s FOR UPDATE), "
        f"new AS ({inserting.into.removesuffix('VALUES ')}SELECT {typed} FROM unchanged "
        f"ON CONFLICT DO NOTHING{inserting.returning}), "
        f"changed AS ({updating} AND EXISTS (SELECT 1 FROM new) RETURNING 1) {_NEW_AND_CHANGED}"
    )
    return sql, inserting.fields, changed_fields


@dataclass(frozen=True, eq=False)  # one per model and alias (`columns`): compared by identity
class Columns:
    """A model's columns as a query selects them under a table alias."""

    model: type[Model]
    sql: str  # "alias.column, ..."
    expressions: tuple  # for the backend's converters
    attnames: tuple[str, ...]
    pk_index: int


def columns(model: type[Model], alias: str) -> Columns:
    return _columns(model, alias, connection.vendor)


@functools.cache
def _columns(model: type[Model], alias: str, vendor: str) -> Columns:
    fields = model._meta.concrete_fields
    return Columns(
        model,
        ", ".join(f"{alias}.{_quote(field.column)}" for field in fields),
        tuple(field.get_col(alias) for field in fields),
        tuple(field.attname for field in fields),
        fields.index(model._meta.pk),
    )


def from_row(row, *selected: Columns) -> list[Model | None]:
    """The models a row holds, one after another as `selected` lists their columns, made as the ORM
    makes them (the backend's converters, then `from_db`). A model whose key is NULL (an outer join
    that found nothing) is None."""
    compiler, converters = _converters(connections[connection.alias], selected)
    row = next(compiler.apply_converters([row], converters))
    models, start = [], 0
    for chosen in selected:
        values = row[start : start + len(chosen.attnames)]
        start += len(chosen.attnames)
        found = values[chosen.pk_index] is not None
        models.append(chosen.model.from_db(connection.alias, chosen.attnames, values) if found else None)
    return models


@functools.lru_cache(maxsize=256)
def _converters(database, selected: tuple[Columns, ...]):
    """Worked out once per connection (a database thread's): asking each column took longer than
    reading the row."""
    expressions = [expression for chosen in selected for expression in chosen.expressions]
    compiler = selected[0].model.objects.all().query.get_compiler(connection=database)
    return compiler, compiler.get_converters(expressions)


def order_by(model: type[Model], alias: str, ordering: tuple[str, ...]) -> str:
    """An ORM ordering ("-created_at", "id") as SQL on the model's table under `alias`."""
    terms = []
    for name in ordering:
        column = _quote(model._meta.get_field(name.lstrip("-")).column)
        terms.append(f"{alias}.{column} {'DESC' if name.startswith('-') else 'ASC'}")
    return "ORDER BY " + ", ".join(terms)


def read_one(model: type[Model], where: str, params: list) -> Model | None:
    """The first row of `model` (alias `t`) that `where` finds, or None."""
    chosen = columns(model, "t")
    with preparing_cursor() as cursor:
        cursor.execute(f"SELECT {chosen.sql} FROM {_quote(model._meta.db_table)} t WHERE {where} LIMIT 1", params)
        row = cursor.fetchone()
    return from_row(row, chosen)[0] if row is not None else None
