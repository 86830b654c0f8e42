"""The emulator's own guarantees (local_stack/moto_speedups.py), which every other test relies on: requests
are atomic under concurrency as in DynamoDB, and the direct path for counter updates gives exactly what
moto's own update path gives, errors included."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from local_stack import moto_speedups


@pytest.fixture
def client() -> Iterator[Any]:
    moto_speedups.install()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        for name in ("direct", "moto"):
            dynamodb.create_table(
                TableName=name,
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
            )
        yield dynamodb


def stream_records(client: Any, table: str) -> list[dict[str, Any]]:
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records: list[dict[str, Any]] = []
    next_iterator = iterator["ShardIterator"]
    while True:
        page = streams.get_records(ShardIterator=next_iterator, Limit=1000)
        if not page["Records"]:
            return records
        records += page["Records"]
        next_iterator = page["NextShardIterator"]


def test_concurrent_writes_get_distinct_sequence_numbers_and_a_conditional_put_wins_once(client: Any) -> None:
    # Given 16 threads that each try to create the same 50 items, as concurrent ingestion requests do
    def attempt(n: int) -> list[str]:
        outcomes = []
        for i in range(50):
            try:
                client.put_item(
                    TableName="direct",
                    Item={"pk": {"S": f"evt-{i}"}, "sk": {"S": "e"}, "by": {"N": str(n)}},
                    ConditionExpression="attribute_not_exists(pk)",
                )
                outcomes.append("created")
            except ClientError as error:
                outcomes.append(error.response["Error"]["Code"])
        return outcomes

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = [o for found in pool.map(attempt, range(16)) for o in found]
    # Then each item was created once, and the stream has one record each, every sequence number distinct
    assert outcomes.count("created") == 50
    assert outcomes.count("ConditionalCheckFailedException") == 15 * 50
    records = stream_records(client, "direct")
    assert len(records) == 50
    sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert len(set(sequences)) == 50
    assert sequences == sorted(sequences)
    assert {r["dynamodb"]["NewImage"]["pk"]["S"] for r in records} == {f"evt-{i}" for i in range(50)}


# --- The direct update path against moto's own -------------------------------------------------------

NAMES = ["events", "cost", "members", "label", "kind"]
numbers = st.one_of(st.integers(-(10**15), 10**15), st.decimals("-1e6", "1e6", places=4)).map(
    lambda n: {"N": str(Decimal(n).normalize()) if isinstance(n, Decimal) else str(n)}
)
strings = st.text("abcxyz", min_size=0, max_size=4).map(lambda s: {"S": s})
string_sets = st.lists(st.text("abc", min_size=1, max_size=3), min_size=0, max_size=3, unique=True).map(
    lambda v: {"SS": v}
)
value = st.one_of(numbers, strings, string_sets)
action = st.tuples(st.sampled_from(["ADD", "SET", "DEFAULT"]), st.sampled_from(NAMES), value)
update = st.tuples(st.sampled_from(["a", "b"]), st.lists(action, min_size=1, max_size=5))


def expressions(
    actions: list[tuple[str, str, dict[str, Any]]],
) -> tuple[str, str, dict[str, str], dict[str, Any]]:
    """The update as costmetrics writes it (the direct path) and, spelled differently, as moto parses it."""
    names, values, adds, sets, loose_adds, loose_sets = {}, {}, [], [], [], []
    for i, (kind, name, val) in enumerate(actions):
        names[f"#n{i}"], values[f":v{i}"] = name, val
        if kind == "ADD":
            adds.append(f"#n{i} :v{i}")
            loose_adds.append(f"#n{i}  :v{i}")
        elif kind == "SET":
            sets.append(f"#n{i} = :v{i}")
            loose_sets.append(f"#n{i}=:v{i}")
        else:
            sets.append(f"#n{i} = if_not_exists(#n{i}, :v{i})")
            loose_sets.append(f"#n{i} = if_not_exists( #n{i}, :v{i} )")

    def spell(add_parts: list[str], set_parts: list[str]) -> str:
        return " ".join(
            p
            for p in (
                "ADD " + ", ".join(add_parts) if add_parts else "",
                "SET " + ", ".join(set_parts) if set_parts else "",
            )
            if p
        )

    return spell(adds, sets), spell(loose_adds, loose_sets), names, values


def test_plain_update_recognises_only_what_costmetrics_writes() -> None:
    direct, loose, _, _ = expressions([("ADD", "events", {"N": "1"}), ("DEFAULT", "kind", {"S": "x"})])
    assert moto_speedups.plain_update(direct) == ([("#n0", ":v0")], [("#n1", ":v1", True)])
    assert moto_speedups.plain_update(loose) is None
    assert moto_speedups.plain_update("SET #a = :a") == ([], [("#a", ":a", False)])
    assert moto_speedups.plain_update("SET #a = if_not_exists(#b, :a)") is None
    assert moto_speedups.plain_update("REMOVE #a") is None
    assert moto_speedups.plain_update("ADD #a :a, #b.c :b") is None


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(update, min_size=1, max_size=6))
def test_the_direct_update_path_gives_what_motos_own_path_gives(client: Any, steps: list[Any]) -> None:
    for table in ("direct", "moto"):
        for key in ("a", "b"):
            client.delete_item(TableName=table, Key={"pk": {"S": key}, "sk": {"S": "k"}})
    for key, actions in steps:
        direct, loose, names, values = expressions(actions)
        assert moto_speedups.plain_update(direct) is not None
        outcomes = []
        for table, expression in (("direct", direct), ("moto", loose)):
            try:
                client.update_item(
                    TableName=table,
                    Key={"pk": {"S": key}, "sk": {"S": "k"}},
                    UpdateExpression=expression,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
                outcomes.append("ok")
            except ClientError as error:
                outcomes.append(error.response["Error"]["Code"])
        assert outcomes[0] == outcomes[1], (actions, outcomes)
        for k in ("a", "b"):
            items = [
                client.get_item(TableName=t, Key={"pk": {"S": k}, "sk": {"S": "k"}}).get("Item")
                for t in ("direct", "moto")
            ]
            if items[0] is not None and items[1] is not None:
                for item in items:  # a string set's order is not part of its value
                    for attribute in item.values():
                        if "SS" in attribute:
                            attribute["SS"] = sorted(attribute["SS"])
            assert items[0] == items[1], (actions, items)


def test_a_memoized_condition_sees_each_requests_own_names_and_values(client: Any) -> None:
    # Given an item, and one condition expression sent again and again with other values and names
    item = {"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "5"}, "m": {"N": "9"}}
    client.put_item(TableName="direct", Item=item)

    def put_if(field: str, value: str) -> bool:
        try:
            client.put_item(
                TableName="direct",
                Item=item,
                ConditionExpression="#f = :v",
                ExpressionAttributeNames={"#f": field},
                ExpressionAttributeValues={":v": {"N": value}},
            )
        except client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # Then each request is judged on its own names and values, whatever was parsed before
    assert [put_if("n", "5"), put_if("n", "6"), put_if("m", "5"), put_if("m", "9"), put_if("n", "5")] == [
        True, False, False, True, True,
    ]  # fmt: skip
    # And an expression that does not parse is refused every time it is sent
    for _ in range(2):
        with pytest.raises(ClientError, match="ValidationException"):
            client.put_item(TableName="direct", Item=item, ConditionExpression="pk = :nope")
