"""Applying a batch of events-table stream records to the rollups, exactly once in effect.

Lambda delivers stream records at least once: a batch may come again whole, split by bisection, or
from the lowest failed record after a partial failure. Each event's rollup counters are applied in the
same transaction as a marker item that exists only if the event was applied, so a record seen again
changes nothing. Counters are aggregated per batch: one update per rollup item per transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from costmetrics.events import StoredEvent
from costmetrics.observability import logger
from costmetrics.pricing import PriceBook, PriceVersion
from costmetrics.repositories import events as events_repo
from costmetrics.repositories import prices as prices_repo
from costmetrics.repositories import rollups as rollups_repo
from costmetrics.rollups import Contribution, contributions, plan_chunks

MAX_TRANSACTION_ACTIONS = 100
# What a malformed stored item or its details raise (pydantic's ValidationError is a ValueError; Decimal's
# errors are ArithmeticErrors): that record is reported, the rest of the batch goes on.
MALFORMED = (KeyError, TypeError, ValueError, ArithmeticError)
MAX_CONFLICT_RETRIES = 5


@dataclass
class BatchOutcome:
    records: int = 0
    applied: int = 0
    already_applied: int = 0
    ignored: int = 0
    transactions: int = 0
    rollup_updates: int = 0
    failed: list[str] = field(default_factory=list)

    @property
    def batch_item_failures(self) -> dict[str, list[dict[str, str]]]:
        return {"batchItemFailures": [{"itemIdentifier": seq} for seq in self.failed]}


def _price_for(event: StoredEvent, book: PriceBook) -> PriceVersion | None:
    model = event.details.get("model") if event.event_type == "model_invocation" else None
    return book.price_at(model, event.created_at) if isinstance(model, str) else None


def process_records(
    records: Iterable[Mapping[str, Any]],
    *,
    load_prices: Callable[[str], PriceBook] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> BatchOutcome:
    """Applies the INSERT records of a batch; returns the sequence numbers to report as failures."""
    outcome = BatchOutcome()
    parsed: dict[tuple[str, str], tuple[str, StoredEvent]] = {}
    for record in records:
        outcome.records += 1
        sequence = str(record.get("dynamodb", {}).get("SequenceNumber", ""))
        if record.get("eventName") != "INSERT":
            # TTL expiry and any REMOVE or MODIFY change nothing: an event counts once, when first stored.
            outcome.ignored += 1
            continue
        try:
            event = events_repo.event_from_stream_image(record["dynamodb"]["NewImage"])
        except MALFORMED as error:
            logger.error("malformed stream record", sequence_number=sequence, error=str(error))
            outcome.failed.append(sequence)
            continue
        # The same event twice in one batch (a replay glued to the original) is applied once.
        parsed.setdefault((event.workspace_id, event.id), (sequence, event))

    books: dict[str, PriceBook] = {}
    get_book = load_prices or (lambda ws: PriceBook(prices_repo.price_versions(ws)))
    entries: list[Contribution] = []
    for sequence, event in parsed.values():
        try:
            book = books.get(event.workspace_id) or books.setdefault(
                event.workspace_id, get_book(event.workspace_id)
            )
            entries.append(Contribution(event, sequence, contributions(event, _price_for(event, book))))
        except (*MALFORMED, ClientError, BotoCoreError) as error:  # or the prices could not be read
            logger.error(
                "event cannot be rolled up", sequence_number=sequence, event_id=event.id, error=str(error)
            )
            outcome.failed.append(sequence)

    for chunk in plan_chunks(entries, MAX_TRANSACTION_ACTIONS):
        try:
            # time.sleep is looked up per call, so a test that patches it is honoured.
            _apply_exactly_once(chunk, outcome, sleep or time.sleep)
        except Exception as error:
            logger.exception("rollup chunk failed; its records are reported for retry", error=str(error))
            outcome.failed.extend(entry.sequence_number for entry in chunk)
    return outcome


def _apply_exactly_once(
    chunk: list[Contribution], outcome: BatchOutcome, sleep: Callable[[float], None]
) -> None:
    conflicts = 0
    while chunk:
        try:
            present, updates = rollups_repo.apply_chunk(chunk)
        except rollups_repo.RollupWriteConflict:
            conflicts += 1
            if conflicts > MAX_CONFLICT_RETRIES:
                raise
            sleep(0.05 * 2**conflicts)
            continue
        outcome.transactions += 1
        if not present:
            outcome.applied += len(chunk)
            outcome.rollup_updates += updates
            return
        # Some events were applied by an earlier delivery: apply only the others.
        outcome.already_applied += len(present)
        chunk = [entry for entry in chunk if entry.event_ref not in present]
