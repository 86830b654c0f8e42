"""The local stack's data survives a restart (local_stack/persistence.py): a snapshot of moto's backends
plus the journal of the requests applied since, replayed into a fresh emulator, give back every table item,
stream record, user, secret and topic as they were; a journal cut mid-line by a kill loses only that line;
data written for another template is refused, not misread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.base_backend import BackendDict

from local_stack import moto_speedups
from local_stack.persistence import IncompatibleState, Store, action_of, mutates
from local_stack.provision import provision


def test_the_action_of_a_request_and_whether_it_changes_anything() -> None:
    assert action_of({"X-Amz-Target": "DynamoDB_20120810.PutItem"}, "", b"{}") == "PutItem"
    assert action_of({}, "", b"Action=Publish&TopicArn=x") == "Publish"
    assert action_of({}, "Action=SendMessage", b"") == "SendMessage"
    assert action_of({}, "", b"") is None
    assert [
        a
        for a in ("PutItem", "TransactWriteItems", "AdminCreateUser", "Publish", "InitiateAuth")
        if mutates(a)
    ]
    assert not [
        a for a in ("GetItem", "Query", "Scan", "BatchGetItem", "DescribeTable", "ListUsers") if mutates(a)
    ]
    assert not mutates(None)


@pytest.fixture
def emulator() -> Iterator[None]:
    moto_speedups.install()
    with mock_aws():
        yield
    moto_speedups.set_journal(None)


def restart() -> None:
    """What a new process starts with: moto's backends empty."""
    BackendDict.reset()


def state(outputs: dict[str, str]) -> dict[str, Any]:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = outputs["EventsStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return {
        "items": sorted(
            str(item)
            for name in ("EventsTableName", "RollupsTableName")
            for item in dynamodb.scan(TableName=outputs[name])["Items"]
        ),
        "stream": [(r["dynamodb"]["SequenceNumber"], r["dynamodb"]["Keys"]) for r in records],
        "users": sorted(u["Username"] for u in cognito.list_users(UserPoolId=outputs["UserPoolId"])["Users"]),
        "secret": boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(
            SecretId=outputs["CursorSecretArn"]
        )["SecretString"],
        "topics": boto3.client("sns", region_name="us-east-1").list_topics()["Topics"],
    }


def write(outputs: dict[str, str], first: int, count: int) -> None:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    for n in range(first, first + count):
        dynamodb.put_item(
            TableName=outputs["EventsTableName"],
            Item={"pk": {"S": f"ws#{n}"}, "gsDay": {"S": "ws#2026-03-17"}, "gsSort": {"S": f"{n:05d}"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
        dynamodb.update_item(
            TableName=outputs["RollupsTableName"],
            Key={"pk": {"S": "ws"}, "sk": {"S": "W#2026-03"}},
            UpdateExpression="ADD #e :one",
            ExpressionAttributeNames={"#e": "events"},
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    cognito.admin_create_user(UserPoolId=outputs["UserPoolId"], Username=f"user-{first}@example.com")


def test_a_snapshot_and_its_journal_give_back_everything(emulator: None, tmp_path: Path) -> None:
    # Given a stack whose every change is journaled, with a snapshot in the middle of its life
    store = Store(tmp_path, "template-1")
    store.open_journal()
    moto_speedups.set_journal(store.record)
    outputs = provision(boto3.Session(region_name="us-east-1")).outputs
    write(outputs, 0, 30)
    with moto_speedups.request_lock():
        store.snapshot()
    write(outputs, 30, 20)
    before = state(outputs)
    assert store.entries == 2 * 20 + 1
    store.close()
    # When a new process loads it
    restart()
    moto_speedups.set_journal(None)
    loaded = Store(tmp_path, "template-1")
    assert loaded.load() == 41
    # Then every item, stream record (same sequence numbers), user, secret and topic is back
    assert state(outputs) == before
    rollup = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=outputs["RollupsTableName"], Key={"pk": {"S": "ws"}, "sk": {"S": "W#2026-03"}}
    )["Item"]
    assert rollup["events"] == {"N": "50"}


def test_a_journal_cut_by_a_kill_loses_only_its_last_line(emulator: None, tmp_path: Path) -> None:
    store = Store(tmp_path, "template-1")
    store.open_journal()
    moto_speedups.set_journal(store.record)
    outputs = provision(boto3.Session(region_name="us-east-1")).outputs
    with moto_speedups.request_lock():
        store.snapshot()
    write(outputs, 0, 5)
    store.close()
    journal = store.journal_path(store.generation)
    journal.write_bytes(
        journal.read_bytes() + b'{"m":"POST","u":"https://dynamodb.us-ea'
    )  # the kill's half line
    restart()
    moto_speedups.set_journal(None)
    assert Store(tmp_path, "template-1").load() == 11
    assert len(state(outputs)["stream"]) == 5


def test_data_of_another_template_is_refused(emulator: None, tmp_path: Path) -> None:
    store = Store(tmp_path, "template-1")
    provision(boto3.Session(region_name="us-east-1"))
    with moto_speedups.request_lock():
        store.snapshot()
    restart()
    with pytest.raises(IncompatibleState, match="template"):
        Store(tmp_path, "template-2").load()
