"""moto made safe for concurrent clients, and its costs that grow with the data removed, without changing
what the service sees:

- DynamoDB answers each request atomically. moto does not: a stream record's sequence number is taken as
  `len(records)` before the record is appended, so two writes from two threads (ingestion writes with 16)
  could get the same sequence number, and a conditional put could pass its check twice. Every request to
  moto is served under one lock, as one step (which also gives local_stack.persistence one order).
- moto's item dict sums the whole item's size at every attribute it sets (quadratic per item), and its
  request dispatch lists the handler class's methods with inspect at every request: a new item's size is
  checked once (the same limit, the same error), and the method names are memoized per class.
- An update expression is re-parsed and run through ten validating passes per item (about 10 ms for the
  rollups' 25-clause updates). The parser's result is memoized by expression (moto copies it before use),
  and the plain `ADD #n :v` / `SET #n = :v` / `SET #n = if_not_exists(#n, :v)` updates that the rollups
  send are applied directly; anything else, or anything that moto would reject, takes moto's own path.
  Condition and filter expressions are parsed once per (expression, names, values) as well.

- TransactWriteItems deep-copies every table it touches to roll back a cancelled transaction: O(table
  size) per call, so a growing table makes a test or a local run quadratic. The same semantics (all or
  nothing, no stream record from a cancelled transaction) come from snapshotting only the addressed items.
- The response serializer looks up each field's possible names through botocore shape introspection
  (tens of microseconds per field: a page of 500 events took seconds). The names depend only on the
  field, the object's class and the shape's name and parent, so they are memoized. DynamoDB item
  operations answer a dict that already is the wire JSON: it is sent as is.
- A query on a global secondary index sorts and scans every item of the table. Items are grouped by
  index hash key once per table version (any write bumps it), and the query sees only its partition.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable
from typing import Any

_state = threading.local()
_installed = False


class _CopyShim:
    """Stands in for the `copy` module inside moto.dynamodb.models during a transaction."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if getattr(_state, "active", False) and isinstance(value, Table):
            return value  # the wrapper below snapshots the addressed items instead
        return copy.deepcopy(value, memo)


def install() -> None:
    """Patches moto in this process (idempotent)."""
    global _installed
    if _installed:
        return
    import moto.dynamodb.models as models

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        touched = []
        try:
            for action in transact_items:
                _, op = next(iter(action.items()))
                table = self.tables.get(op.get("TableName"))
                if table is None:
                    continue
                keys = op.get("Key") or {
                    name: op["Item"][name] for name in (table.hash_key_attr, table.range_key_attr) if name
                }
                hash_key, range_key = self.get_keys_value(table, keys)
                touched.append(
                    (table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key)))
                )
        except Exception:
            return original(self, transact_items)  # malformed request: moto's own path reports it
        stream_lengths = {
            id(t): (t, len(t.stream_shard.items)) for t, *_ in touched if t.stream_shard is not None
        }
        _state.active = True
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, before in reversed(touched):
                if range_key is None:
                    if before is None:
                        table.items.pop(hash_key, None)
                    else:
                        table.items[hash_key] = before
                else:
                    bucket = table.items.setdefault(hash_key, {})
                    if before is None:
                        bucket.pop(range_key, None)
                    else:
                        bucket[range_key] = before
            for table, length in stream_lengths.values():
                del table.stream_shard.items[length:]
            for table, *_ in touched:
                _bump(table)
            raise
        finally:
            _state.active = False

    setattr(models, "copy", _CopyShim())  # noqa: B010 - replaces the module moto's code refers to
    setattr(models.DynamoDBBackend, "transact_write_items", transact_write_items)  # noqa: B010
    _memoize_serializer_aliases()
    _send_item_results_as_json()
    _memoize_update_parser()
    _memoize_condition_parser()
    # Before _index_partitions, whose wrapper of update_item marks the table changed.
    _direct_counter_updates()
    _index_partitions()
    _serialize_requests()
    _item_size_checked_once()
    _memoize_method_names()
    _installed = True


