"""The stream poller behaves as Lambda's event source mapping: a record the rollup function cannot apply is
retried, then reported to the dead-letter queue, and the shard moves on to later records."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import yaml

from tests.e2e.support import ROOT, RunningStack, event_cost, fresh_workspace, money, shown, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]


class _CfnLoader(yaml.SafeLoader):
    pass


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _max_retries() -> int:
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)
    retries: int = template["Resources"]["RollupFunction"]["Properties"]["Events"]["EventsStream"][
        "Properties"
    ]["MaximumRetryAttempts"]
    return retries


def _sequence_number_of(stack: RunningStack, pk: str) -> str:
    streams = stack.client("dynamodbstreams")
    arn = stack.outputs["EventsStreamArn"]
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            for record in page["Records"]:
                if record["dynamodb"].get("Keys", {}).get("pk", {}).get("S") == pk:
                    return str(record["dynamodb"]["SequenceNumber"])
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    raise AssertionError(f"no stream record for {pk}")


def _dead_letters(stack: RunningStack, timeout: float) -> list[dict[str, Any]]:
    sqs = stack.client("sqs")
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = sqs.receive_message(
            QueueUrl=stack.outputs["RollupDeadLetterQueueUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        found += [json.loads(message["Body"]) for message in reply.get("Messages", [])]
        if found:
            return found
    return found


def test_a_malformed_item_goes_to_the_dlq_and_later_events_are_still_rolled_up(stack: RunningStack) -> None:
    # Given a workspace with an admin, and two items written straight into the events table:
    # a malformed one (no agentId, unknown eventType), then a valid one in the documented item format
    workspace = fresh_workspace()
    token = stack.new_user(workspace, "admin")
    dynamodb = stack.client("dynamodb")
    table = stack.outputs["EventsTableName"]
    now = datetime.now(UTC).replace(microsecond=0)
    at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    bad_pk = f"{workspace}#bogus-1"
    dynamodb.put_item(
        TableName=table,
        Item={
            "pk": {"S": bad_pk},
            "workspaceId": {"S": workspace},
            "id": {"S": "bogus-1"},
            "eventType": {"S": "bogus"},
            "createdAt": {"S": at},
            "details": {"S": "{}"},
        },
    )
    details = {"model": "gpt-5.4", "inputTokens": 100_000, "outputTokens": 10_000}
    dynamodb.put_item(
        TableName=table,
        Item={
            "pk": {"S": f"{workspace}#direct-1"},
            "workspaceId": {"S": workspace},
            "id": {"S": "direct-1"},
            "agentId": {"S": "probe"},
            "eventType": {"S": "model_invocation"},
            "createdAt": {"S": at},
            "details": {"S": json.dumps(details)},
            "ingestedAt": {"S": at},
            "expiresAt": {"N": str(int((now + timedelta(days=400)).timestamp()))},
        },
    )

    # Then the valid event is rolled up: the shard is not blocked by the bad record
    expected = money(event_cost(details))
    assert expected == Decimal("0.40")
    spent = wait_for(
        lambda: shown(stack.get("/api/cost-analysis/summary", token).body["totalSpend"]) == expected,
        timeout=20,
    )
    assert spent, "the valid event written after the malformed one was not rolled up"

    # And after the retries, Lambda's on-failure record for the bad record arrives in the DLQ
    bad_sequence = _sequence_number_of(stack, bad_pk)
    letters = [
        m
        for m in _dead_letters(stack, timeout=20)
        if m["DDBStreamBatchInfo"]["startSequenceNumber"] == bad_sequence
    ]
    assert letters, "no on-failure record for the malformed item in the DLQ"
    letter = letters[0]
    assert letter["version"] == "1.0"
    assert letter["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert letter["requestContext"]["functionArn"].endswith(":function:RollupFunction")
    assert letter["requestContext"]["approximateInvokeCount"] == 1 + _max_retries()
    info = letter["DDBStreamBatchInfo"]
    assert info["streamArn"] == stack.outputs["EventsStreamArn"]
    assert info["batchSize"] >= 1
    assert int(info["endSequenceNumber"]) >= int(bad_sequence)
    assert info["shardId"]
    assert info["approximateArrivalOfFirstRecord"]
    assert "Records" not in letter  # metadata only, as Lambda sends
