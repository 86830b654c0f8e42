"""The template's ScheduleV2 events, run locally on a short interval: the function is invoked with the
event EventBridge Scheduler sends. moto never fires schedules, so this thread does."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from local_stack.template import Context, resources

log = logging.getLogger("local_stack.schedule")

Invoke = Callable[[str, dict[str, Any]], Any]


def scheduled_functions() -> list[tuple[str, str]]:
    """(function logical id, event name) of every ScheduleV2 event in the template."""
    found = []
    for logical, function in resources("AWS::Serverless::Function").items():
        for name, event in function["Properties"].get("Events", {}).items():
            if event["Type"] in ("ScheduleV2", "Schedule"):
                found.append((logical, name))
    return found


def scheduler_event(
    logical_id: str, event_name: str, ctx: Context | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """What EventBridge Scheduler delivers to a Lambda target that has no Input of its own (its `detail`
    is the string "{}", unlike an EventBridge rule's object; as in events/budget-alerts-schedule.json)."""
    ctx = ctx or Context()
    now = now or datetime.now(UTC)
    name = f"{ctx.stack_name}-{logical_id}{event_name}"
    schedule = f"arn:aws:scheduler:{ctx.region}:{ctx.account}:schedule/default/{name}"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": ctx.account,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": ctx.region,
        "resources": [schedule],
        "detail": "{}",
    }


class Schedule:
    """Invokes one scheduled function every `interval` seconds until stopped; a failing or missing function
    is logged and tried again next time, as a schedule with no retries would."""

    def __init__(self, function: str, event_name: str, invoke: Invoke, interval: float) -> None:
        self.function = function
        self.event_name = event_name
        self.invoke = invoke
        self.interval = interval
        self.runs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"schedule-{self.function}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()

    def run_once(self) -> Any:
        """One scheduled invocation; returns the function's result, or None when it failed."""
        self.runs += 1
        try:
            result = self.invoke(self.function, scheduler_event(self.function, self.event_name))
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            # Say it once per distinct failure, not every interval.
            if message != self._last_error:
                log.warning(
                    "scheduled %s failed (it runs again in %gs): %s", self.function, self.interval, message
                )
            self._last_error = message
            return None
        if self._last_error is not None:
            log.info("scheduled %s works again", self.function)
        self._last_error = None
        log.debug("scheduled %s returned %r", self.function, result)
        return result
