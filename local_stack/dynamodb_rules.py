"""DynamoDB's request validation where moto is lenient: a botocore `before-call` hook on every DynamoDB
client of the process raises the ValidationException that DynamoDB answers, before moto sees the request.

The test suite installs it for every test (tests/conftest.py), and the local stack for its own functions,
so that code which moto would let pass but DynamoDB would refuse fails here first. The rules, from the
DynamoDB developer guide's "Service, account, and table quotas" and the API reference:

- ExpressionAttributeNames and ExpressionAttributeValues: each one given is used by the request's
  expressions, each one used is given, and neither map is empty.
- `a BETWEEN :low AND :high`: both bounds of one type, and low <= high (strings and binary by their bytes).
- TransactWriteItems / TransactGetItems: at most 100 actions, no two on the same item.
- BatchWriteItem: at most 25 requests; BatchGetItem: at most 100 keys; no item twice in either.
- Key attributes (of the table and of its secondary indexes): no empty string or binary; a partition key
  of at most 2,048 bytes, a sort key of at most 1,024 bytes.
- An item of at most 400 KB (attribute names and values, by DynamoDB's item-size rules).

Key schemas are learned from the CreateTable requests that go through the hook (the suite and the local
stack create their tables from template.yaml in the same process); rules that need a key schema are
skipped for tables created elsewhere.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

MAX_TRANSACTION_ACTIONS = 100
MAX_BATCH_WRITE = 25
MAX_BATCH_GET = 100
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024
MAX_ITEM_BYTES = 400 * 1024

_NAME = re.compile(r"#[A-Za-z0-9_]+")
_VALUE = re.compile(r":[A-Za-z0-9_]+")
_BETWEEN = re.compile(r"(?i)\bBETWEEN\s+(:[A-Za-z0-9_]+)\s+AND\s+(:[A-Za-z0-9_]+)")
_EXPRESSIONS = (
    "KeyConditionExpression",
    "FilterExpression",
    "ProjectionExpression",
    "ConditionExpression",
    "UpdateExpression",
)


class RuleViolation(Exception):
    """What DynamoDB would answer with a ValidationException."""


@dataclass(frozen=True)
class KeySchema:
    """A table's key attributes: (partition, sort or None) for the table and for each secondary index."""

    table: tuple[str, str | None]
    indexes: dict[str, tuple[str, str | None]] = field(default_factory=dict)


def _key_pair(schema: Iterable[Mapping[str, str]]) -> tuple[str, str | None]:
    hash_key = next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
    range_key = next((k["AttributeName"] for k in schema if k["KeyType"] == "RANGE"), None)
    return hash_key, range_key


def schema_of(create_table: Mapping[str, Any]) -> KeySchema:
    indexes = {
        index["IndexName"]: _key_pair(index["KeySchema"])
        for index in [
            *create_table.get("GlobalSecondaryIndexes", []),
            *create_table.get("LocalSecondaryIndexes", []),
        ]
    }
    return KeySchema(_key_pair(create_table["KeySchema"]), indexes)


# --- Sizes, as DynamoDB counts them --------------------------------------------------------------------


def _number_size(text: str) -> int:
    """About 1 byte per two significant digits, plus 1 (DynamoDB's documented approximation)."""
    digits = Decimal(text).normalize().as_tuple().digits
    return (len(digits) + 1) // 2 + 1


