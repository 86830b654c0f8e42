"""Reading a DynamoDB stream and shaping its records as Lambda's event source mapping delivers them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as it appears in a Lambda DynamoDB event (epoch seconds, eventSourceARN)."""
    shaped = {**record, "dynamodb": dict(record["dynamodb"]), "eventSourceARN": stream_arn}
    created = shaped["dynamodb"].get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        shaped["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
    return shaped


class StreamReader:
    """Follows every shard of one stream from TRIM_HORIZON, or from after the sequence number given for the
    shard in `start_after` (where a previous run left off); `read()` returns the records not yet read."""

    def __init__(
        self, streams_client: Any, stream_arn: str, start_after: Mapping[str, str] | None = None
    ) -> None:
        self._client = streams_client
        self.stream_arn = stream_arn
        self._start_after = dict(start_after or {})
        self._iterators: dict[str, str | None] = {}

    def _refresh_shards(self) -> None:
        shards = self._client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id in self._iterators:
                continue
            position: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
            if shard_id in self._start_after:
                position = {
                    "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                    "SequenceNumber": self._start_after[shard_id],
                }
            self._iterators[shard_id] = self._client.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, **position
            )["ShardIterator"]

    def read(self, limit: int = 1000) -> list[dict[str, Any]]:
        """The records not yet read, of every shard, up to `limit` in all."""
        return [record for records in self.read_shards(limit).values() for record in records]

    def read_shards(self, limit: int = 1000) -> dict[str, list[dict[str, Any]]]:
        """The records not yet read, by shard id (in stream order within a shard), up to `limit` in all."""
        self._refresh_shards()
        found: dict[str, list[dict[str, Any]]] = {}
        total = 0
        for shard_id, iterator in list(self._iterators.items()):
            records = found.setdefault(shard_id, [])
            while iterator and total < limit:
                page = self._client.get_records(ShardIterator=iterator, Limit=min(1000, limit - total))
                iterator = page.get("NextShardIterator")
                records.extend(lambda_record(r, self.stream_arn) for r in page["Records"])
                total += len(page["Records"])
                if not page["Records"]:
                    break
            self._iterators[shard_id] = iterator
        return {shard_id: records for shard_id, records in found.items() if records}
