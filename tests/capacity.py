"""DynamoDB capacity, counted by DynamoDB's rules, for `make bench` (moto's ReturnConsumedCapacity is fixed).

botocore hooks on every DynamoDB client of the process see each request and its answer; item sizes follow
DynamoDB's item-size rules (local_stack.dynamodb_rules.item_size), and where a write's size is known only
after it (an update), the item is read from moto's backend. On-demand capacity:

- a write: 1 WRU per KB of the item (rounded up), at least 1; in a transaction twice that; an update
  counts the larger of the item before and after it; a conditional write that fails still costs 1 WRU;
- every global secondary index entry a write creates, changes or removes: 1 WRU per KB of the entry (its
  keys, the table's keys, and what it projects: these indexes project keys only);
- a read: 1 RRU per 4 KB read (rounded up, per request for a Query, per item for a GetItem or a
  BatchGetItem key), half that when eventually consistent, twice that in a transaction.

List prices (us-east-1, on-demand): $0.625 per million write request units and $0.125 per million read
request units.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from local_stack.dynamodb_rules import RULES, item_size

WRITE_PRICE = Decimal("0.625")  # USD per million WRU
READ_PRICE = Decimal("0.125")  # USD per million RRU


def _kb(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def _units_of_4kb(size: int) -> int:
    return max(1, math.ceil(size / 4096))


@dataclass
class Capacity:
    """Units consumed, by table and by kind (event, index, marker, counter... as a `classify` names them)."""

    wru: Counter[str] = field(default_factory=Counter)
    rru: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)

    @property
    def write_units(self) -> float:
        return float(sum(self.wru.values()))

    @property
    def read_units(self) -> float:
        return float(sum(self.rru.values()))

    def dollars(self) -> Decimal:
        return (
            Decimal(str(self.write_units)) * WRITE_PRICE + Decimal(str(self.read_units)) * READ_PRICE
        ) / 10**6


def _plain_client() -> Any:
    """A DynamoDB client without the metering hooks (it speaks DynamoDB JSON, as the hooks see requests)."""
    import boto3

    return boto3.client("dynamodb", region_name="us-east-1")


def _backend_item(table_name: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
    """The item as moto holds it now, in DynamoDB JSON (to size an update)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables.get(table_name)
    if table is None:
        return None
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_key = DynamoType(key[table.hash_key_attr])
    range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    item = table.get_item(hash_key, range_key)
    if item is None:
        return None
    found: dict[str, Any] = item.to_json()["Attributes"]
    return found


def _index_entries(table_name: str, item: Mapping[str, Any] | None) -> list[tuple[str, int]]:
    """(index, entry size) of every global secondary index entry of `item` (keys-only projection)."""
    schema = RULES.schemas.get(table_name)
    if schema is None or item is None:
        return []
    table_keys = [name for name in schema.table if name]
    entries = []
    for index, (hash_key, range_key) in schema.indexes.items():
        names = [hash_key, *([range_key] if range_key else [])]
        if all(name in item for name in names):
            attributes = {name: item[name] for name in dict.fromkeys([*names, *table_keys])}
            entries.append((index, item_size(attributes)))
    return entries