def value_size(value: Mapping[str, Any]) -> int:
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return _number_size(str(inner))
    if kind == "B":
        return len(base64.b64decode(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode()) for v in inner)
    if kind == "NS":
        return sum(_number_size(v) for v in inner)
    if kind == "BS":
        return sum(len(base64.b64decode(v)) for v in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    return 0


def item_size(item: Mapping[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def _raw(value: Mapping[str, Any]) -> tuple[str, Any]:
    (kind, inner), *_ = value.items()
    return kind, inner


def _comparable(value: Mapping[str, Any]) -> tuple[str, Any]:
    kind, inner = _raw(value)
    if kind == "S":
        return kind, str(inner).encode()
    if kind == "N":
        return kind, Decimal(str(inner))
    if kind == "B":
        return kind, base64.b64decode(inner)
    return kind, None


# --- The rules --------------------------------------------------------------------------------------------


class Rules:
    """The checks, with the key schemas of the tables seen created."""

    def __init__(self) -> None:
        self.schemas: dict[str, KeySchema] = {}

    def check(self, operation: str, request: Mapping[str, Any]) -> None:
        """Raises RuleViolation with DynamoDB's message when `request` breaks a rule."""
        if operation == "CreateTable":
            self.schemas[request["TableName"]] = schema_of(request)
            return
        check = {
            "GetItem": self._get_item,
            "DeleteItem": self._delete_item,
            "UpdateItem": self._update_item,
            "PutItem": self._put_item,
            "Query": self._query,
            "Scan": self._scan,
            "BatchGetItem": self._batch_get,
            "BatchWriteItem": self._batch_write,
            "TransactWriteItems": self._transact_write,
            "TransactGetItems": self._transact_get,
        }.get(operation)
        if check is not None:
            check(request)

    # Operations -------------------------------------------------------------------------------------

    def _get_item(self, request: Mapping[str, Any]) -> None:
        self._expressions(request)
        self._key(request["TableName"], request.get("Key", {}))

    def _delete_item(self, request: Mapping[str, Any]) -> None:
        self._get_item(request)

    def _update_item(self, request: Mapping[str, Any]) -> None:
        self._get_item(request)

    def _put_item(self, request: Mapping[str, Any]) -> None:
        self._expressions(request)
        self._item(request["TableName"], request.get("Item", {}))

    def _query(self, request: Mapping[str, Any]) -> None:
        self._expressions(request)
        values = request.get("ExpressionAttributeValues", {})
        for placeholder in _VALUE.findall(request.get("KeyConditionExpression", "")):
            value = values.get(placeholder)
            if value is not None and _raw(value)[0] in ("S", "B") and _raw(value)[1] == "":
                raise RuleViolation(
                    "One or more parameter values are not valid. The AttributeValue for a key attribute "
                    f"cannot contain an empty string value. Key: {placeholder}"
                )

    def _scan(self, request: Mapping[str, Any]) -> None:
        self._expressions(request)

    def _batch_get(self, request: Mapping[str, Any]) -> None:
        total = 0
        for table, spec in request.get("RequestItems", {}).items():
            keys = spec.get("Keys", [])
            total += len(keys)
            self._expressions(spec)
            seen = set()
            for key in keys:
                self._key(table, key)
                canonical = json.dumps(key, sort_keys=True)
                if canonical in seen:
                    raise RuleViolation("Provided list of item keys contains duplicates")
                seen.add(canonical)
        if total > MAX_BATCH_GET:
            raise RuleViolation(
                f"Too many items requested for the BatchGetItem call ({total} keys; at most {MAX_BATCH_GET})"
            )

    def _batch_write(self, request: Mapping[str, Any]) -> None:
        total = 0
        for table, writes in request.get("RequestItems", {}).items():
            total += len(writes)
            seen = set()
            for write in writes:
                if "PutRequest" in write:
                    item = write["PutRequest"]["Item"]
                    self._item(table, item)
                    key = self._key_of(table, item)
                else:
                    key = write["DeleteRequest"]["Key"]
                    self._key(table, key)
                if key is not None:
                    canonical = json.dumps(key, sort_keys=True)
                    if canonical in seen:
                        raise RuleViolation("Provided list of item keys contains duplicates")
                    seen.add(canonical)
        if total > MAX_BATCH_WRITE:
            raise RuleViolation(
                "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: "
                "Map value must satisfy constraint: "
                f"[Member must have length less than or equal to {MAX_BATCH_WRITE}] "
                f"({total} requests)"
            )

    def _transact_write(self, request: Mapping[str, Any]) -> None:
        actions = request.get("TransactItems", [])
        self._transaction_length(actions)
        seen = set()
        for action in actions:
            (kind, spec), *_ = action.items()
            table = spec["TableName"]
            self._expressions(spec)
            if kind == "Put":
                self._item(table, spec["Item"])
                key = self._key_of(table, spec["Item"])
            else:
                key = spec["Key"]
                self._key(table, key)
            if key is not None:
                target = (table, json.dumps(key, sort_keys=True))
                if target in seen:
                    raise RuleViolation("Transaction request cannot include multiple operations on one item")
                seen.add(target)

    def _transact_get(self, request: Mapping[str, Any]) -> None:
        actions = request.get("TransactItems", [])
        self._transaction_length(actions)
        seen = set()
        for action in actions:
            spec = action["Get"]
            self._expressions(spec)
            self._key(spec["TableName"], spec["Key"])
            target = (spec["TableName"], json.dumps(spec["Key"], sort_keys=True))
            if target in seen:
                raise RuleViolation("Transaction request cannot include multiple operations on one item")
            seen.add(target)

    # Shared checks ----------------------------------------------------------------------------------

    @staticmethod
    def _transaction_length(actions: list[Any]) -> None:
        if len(actions) > MAX_TRANSACTION_ACTIONS:
            raise RuleViolation(
                "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_TRANSACTION_ACTIONS} ({len(actions)})"
            )

    @staticmethod
    def _expressions(request: Mapping[str, Any]) -> None:
        text = " ".join(str(request.get(name, "")) for name in _EXPRESSIONS)
        for given_key, pattern, kind in (
            ("ExpressionAttributeNames", _NAME, "names"),
            ("ExpressionAttributeValues", _VALUE, "values"),
        ):
            given = request.get(given_key)
            used = set(pattern.findall(text))
            if given is not None and not given:
                raise RuleViolation(f"{given_key} must not be empty")
            unused = sorted(set(given or {}) - used)
            if unused:
                raise RuleViolation(
                    f"Value provided in {given_key} unused in expressions: keys: {{{', '.join(unused)}}}"
                )
            undefined = sorted(used - set(given or {}))
            if undefined:
                what = "name used in the document path" if kind == "names" else "value used in expression"
                raise RuleViolation(
                    f"Invalid expression: An expression attribute {what} is not defined; "
                    f"attribute {kind[:-1]}: {undefined[0]}"
                )
        values = request.get("ExpressionAttributeValues") or {}
        for name in ("KeyConditionExpression", "FilterExpression", "ConditionExpression"):
            for low_name, high_name in _BETWEEN.findall(str(request.get(name, ""))):
                low, high = values.get(low_name), values.get(high_name)
                if low is None or high is None:
                    continue
                (low_kind, low_value), (high_kind, high_value) = _comparable(low), _comparable(high)
                if low_kind != high_kind:
                    raise RuleViolation(
                        f"Invalid {name}: The BETWEEN operator requires same data type for lower and upper "
                        f"bounds; lower bound operand: AttributeValue: {low}, upper bound operand: "
                        f"AttributeValue: {high}"
                    )
                if low_value is not None and low_value > high_value:
                    raise RuleViolation(
                        f"Invalid {name}: The BETWEEN operator requires upper bound to be greater than or "
                        f"equal to lower bound; lower bound operand: AttributeValue: {low}, upper bound "
                        f"operand: AttributeValue: {high}"
                    )

    def _key_of(self, table: str, item: Mapping[str, Any]) -> dict[str, Any] | None:
        schema = self.schemas.get(table)
        if schema is None:
            return None
        return {name: item[name] for name in schema.table if name is not None and name in item}

    def _pairs(self, table: str) -> Iterator[tuple[str | None, tuple[str, str | None]]]:
        schema = self.schemas.get(table)
        if schema is not None:
            yield None, schema.table
            yield from schema.indexes.items()

    @staticmethod
    def _key_value(index: str | None, name: str, value: Mapping[str, Any], limit: int, part: str) -> None:
        kind, inner = _raw(value)
        if kind in ("S", "B") and inner == "":
            where = f"IndexName: {index}, IndexKey: {name}" if index else f"Key: {name}"
            prefix = "A value specified for a secondary index key is not supported. " if index else ""
            raise RuleViolation(
                f"One or more parameter values are not valid. {prefix}The AttributeValue for a key attribute "
                f"cannot contain an empty string value. {where}"
            )
        if value_size(value) > limit:
            raise RuleViolation(
                f"One or more parameter values were invalid: Size of {part} has exceeded the maximum size "
                f"limit of {limit} bytes"
                + (f" (index {index}, attribute {name})" if index else f" (attribute {name})")
            )

    def _key(self, table: str, key: Mapping[str, Any]) -> None:
        for index, (hash_key, range_key) in self._pairs(table):
            if index is not None:
                continue
            if hash_key in key:
                self._key_value(None, hash_key, key[hash_key], MAX_PARTITION_KEY_BYTES, "hashkey")
            if range_key is not None and range_key in key:
                self._key_value(None, range_key, key[range_key], MAX_SORT_KEY_BYTES, "range keys")

    def _item(self, table: str, item: Mapping[str, Any]) -> None:
        for index, (hash_key, range_key) in self._pairs(table):
            if hash_key in item:
                self._key_value(index, hash_key, item[hash_key], MAX_PARTITION_KEY_BYTES, "hashkey")
            if range_key is not None and range_key in item:
                self._key_value(index, range_key, item[range_key], MAX_SORT_KEY_BYTES, "range keys")
        size = item_size(item)
        if size > MAX_ITEM_BYTES:
            raise RuleViolation(f"Item size has exceeded the maximum allowed size ({size} bytes)")


RULES = Rules()


def _before_call(model: Any, params: Mapping[str, Any], **_: Any) -> None:
    body = params.get("body") or b"{}"
    request = json.loads(body.decode() if isinstance(body, bytes) else body)
    try:
        RULES.check(model.name, request)
    except RuleViolation as violation:
        from botocore.exceptions import ClientError

        response: Any = {
            "Error": {"Code": "ValidationException", "Message": str(violation)},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        raise ClientError(response, model.name) from None


def install() -> None:
    """Checks every DynamoDB request of every client created from now on in this process (idempotent)."""
    from botocore import handlers

    entry = ("before-call.dynamodb", _before_call)
    if entry not in handlers.BUILTIN_HANDLERS:
        handlers.BUILTIN_HANDLERS.append(entry)