def _bump(table: Any) -> None:
    table.__dict__["_speedup_version"] = table.__dict__.get("_speedup_version", 0) + 1


def _in_range(items: list[Any], attribute: str | None, comparison: Any, bounds: Any) -> list[Any]:
    """The items whose string sort key can satisfy BETWEEN or BEGINS_WITH (a superset is fine: moto applies
    the exact condition afterwards). Code-point order of str is DynamoDB's UTF-8 byte order."""
    if not attribute or comparison not in ("BETWEEN", "BEGINS_WITH") or not bounds:
        return items
    if any(getattr(b, "type", None) != "S" for b in bounds):
        return items

    def key(item: Any) -> str | None:
        value = item.attrs.get(attribute)
        return str(value.value) if value is not None and value.type == "S" else None

    if comparison == "BETWEEN":
        low, high = str(bounds[0].value), str(bounds[1].value)
        return [i for i in items if (k := key(i)) is not None and low <= k <= high]
    prefix = str(bounds[0].value)
    return [i for i in items if (k := key(i)) is not None and k.startswith(prefix)]


def _index_partitions() -> None:
    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import Table

    original_all_items = Table.all_items
    original_query = Table.query

    def all_items(self: Any) -> Any:
        override = getattr(_state, "candidates", None)
        if override is not None and override[0] is self:
            return list(override[1])
        return original_all_items(self)

    def partitions(table: Any, attribute: str) -> dict[tuple[str, str], list[Any]]:
        version = table.__dict__.get("_speedup_version", 0)
        cache = table.__dict__.setdefault("_speedup_partitions", {})
        cached = cache.get(attribute)
        if cached is None or cached[0] != version:
            grouped: dict[tuple[str, str], list[Any]] = {}
            for item in original_all_items(table):
                value = item.attrs.get(attribute)
                if value is not None:
                    grouped.setdefault((value.type, str(value.value)), []).append(item)
            cached = cache[attribute] = (version, grouped)
        result: dict[tuple[str, str], list[Any]] = cached[1]
        return result

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        conditions = kwargs.get("hash_key_conditions") or []
        index_name = kwargs.get("index_name") or (args[7] if len(args) > 7 else None)
        hash_key = args[0] if args else kwargs.get("hash_key")
        if not index_name and hash_key is not None:
            # A base-table query reads one partition (moto keeps it under its hash key), and within it
            # only the sort-key range asked for: moto then sorts a few items, not the whole partition.
            bucket = self.items.get(hash_key)
            found = [] if bucket is None else list(bucket.values()) if self.range_key_attr else [bucket]
            comparison = args[1] if len(args) > 1 else kwargs.get("range_comparison")
            bounds = args[2] if len(args) > 2 else kwargs.get("range_objs")
            found = _in_range(found, self.range_key_attr, comparison, bounds)
            _state.candidates = (self, found)
        elif index_name and len(conditions) == 1:
            attribute, value = conditions[0]
            _state.candidates = (self, partitions(self, attribute).get((value.type, str(value.value)), []))
        else:
            return original_query(self, *args, **kwargs)
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _state.candidates = None

    def bumping(method: Any, table_of: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            finally:
                table = table_of(*args, **kwargs)
                if table is not None:
                    _bump(table)

        return wrapper

    for name in ("put_item", "delete_item"):
        setattr(Table, name, bumping(getattr(Table, name), lambda self, *a, **k: self))
    backend = models.DynamoDBBackend
    tracked = bumping(backend.update_item, lambda self, table_name, *a, **k: self.tables.get(table_name))
    setattr(backend, "update_item", tracked)  # noqa: B010
    setattr(Table, "all_items", all_items)  # noqa: B010
    setattr(Table, "query", query)  # noqa: B010


# Operations whose result is item data, keys and counts in DynamoDB JSON already.
_ITEM_OPERATIONS = frozenset(
    {
        "Query",
        "Scan",
        "GetItem",
        "BatchGetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "TransactGetItems",
    }
)


def _send_item_results_as_json() -> None:
    import json

    from moto.dynamodb.responses import DynamoResult

    original = DynamoResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        if context.operation_model.name in _ITEM_OPERATIONS and isinstance(self.result, dict):
            try:
                body = json.dumps(self.result)
            except (TypeError, ValueError):
                return original(self, context)
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, body
        return original(self, context)

    setattr(DynamoResult, "execute_result", execute_result)  # noqa: B010

    from datetime import UTC, datetime

    from moto.core.responses import ActionResult
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    def stream_json(value: Any) -> Any:
        if isinstance(value, datetime):  # ApproximateCreationDateTime: epoch seconds on the wire
            return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
        raise TypeError(f"{type(value).__name__} is not JSON")

    class RecordsResult(ActionResult):
        def execute_result(self, context: Any) -> Any:
            body = json.dumps(self.result, default=stream_json)
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    original_get_records = DynamoDBStreamsHandler.get_records

    def get_records(self: Any) -> Any:
        return RecordsResult(original_get_records(self).result)

    setattr(DynamoDBStreamsHandler, "get_records", get_records)  # noqa: B010


def _memoize_serializer_aliases() -> None:
    from moto.core import serialize

    for picker in (serialize.AttributePicker, serialize.XFormedAttributePicker):
        original = picker.__dict__["get_possible_keys"]
        memo: dict[tuple[Any, ...], list[str]] = {}

        def get_possible_keys(
            self: Any, context: Any, _original: Any = original, _memo: dict[tuple[Any, ...], list[str]] = memo
        ) -> Any:
            shape = context.shape
            parent = getattr(shape, "parent", None) if shape is not None else None
            key = (
                tuple(self.alias_providers),
                context.key,
                type(context.obj),
                getattr(context.service_model, "service_name", None),
                getattr(shape, "name", None),
                getattr(parent, "name", None),
            )
            found = _memo.get(key)
            if found is None:
                found = _memo[key] = list(_original(self, context))
            return iter(found)

        setattr(picker, "get_possible_keys", get_possible_keys)  # noqa: B010


# --- One request at a time ----------------------------------------------------------------------------

_REQUEST_LOCK = threading.RLock()
_journal: Callable[[Any], None] | None = None


def request_lock() -> threading.RLock:
    """Held while moto serves a request: whoever holds it sees no request half applied (snapshots)."""
    return _REQUEST_LOCK


def set_journal(hook: Callable[[Any], None] | None) -> None:
    """Calls `hook` with each request that changed a backend, after moto applied it and before the answer
    leaves, under the request lock (local_stack.persistence); None stops it."""
    global _journal
    _journal = hook


def _serialize_requests() -> None:
    from moto.core.responses import BaseResponse

    from local_stack.persistence import Recorded, mutates

    original = BaseResponse._dispatch

    def _dispatch(self: Any, request: Any, full_url: Any = None, headers: Any = None) -> Any:
        with _REQUEST_LOCK:
            result = original(self, request, full_url, headers)
            hook = _journal
            if hook is not None and int(result[0]) < 400 and mutates(self._get_action()):
                body = request.data
                hook(
                    Recorded(
                        method=request.method,
                        url=request.raw_url,
                        headers=dict(request.headers),
                        body=body if isinstance(body, bytes) else (body or "").encode(),
                    )
                )
            return result

    setattr(BaseResponse, "_dispatch", _dispatch)  # noqa: B010


# --- Update expressions ----------------------------------------------------------------------------------


def _memoize_update_parser() -> None:
    from moto.dynamodb.parsing import expressions

    parser: Any = getattr(expressions, "UpdateExpressionParser")  # noqa: B009 - untyped in moto
    original = parser.make.__func__
    parsed: dict[str, Any] = {}

    def make(cls: Any, expression_str: str) -> Any:
        # The AST is only read (find_clauses) or deep-copied before validation mutates it (Validator).
        found = parsed.get(expression_str)
        if found is None:
            found = parsed[expression_str] = original(cls, expression_str)
        return found

    setattr(parser, "make", classmethod(make))  # noqa: B010


def _memoize_condition_parser() -> None:
    """Condition and filter expressions are parsed once per (expression, names, values): the parsed
    operators only evaluate items (their `expr`), so one parse serves every request that sends the same
    three. A parse that fails is not cached, and raises again each time."""
    import json
    from functools import lru_cache

    import moto.dynamodb.models as models
    import moto.dynamodb.models.table as table_module
    from moto.dynamodb.comparisons import get_filter_expression as original

    @lru_cache(maxsize=1024)
    def parsed(expression: str, names: str, values: str) -> Any:
        return original(expression, json.loads(names), json.loads(values))

    def get_filter_expression(expression: str | None, names: Any, values: Any) -> Any:
        if expression is None:
            return original(expression, names, values)
        return parsed(expression, json.dumps(names, sort_keys=True), json.dumps(values, sort_keys=True))

    for module in (models, table_module):
        setattr(module, "get_filter_expression", get_filter_expression)  # noqa: B010


_ADD_ACTION = re.compile(r"(#\w+) (:\w+)")
_SET_ACTION = re.compile(r"(#\w+) = (?:(:\w+)|if_not_exists\((#\w+), (:\w+)\))")


def _actions(part: str, pattern: re.Pattern[str]) -> list[re.Match[str]] | None:
    """`part` as `action, action, ...`, each a full match of `pattern`, or None."""
    found, position = [], 0
    while position < len(part):
        match = pattern.match(part, position)
        if match is None:
            return None
        found.append(match)
        position = match.end()
        if position < len(part):
            if not part.startswith(", ", position):
                return None
            position += 2
    return found


def plain_update(expression: str) -> tuple[list[tuple[str, str]], list[tuple[str, str, bool]]] | None:
    """The actions of `ADD #n :v, ... [SET #n = :v | #n = if_not_exists(#n, :v), ...]` as written by
    costmetrics (ADD pairs; SET triples with whether the value is only a default), or None for any other
    expression."""
    if expression.startswith("ADD "):
        adds_part, _, sets_part = expression[4:].partition(" SET ")
    elif expression.startswith("SET "):
        adds_part, sets_part = "", expression[4:]
    else:
        return None
    adds = _actions(adds_part, _ADD_ACTION)
    sets = _actions(sets_part, _SET_ACTION)
    if adds is None or sets is None or not (adds or sets):
        return None
    if any(m[3] is not None and m[3] != m[1] for m in sets):
        return None
    return [(m[1], m[2]) for m in adds], [(m[1], m[2] or m[4], m[3] is not None) for m in sets]


# moto's LimitedSizeDict: between DynamoDB's 400 KB and its own estimate of the JSON overhead.
_MOTO_ITEM_LIMIT = 405_000


def _direct_counter_updates() -> None:
    import moto.dynamodb.models as models
    from moto.dynamodb.exceptions import ItemSizeToUpdateTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    backend = models.DynamoDBBackend
    moto_update = backend.update_item

    def update_item(
        self: Any,
        table_name: str,
        key: dict[str, Any],
        update_expression: str,
        expression_attribute_names: dict[str, Any],
        expression_attribute_values: dict[str, Any],
        attribute_updates: dict[str, Any] | None = None,
        expected: dict[str, Any] | None = None,
        condition_expression: str | None = None,
        return_values_on_condition_check_failure: str | None = None,
    ) -> Any:
        def moto_path() -> Any:
            return moto_update(
                self,
                table_name,
                key,
                update_expression,
                expression_attribute_names,
                expression_attribute_values,
                attribute_updates,
                expected,
                condition_expression,
                return_values_on_condition_check_failure,
            )

        actions = plain_update(update_expression or "")
        table = self.tables.get(table_name)
        if actions is None or attribute_updates or expected or condition_expression or table is None:
            return moto_path()
        names, values = expression_attribute_names or {}, expression_attribute_values or {}
        adds, sets = actions
        placeholders = [n for n, _ in adds] + [n for n, _, _ in sets]
        used_values = {v for _, v in adds} | {v for _, v, _ in sets}
        if set(placeholders) != set(names) or used_values != set(values):
            return moto_path()  # unknown or unused placeholders: moto's validation error
        resolved = [names[p] for p in placeholders]
        keys = {table.hash_key_attr, table.range_key_attr}
        if len(set(resolved)) != len(resolved) or keys & set(resolved):
            return moto_path()  # overlapping paths, or a key attribute updated
        try:
            hash_key, range_key = self.get_keys_value(table, key)
        except Exception:
            return moto_path()
        item = table.get_item(hash_key, range_key)
        new_values = {name: DynamoType(value) for name, value in values.items()}
        for placeholder, value in adds:
            added = new_values[value]
            current = item.attrs.get(names[placeholder]) if item is not None else None
            if added.type == "N":
                ok = current is None or current.type == "N"
            else:
                ok = added.type in ("SS", "NS", "BS") and bool(added.value)
                ok = ok and (current is None or current.type == added.type)
            if not ok:
                return moto_path()  # a type mismatch or an empty set: moto's error
        if any(new_values[v].type in ("S", "B") and new_values[v].value == "" for _, v, _ in sets):
            return moto_path()  # an empty string may be an index key: moto checks it
        before = copy.deepcopy(item) if table.stream_shard is not None else None
        if item is None:
            data = {table.hash_key_attr: {hash_key.type: hash_key.value}}
            if range_key is not None:
                data[table.range_key_attr] = {range_key.type: range_key.value}
            table.put_item(data)
            item = table.get_item(hash_key, range_key)
        updated = {}
        for placeholder, value in adds:
            name, added = names[placeholder], new_values[value]
            current = item.attrs.get(name)
            if added.type == "N":
                updated[name] = (current or DynamoType({"N": "0"})) + added
            else:
                members = list(current.value) if current is not None else []
                members += [m for m in added.value if m not in members]
                updated[name] = DynamoType({added.type: members})
        for placeholder, value, only_default in sets:
            name = names[placeholder]
            if not (only_default and name in item.attrs):
                updated[name] = new_values[value]
        # moto's item dict checks the whole item's size on every assignment; once is enough here.
        size = item.size() + sum(
            bytesize(n) + v.size() - (item.attrs[n].size() + bytesize(n) if n in item.attrs else 0)
            for n, v in updated.items()
        )
        if size > _MOTO_ITEM_LIMIT:
            raise ItemSizeToUpdateTooLarge()
        for name, new_value in updated.items():
            dict.__setitem__(item.attrs, name, new_value)
        if table.stream_shard is not None:
            table.stream_shard.add(before, item)
        return item

    setattr(backend, "update_item", update_item)  # noqa: B010


# --- Items and dispatch ----------------------------------------------------------------------------------


def _item_size_checked_once() -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    def __init__(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        values = {key: DynamoType(value) for key, value in attrs.items()}
        # What LimitedSizeDict checks attribute by attribute; sizes only grow, so the whole item once.
        if sum(bytesize(key) + value.size() for key, value in values.items()) > _MOTO_ITEM_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict()
        dict.update(self.attrs, values)

    setattr(Item, "__init__", __init__)  # noqa: B010


def _memoize_method_names() -> None:
    from moto.core import responses, utils

    original = utils.method_names_from_class
    found: dict[type, list[str]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        names = found.get(clazz)
        if names is None:
            names = found[clazz] = original(clazz)
        return names

    setattr(responses, "method_names_from_class", method_names_from_class)  # noqa: B010