class Meter:
    """Installs the hooks on every DynamoDB client (as local_stack.dynamodb_rules does) while active."""

    def __init__(self, classify: Any = None) -> None:
        # classify(table, key or item) -> a label such as "marker" or "counter"; default: the table's name
        self.classify = classify or (lambda table, item: table)
        self.capacity = Capacity()
        self._pending: dict[int, tuple[str, dict[str, Any], dict[str, Any]]] = {}

    def _label(self, table: str, item: Mapping[str, Any]) -> str:
        return str(self.classify(table, item))

    def before(self, model: Any, params: Mapping[str, Any], context: Any, **_: Any) -> None:
        body = params.get("body") or b"{}"
        request = json.loads(body.decode() if isinstance(body, bytes) else body)
        # Sizes before the write, for updates and index changes.
        before: dict[str, Any] = {}
        if model.name in ("UpdateItem", "PutItem", "DeleteItem"):
            key = request.get("Key") or self._key_of(request["TableName"], request.get("Item", {}))
            before["item"] = _backend_item(request["TableName"], key) if key else None
        elif model.name == "TransactWriteItems":
            before["items"] = []
            for action in request.get("TransactItems", []):
                (_, spec), *_ = action.items()
                key = spec.get("Key") or self._key_of(spec["TableName"], spec.get("Item", {}))
                before["items"].append(_backend_item(spec["TableName"], key) if key else None)
        context["capacity_request"] = (model.name, request, before)

    @staticmethod
    def _key_of(table: str, item: Mapping[str, Any]) -> dict[str, Any] | None:
        schema = RULES.schemas.get(table)
        if schema is None:
            return None
        return {name: item[name] for name in schema.table if name and name in item}

    def after(
        self, http_response: Any, parsed: Mapping[str, Any], model: Any, context: Any, **_: Any
    ) -> None:
        name, request, before = context.pop("capacity_request", (model.name, {}, {}))
        failed = http_response.status_code >= 400
        # The answer as it came (DynamoDB JSON): boto3's resource client turns `parsed` into Python values.
        try:
            parsed = json.loads(http_response.content or b"{}")
        except ValueError:
            parsed = {}
        self.capacity.requests[name] += 1
        if name in ("PutItem", "UpdateItem", "DeleteItem"):
            self._write(request, before.get("item"), factor=1, failed=failed)
        elif name == "TransactWriteItems" and not failed:
            for action, prior in zip(request.get("TransactItems", []), before.get("items", []), strict=False):
                (kind, spec), *_ = action.items()
                self._write({**spec, "_kind": kind}, prior, factor=2, failed=False)
        elif name == "BatchWriteItem":
            for table, writes in request.get("RequestItems", {}).items():
                for write in writes:
                    item = (write.get("PutRequest") or {}).get("Item") or (
                        write.get("DeleteRequest") or {}
                    ).get("Key")
                    self.capacity.wru[self._label(table, item)] += _kb(item_size(item))
                    for index, size in _index_entries(table, item):
                        self.capacity.wru[f"{table}/{index}"] += _kb(size)
        elif name in ("Query", "Scan"):
            table = request["TableName"] + (f"/{request['IndexName']}" if request.get("IndexName") else "")
            if request.get("Select") == "COUNT" and not failed:
                # A count reads (and pays for) the items it counts: read them again to size them.
                parsed = _plain_client().query(**{k: v for k, v in request.items() if k != "Select"})
            size = sum(item_size(item) for item in parsed.get("Items", []))
            units = _units_of_4kb(size) * (1.0 if request.get("ConsistentRead") else 0.5)
            self.capacity.rru[table] += units
        elif name == "GetItem":
            item = parsed.get("Item") or {}
            factor = 1.0 if request.get("ConsistentRead") else 0.5
            self.capacity.rru[request["TableName"]] += _units_of_4kb(item_size(item)) * factor
        elif name == "BatchGetItem":
            for table, spec in request.get("RequestItems", {}).items():
                factor = 1.0 if spec.get("ConsistentRead") else 0.5
                for item in parsed.get("Responses", {}).get(table, []):
                    self.capacity.rru[table] += _units_of_4kb(item_size(item)) * factor

    def _write(
        self, request: Mapping[str, Any], prior: Mapping[str, Any] | None, factor: int, failed: bool
    ) -> None:
        table = request["TableName"]
        if failed:  # a failed conditional write still consumes one unit
            self.capacity.wru[self._label(table, request.get("Item") or request.get("Key") or {})] += 1
            return
        if "Item" in request:
            after: Mapping[str, Any] | None = request["Item"]
        else:
            after = _backend_item(table, request["Key"])
        sizes = [item_size(item) for item in (prior, after) if item]
        self.capacity.wru[self._label(table, after or prior or {})] += factor * _kb(max(sizes, default=1))
        old = dict(_index_entries(table, prior))
        new = dict(_index_entries(table, after))
        for index in set(old) | set(new):
            if old.get(index) != new.get(index) or (prior is None) != (after is None):
                changes = (index in old) + (index in new)  # a moved entry is a delete and a put
                self.capacity.wru[f"{table}/{index}"] += changes * _kb(
                    max(old.get(index, 0), new.get(index, 0))
                )


@contextmanager
def metering(classify: Any = None) -> Iterator[Capacity]:
    """Counts the capacity of every request of the functions' DynamoDB client (costmetrics.aws)."""
    from costmetrics import aws

    meter = Meter(classify)
    client = aws.dynamodb_client()
    client.meta.events.register("before-call.dynamodb", meter.before, unique_id="capacity-before")
    client.meta.events.register("after-call.dynamodb", meter.after, unique_id="capacity-after")
    try:
        yield meter.capacity
    finally:
        client.meta.events.unregister("before-call.dynamodb", unique_id="capacity-before")
        client.meta.events.unregister("after-call.dynamodb", unique_id="capacity-after")


@contextmanager
def items_read() -> Iterator[Counter[str]]:
    """Items each read of the functions' DynamoDB client goes over, by table or `table/index`: a Query's
    ScannedCount (a Select=COUNT too: DynamoDB reads what it counts), the items a GetItem or BatchGetItem
    returns."""
    from costmetrics import aws

    read: Counter[str] = Counter()

    def after(parsed: Mapping[str, Any], model: Any, context: Any, **_: Any) -> None:
        request = context.get("items_read_request", {})
        if model.name in ("Query", "Scan"):
            index = f"/{request['IndexName']}" if request.get("IndexName") else ""
            read[request["TableName"] + index] += int(parsed.get("ScannedCount", 0))
        elif model.name == "GetItem":
            read[request["TableName"]] += 1 if parsed.get("Item") else 0
        elif model.name == "BatchGetItem":
            for table, items in parsed.get("Responses", {}).items():
                read[table] += len(items)

    def before(params: Mapping[str, Any], context: Any, **_: Any) -> None:
        context["items_read_request"] = params

    events = aws.dynamodb_client().meta.events
    events.register("before-parameter-build.dynamodb", before, unique_id="items-read-before")
    events.register("after-call.dynamodb", after, unique_id="items-read-after")
    try:
        yield read
    finally:
        events.unregister("before-parameter-build.dynamodb", unique_id="items-read-before")
        events.unregister("after-call.dynamodb", unique_id="items-read-after")
