"""moto's TransactWriteItems deep-copies every table it touches to roll back a cancelled transaction:
O(table size) per call, so a growing table makes a test or a local run quadratic. This keeps the same
semantics (all or nothing, no stream record from a cancelled transaction) by snapshotting only the items
the transaction addresses. It changes the emulator's speed, never what the service sees."""

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
            raise
        finally:
            _state.active = False

    setattr(models, "copy", _CopyShim())  # noqa: B010 - replaces the module moto's code refers to
    setattr(models.DynamoDBBackend, "transact_write_items", transact_write_items)  # noqa: B010
    _installed = True
