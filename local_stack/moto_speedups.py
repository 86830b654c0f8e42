"""Two of moto's costs that grow with the data, removed without changing what the service sees:

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
import threading
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
    _index_partitions()
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
