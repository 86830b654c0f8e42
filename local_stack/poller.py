"""Lambda's DynamoDB event source mapping, emulated: a thread polls the stream and invokes the function
with genuine DynamoDB-stream events, honouring the template's BatchSize, MaximumBatchingWindowInSeconds,
ReportBatchItemFailures, BisectBatchOnFunctionError, MaximumRetryAttempts, MaximumRecordAgeInSeconds
and the on-failure destination.

Failure semantics, as Lambda documents them: a batch that reports item failures is retried from the
lowest failed sequence number (that record and every later one of the batch); a function error (an
exception, or a response naming records that are not in the batch) splits the batch in two when bisection
is on, which does not count as a retry, and otherwise retries it whole. When the retries are exhausted,
or records are older than the maximum age, metadata about the discarded records goes to the on-failure
destination and the shard moves on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local_stack.runtime import function_arn
from local_stack.streams import StreamReader
from local_stack.template import event_source

log = logging.getLogger("local_stack.poller")

Invoke = Callable[[str, dict[str, Any]], Any]
Destination = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class MappingConfig:
    """The event source mapping's settings, read from the function's DynamoDB event in template.yaml."""

    batch_size: int = 100
    batching_window: float = 0.0
    report_item_failures: bool = False
    bisect: bool = False
    max_retries: int = -1  # -1: until the record expires, as in Lambda
    max_record_age: int = -1
    on_failure: tuple[str, Any] | None = None  # ("SQS" | "SNS", the template's Destination)

    @classmethod
    def from_template(cls, logical_id: str) -> MappingConfig:
        props = event_source(logical_id, "DynamoDB")
        on_failure = props.get("DestinationConfig", {}).get("OnFailure")
        return cls(
            batch_size=int(props.get("BatchSize", 100)),
            batching_window=float(props.get("MaximumBatchingWindowInSeconds", 0)),
            report_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            bisect=bool(props.get("BisectBatchOnFunctionError", False)),
            max_retries=int(props.get("MaximumRetryAttempts", -1)),
            max_record_age=int(props.get("MaximumRecordAgeInSeconds", -1)),
            on_failure=(on_failure.get("Type", "SQS"), on_failure["Destination"]) if on_failure else None,
        )


@dataclass
class _Outcome:
    ok: bool
    function_error: bool = False
    first_failed: int | None = None  # index in the batch of the lowest failed sequence number


def _iso(epoch: Any) -> str | None:
    if not isinstance(epoch, int | float):
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sequence(record: Mapping[str, Any]) -> str:
    return str(record.get("dynamodb", {}).get("SequenceNumber", ""))


class StreamPoller:
    """Polls one stream for one function until stopped; `wait_until_drained` tells when it has caught up."""

    def __init__(
        self,
        reader: StreamReader,
        function: str,
        invoke: Invoke,
        config: MappingConfig,
        destination: Destination | None = None,
        *,
        interval: float = 0.3,
        retry_delay: float = 0.2,
        clock: Callable[[], float] = time.time,
        on_progress: Callable[[str, str], None] | None = None,
    ) -> None:
        self.reader = reader
        self.function = function
        self.invoke = invoke
        self.config = config
        self.destination = destination
        self.interval = interval
        self.retry_delay = retry_delay
        self.clock = clock
        # Told (shard id, sequence number) each time records up to that one are done with: the checkpoint.
        self.on_progress = on_progress
        self.discarded_batches = 0
        self._buffers: dict[str, list[dict[str, Any]]] = {}
        self._first_seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = threading.Condition()
        self._cycle = 0
        self._idle_cycle = -1

    # --- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"stream-poller-{self.function}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=timeout)

    def wait_until_drained(self, timeout: float = 60.0) -> bool:
        """True once a poll that began after this call found nothing new and nothing left to deliver."""
        deadline = time.monotonic() + timeout
        with self._state:
            target = self._cycle + 1
            while self._idle_cycle < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    return False
                self._state.wait(min(remaining, 0.5))
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                # The emulator itself hiccupped (moto, a network blip): the records stay buffered or unread.
                log.exception("stream poll failed; polling again")
            self._stop.wait(self.interval)

    # --- one poll --------------------------------------------------------------------------------------

    def poll_once(self) -> None:
        """Reads what is new on the stream and delivers every batch that is due."""
        with self._state:
            self._cycle += 1
            cycle = self._cycle
        fresh = self.reader.read_shards(limit=10 * self.config.batch_size)
        now = time.monotonic()
        for shard_id, records in fresh.items():
            buffer = self._buffers.setdefault(shard_id, [])
            if not buffer:
                self._first_seen[shard_id] = now
            buffer.extend(records)
        for shard_id, buffer in self._buffers.items():
            while buffer and not self._stop.is_set() and self._due(shard_id, buffer):
                self._deliver_next_batch(shard_id, buffer)
        with self._state:
            if not fresh and not any(self._buffers.values()):
                self._idle_cycle = cycle
            self._state.notify_all()

    def _due(self, shard_id: str, buffer: list[dict[str, Any]]) -> bool:
        if len(buffer) >= self.config.batch_size:
            return True
        return time.monotonic() - self._first_seen.get(shard_id, 0.0) >= self.config.batching_window

    def _deliver_next_batch(self, shard_id: str, buffer: list[dict[str, Any]]) -> None:
        """Delivers the batch at the head of the shard's buffer until it is through or discarded; the batch
        is always a prefix of the buffer, so moving the checkpoint is deleting from the front."""
        batch = buffer[: self.config.batch_size]
        retries = 0
        invocations = 0
        while batch and not self._stop.is_set():
            expired = self._expired_prefix(batch)
            if expired:
                self._discard(
                    shard_id, batch[:expired], "RecordAgeExceeded", invocations, function_error=False
                )
                self._done(shard_id, buffer, expired)
                batch = batch[expired:]
                continue
            outcome = self._invoke(batch)
            invocations += 1
            if outcome.ok:
                self._done(shard_id, buffer, len(batch))
                return
            if outcome.first_failed is not None:
                self._done(shard_id, buffer, outcome.first_failed)
                batch = batch[outcome.first_failed :]
                retries += 1
            elif self.config.bisect and len(batch) > 1:
                batch = batch[: len(batch) // 2]
                continue
            else:
                retries += 1
            if 0 <= self.config.max_retries < retries:
                self._discard(shard_id, batch, "RetryAttemptsExhausted", invocations, outcome.function_error)
                self._done(shard_id, buffer, len(batch))
                return
            self._stop.wait(min(self.retry_delay * retries, 2.0))

    def _done(self, shard_id: str, buffer: list[dict[str, Any]], count: int) -> None:
        """The first `count` records of the shard's buffer are done with (delivered or discarded)."""
        if count <= 0:
            return
        last = _sequence(buffer[count - 1])
        del buffer[:count]
        if self.on_progress is not None:
            self.on_progress(shard_id, last)

    def _expired_prefix(self, batch: list[dict[str, Any]]) -> int:
        if self.config.max_record_age < 0:
            return 0
        oldest_allowed = self.clock() - self.config.max_record_age
        count = 0
        for record in batch:
            created = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
            if not isinstance(created, int | float) or created >= oldest_allowed:
                break
            count += 1
        return count

    def _invoke(self, batch: list[dict[str, Any]]) -> _Outcome:
        try:
            result = self.invoke(self.function, {"Records": batch})
        except Exception as error:
            log.warning(
                "%s raised on a batch of %d records: %s: %s (see its log file)",
                self.function,
                len(batch),
                type(error).__name__,
                error,
            )
            return _Outcome(ok=False, function_error=True)
        if not self.config.report_item_failures:
            return _Outcome(ok=True)
        failures = result.get("batchItemFailures") if isinstance(result, dict) else None
        if not failures:
            return _Outcome(ok=True)
        positions = {_sequence(record): index for index, record in enumerate(batch)}
        indexes = []
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not identifier or str(identifier) not in positions:
                log.warning(
                    "%s reported an item failure that names no record of the batch: %r",
                    self.function,
                    failure,
                )
                return _Outcome(ok=False, function_error=True)
            indexes.append(positions[str(identifier)])
        log.info(
            "%s reported %d failed record(s) in a batch of %d; retrying from sequence number %s",
            self.function,
            len(indexes),
            len(batch),
            _sequence(batch[min(indexes)]),
        )
        return _Outcome(ok=False, first_failed=min(indexes))

    def _discard(
        self,
        shard_id: str,
        records: list[dict[str, Any]],
        condition: str,
        invocations: int,
        function_error: bool,
    ) -> None:
        self.discarded_batches += 1
        message = self.failure_record(shard_id, records, condition, invocations, function_error)
        info = message["DDBStreamBatchInfo"]
        log.warning(
            "%s: discarding %d record(s), sequence numbers %s..%s (%s)%s",
            self.function,
            len(records),
            info["startSequenceNumber"],
            info["endSequenceNumber"],
            condition,
            "; metadata sent to the on-failure destination" if self.destination else "",
        )
        if self.destination:
            try:
                self.destination(message)
            except Exception:
                log.exception("the on-failure destination refused the record")

    def failure_record(
        self,
        shard_id: str,
        records: list[dict[str, Any]],
        condition: str,
        invocations: int,
        function_error: bool,
    ) -> dict[str, Any]:
        """The record Lambda sends an on-failure destination for a DynamoDB stream batch (metadata only)."""
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if function_error:
            response["functionError"] = "Unhandled"
        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": function_arn(self.function),
                "condition": condition,
                "approximateInvokeCount": invocations,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": str(first.get("SequenceNumber")),
                "endSequenceNumber": str(last.get("SequenceNumber")),
                "approximateArrivalOfFirstRecord": _iso(first.get("ApproximateCreationDateTime")),
                "approximateArrivalOfLastRecord": _iso(last.get("ApproximateCreationDateTime")),
                "batchSize": len(records),
                "streamArn": self.reader.stream_arn,
            },
        }


def destination_sender(config: MappingConfig, outputs: Mapping[str, str], session: Any) -> Destination | None:
    """Sends on-failure records to the template's destination (an SQS queue or SNS topic of the stack)."""
    if config.on_failure is None:
        return None
    kind, target = config.on_failure
    logical = target.get("Fn::GetAtt", [None])[0] if isinstance(target, dict) else None
    if kind == "SQS":
        queue_url = outputs[f"{logical}Url"]
        sqs = session.client("sqs")
        return lambda message: sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))
    if kind == "SNS":
        topic_arn = outputs[f"{logical}Arn"] if logical else str(target)
        sns = session.client("sns")
        return lambda message: sns.publish(TopicArn=topic_arn, Message=json.dumps(message))
    raise ValueError(f"unsupported on-failure destination type {kind!r}")
