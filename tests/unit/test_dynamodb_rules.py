"""The test harness's DynamoDB rules (local_stack/dynamodb_rules.py): each rejects what DynamoDB rejects, with
DynamoDB's ValidationException, and lets through what DynamoDB accepts. The requests are those a boto3
client sends (DynamoDB JSON); a real client's call is checked at the end, before it reaches any network."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local_stack.dynamodb_rules import Rules, RuleViolation, install, item_size

TABLE = {
    "TableName": "events",
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": "byDay",
            "KeySchema": [
                {"AttributeName": "gsDay", "KeyType": "HASH"},
                {"AttributeName": "gsSort", "KeyType": "RANGE"},
            ],
        }
    ],
}
ROLLUPS = {
    "TableName": "rollups",
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
}


@pytest.fixture
def rules() -> Rules:
    found = Rules()
    found.check("CreateTable", TABLE)
    found.check("CreateTable", ROLLUPS)
    return found


def rejected(rules: Rules, operation: str, request: dict[str, Any]) -> str:
    with pytest.raises(RuleViolation) as caught:
        rules.check(operation, request)
    return str(caught.value)


def s(value: str) -> dict[str, str]:
    return {"S": value}


def query(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    return {
        "TableName": "events",
        "IndexName": "byDay",
        "KeyConditionExpression": "gsDay = :p AND gsSort BETWEEN :low AND :high",
        "ExpressionAttributeValues": {":p": s("ws#2026-03-17"), ":low": low, ":high": high},
    }


def test_between_with_the_lower_bound_after_the_upper_is_rejected(rules: Rules) -> None:
    rules.check("Query", query(s("2026-03-17T08"), s("2026-03-17T09")))
    rules.check("Query", query(s("a"), s("a")))  # equal bounds are fine
    message = rejected(rules, "Query", query(s("2026-03-17T10"), s("2026-03-17T09")))
    assert "BETWEEN operator requires upper bound to be greater than or equal to lower bound" in message
    # Strings compare by their UTF-8 bytes, numbers by value, not as text.
    rejected(rules, "Query", query(s("\U0001f600"), s("\uffff")))
    rules.check("Query", query({"N": "9"}, {"N": "10"}))
    assert "same data type" in rejected(rules, "Query", query({"N": "1"}, s("2")))
    filtered = {
        "TableName": "rollups",
        "KeyConditionExpression": "pk = :p",
        "FilterExpression": "#n BETWEEN :low AND :high",
        "ExpressionAttributeNames": {"#n": "events"},
        "ExpressionAttributeValues": {":p": s("ws"), ":low": {"N": "5"}, ":high": {"N": "4"}},
    }
    assert "Invalid FilterExpression" in rejected(rules, "Query", filtered)


def test_a_transaction_touching_one_item_twice_is_rejected(rules: Rules) -> None:
    update = {
        "TableName": "rollups",
        "Key": {"pk": s("ws"), "sk": s("W#2026-03")},
        "UpdateExpression": "ADD #a :a",
    }
    update |= {"ExpressionAttributeNames": {"#a": "events"}, "ExpressionAttributeValues": {":a": {"N": "1"}}}
    other = {**update, "Key": {"pk": s("ws"), "sk": s("W#2026-04")}}
    rules.check("TransactWriteItems", {"TransactItems": [{"Update": update}, {"Update": other}]})
    twice = {"TransactItems": [{"Update": update}, {"Update": update}]}
    assert rejected(rules, "TransactWriteItems", twice) == (
        "Transaction request cannot include multiple operations on one item"
    )
    # A Put's key is read from its item with the table's key schema.
    put = {"TableName": "rollups", "Item": {"pk": s("ws"), "sk": s("W#2026-03"), "x": s("y")}}
    rejected(rules, "TransactWriteItems", {"TransactItems": [{"Put": put}, {"Update": update}]})


def test_more_than_100_transaction_actions_are_rejected(rules: Rules) -> None:
    def puts(count: int) -> dict[str, Any]:
        return {
            "TransactItems": [
                {"Put": {"TableName": "rollups", "Item": {"pk": s("ws"), "sk": s(f"{n}")}}}
                for n in range(count)
            ]
        }

    rules.check("TransactWriteItems", puts(100))
    assert "less than or equal to 100" in rejected(rules, "TransactWriteItems", puts(101))


def test_batch_sizes_over_dynamodbs_limits_are_rejected(rules: Rules) -> None:
    def writes(count: int) -> dict[str, Any]:
        return {
            "RequestItems": {
                "rollups": [{"PutRequest": {"Item": {"pk": s("ws"), "sk": s(f"{n}")}}} for n in range(count)]
            }
        }

    def gets(count: int) -> dict[str, Any]:
        return {"RequestItems": {"events": {"Keys": [{"pk": s(f"ws#{n}")} for n in range(count)]}}}

    rules.check("BatchWriteItem", writes(25))
    assert "less than or equal to 25" in rejected(rules, "BatchWriteItem", writes(26))
    rules.check("BatchGetItem", gets(100))
    assert "Too many items requested for the BatchGetItem call" in rejected(rules, "BatchGetItem", gets(101))
    duplicate = {"RequestItems": {"events": {"Keys": [{"pk": s("ws#1")}, {"pk": s("ws#1")}]}}}
    assert rejected(rules, "BatchGetItem", duplicate) == "Provided list of item keys contains duplicates"


def test_expression_names_and_values_must_be_exactly_those_used(rules: Rules) -> None:
    base = {
        "TableName": "rollups",
        "KeyConditionExpression": "pk = :ws AND begins_with(sk, :prefix)",
        "ProjectionExpression": "sk, #count",
        "ExpressionAttributeNames": {"#count": "events"},
        "ExpressionAttributeValues": {":ws": s("ws"), ":prefix": s("DT#")},
    }
    rules.check("Query", base)
    unused_value = {**base, "ExpressionAttributeValues": {**base["ExpressionAttributeValues"], ":x": s("x")}}
    assert rejected(rules, "Query", unused_value) == (
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}"
    )
    unused_name = {**base, "ExpressionAttributeNames": {"#count": "events", "#other": "x"}}
    assert rejected(rules, "Query", unused_name) == (
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#other}"
    )
    missing = {**base, "ExpressionAttributeNames": {}}
    assert "must not be empty" in rejected(rules, "Query", missing)
    undefined = {k: v for k, v in base.items() if k != "ExpressionAttributeNames"}
    assert "is not defined; attribute name: #count" in rejected(rules, "Query", undefined)


def test_an_empty_string_in_a_key_attribute_is_rejected(rules: Rules) -> None:
    assert "cannot contain an empty string value. Key: pk" in rejected(
        rules, "GetItem", {"TableName": "events", "Key": {"pk": s("")}}
    )
    # A secondary index's key attribute too, when an item is written.
    item = {"pk": s("ws#1"), "gsDay": s(""), "gsSort": s("x")}
    assert "IndexName: byDay, IndexKey: gsDay" in rejected(
        rules, "PutItem", {"TableName": "events", "Item": item}
    )
    empty_partition = {**query(s("a"), s("b"))}
    empty_partition["ExpressionAttributeValues"] = {
        **empty_partition["ExpressionAttributeValues"],
        ":p": s(""),
    }
    assert "empty string" in rejected(rules, "Query", empty_partition)


def test_keys_over_dynamodbs_sizes_are_rejected(rules: Rules) -> None:
    rules.check("GetItem", {"TableName": "events", "Key": {"pk": s("x" * 2048)}})
    assert "maximum size limit of 2048 bytes" in rejected(
        rules, "GetItem", {"TableName": "events", "Key": {"pk": s("x" * 2049)}}
    )
    # Sizes are UTF-8 bytes: 683 three-byte characters are 2,049 bytes.
    rejected(rules, "GetItem", {"TableName": "events", "Key": {"pk": s("€" * 683)}})
    rules.check("GetItem", {"TableName": "rollups", "Key": {"pk": s("ws"), "sk": s("y" * 1024)}})
    long_sort = {"TableName": "rollups", "Key": {"pk": s("ws"), "sk": s("y" * 1025)}}
    assert "maximum size limit of 1024 bytes" in rejected(rules, "GetItem", long_sort)
    index_sort = {"pk": s("ws#1"), "gsDay": s("d"), "gsSort": s("z" * 1025)}
    rejected(rules, "PutItem", {"TableName": "events", "Item": index_sort})


def test_an_item_over_400_kb_is_rejected(rules: Rules) -> None:
    # 400 KB is 409,600 bytes: attribute names count too.
    fits = {"pk": s("ws#1"), "details": s("x" * (409_600 - len("pk") - 4 - len("details")))}
    assert item_size(fits) == 409_600
    rules.check("PutItem", {"TableName": "events", "Item": fits})
    over = {**fits, "details": s(fits["details"]["S"] + "x")}
    assert "Item size has exceeded the maximum allowed size" in rejected(
        rules, "PutItem", {"TableName": "events", "Item": over}
    )
    batch = {"RequestItems": {"events": [{"PutRequest": {"Item": over}}]}}
    rejected(rules, "BatchWriteItem", batch)


def test_item_sizes_follow_dynamodbs_rules() -> None:
    assert item_size({"a": s("héllo")}) == 1 + 6
    assert item_size({"n": {"N": "12345"}}) == 1 + 4  # 5 significant digits: 3 bytes, plus 1
    assert item_size({"b": {"BOOL": True}, "z": {"NULL": True}}) == 2 + 2
    assert item_size({"l": {"L": [s("ab"), {"N": "1"}]}}) == 1 + 3 + (1 + 2) + (1 + 2)
    assert item_size({"m": {"M": {"k": s("v")}}}) == 1 + 3 + 1 + 1 + 1


def test_a_real_clients_request_is_refused_before_it_is_sent() -> None:
    install()
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    # No server listens on port 9: only the hook can answer, with DynamoDB's error.
    with pytest.raises(ClientError) as caught:
        client.query(**query(s("b"), s("a")))
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "BETWEEN" in caught.value.response["Error"]["Message"]
    assert json.dumps(caught.value.response["Error"])  # a plain, serializable error like the service's
