"""Scheduled budget alerts: for every agent with a budget, one notice per (workspace, agent, month, kind),
published to SNS and only then recorded with a conditional write, so a failed publish is retried on the
next run and a recorded notice is never sent again (one published but not recorded is sent once more: at
least once, never lost)."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from costmetrics import periods
from costmetrics.budgets import DEFAULT_THRESHOLDS, BudgetStatus, assess, due_kinds
from costmetrics.numbers import ZERO, JsonInteger, rounded
from costmetrics.observability import logger
from costmetrics.repositories import agents as agents_repo
from costmetrics.repositories import rollups as rollups_repo

if TYPE_CHECKING:  # the API's input rules: not loaded by the scheduled run
    from costmetrics.writes import Patch

PARALLEL_WORKSPACES = 8
PATCH_ATTEMPTS = 5


class AlertSettings(BaseModel):
    """A workspace's alert preferences: percent-of-budget thresholds and the month-end forecast alert.
    A workspace that never set them has the defaults; a PUT gives every field, a PATCH some."""

    model_config = ConfigDict(extra="forbid")
    NOUN: ClassVar[str] = "alert settings"

    thresholds: list[JsonInteger] = Field(
        default_factory=lambda: list(DEFAULT_THRESHOLDS),
        min_length=1,
        max_length=5,
        description="1 to 5 percents of the budget, each from 1 to 1000; kept sorted, without repeats",
        json_schema_extra={"items": {"type": "integer", "minimum": 1, "maximum": 1000}},
    )
    forecast: StrictBool = Field(
        default=True, description="Whether to alert when the month-end run rate exceeds the budget"
    )

    @field_validator("thresholds")
    @classmethod
    def _valid_thresholds(cls, values: list[int]) -> list[int]:
        if any(not 1 <= v <= 1000 for v in values):
            raise ValueError("each threshold is a percent of the budget from 1 to 1000")
        return sorted(set(values))


def settings_for(workspace_id: str) -> AlertSettings:
    return AlertSettings.model_validate(agents_repo.alert_settings(workspace_id))


def set_settings(workspace_id: str, chosen: AlertSettings) -> AlertSettings:
    """Replaces a workspace's alert settings, given whole."""
    agents_repo.put_alert_settings(workspace_id, chosen.model_dump())
    return chosen


def amend_settings(workspace_id: str, patch: Patch[AlertSettings]) -> AlertSettings:
    """Changes the settings a merge patch gives, and only those; a change made meanwhile by someone else
    is never overwritten (the patch is applied again to it)."""
    from costmetrics.errors import Conflict

    for _ in range(PATCH_ATTEMPTS):
        stored, revision = agents_repo.alert_settings_revision(workspace_id)
        chosen = patch.applied_to(AlertSettings.model_validate(stored).model_dump())
        try:
            agents_repo.put_alert_settings(workspace_id, chosen.model_dump(), replacing=revision)
        except agents_repo.ConcurrentChange:
            continue
        return chosen
    raise Conflict("the alert settings kept changing while this patch was applied: send it again")


@dataclass(frozen=True)
class BudgetedAgent:
    workspace_id: str
    agent_id: str
    name: str
    budget: Any


@dataclass
class Notice:
    workspace_id: str
    agent_id: str
    agent_name: str
    month: str
    kind: str
    status: BudgetStatus

    @property
    def notification_id(self) -> str:
        return f"{self.workspace_id}/{self.agent_id}/{self.month}/{self.kind}"

    def body(self) -> dict[str, Any]:
        """The JSON body that SQS, HTTPS and Lambda subscribers receive."""
        return {
            "notificationId": self.notification_id,
            "workspaceId": self.workspace_id,
            "agentId": self.agent_id,
            "agentName": self.agent_name,
            "month": self.month,
            "kind": self.kind,
            "actualCost": float(rounded(self.status.actual, 2)),
            "projectedCost": float(rounded(self.status.projected, 2)),
            "budget": float(rounded(self.status.budget, 2)),
            "utilization": float(rounded(self.status.utilization, 3)),
        }

    def subject(self) -> str:
        what = {"forecast": "is on track to exceed"}.get(self.kind) or (
            f"passed {self.kind.removeprefix('threshold_')}% of"
        )
        text = f"Budget alert: {self.agent_name} {what} its {self.month} budget"
        # SNS subjects: at most 100 printable ASCII characters.
        return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)[:100]

    def text(self) -> str:
        s = self.status
        return "\n".join(
            [
                self.subject(),
                "",
                f"Workspace:      {self.workspace_id}",
                f"Agent:          {self.agent_name} ({self.agent_id})",
                f"Month:          {self.month}",
                f"Spent so far:   ${rounded(s.actual, 2)} of ${rounded(s.budget, 2)} "
                f"({rounded(s.utilization * 100, 1)}%)",
                f"Month-end pace: ${rounded(s.projected, 2)}",
                "",
                f"You receive each kind of alert ({self.kind}) once per agent and month.",
            ]
        )


@dataclass
class RunOutcome:
    workspaces: int = 0
    agents: int = 0
    sent: int = 0
    already_sent: int = 0
    failed: int = 0
    # Published, but the record of it could not be written: sent again by the next run.
    unrecorded: int = 0
    notices: list[str] = field(default_factory=list)


Publisher = Callable[[Notice], str]


def publish_to_sns(topic_arn: str) -> Publisher:
    """A publisher to the alert topic: text for e-mail, JSON for machines, filterable by workspace, kind.
    The client is created here, before `run` fans out to threads (creating one is not thread-safe)."""
    from costmetrics import aws

    client = aws.sns()

    def publish(notice: Notice) -> str:
        body = json.dumps(notice.body())
        message = {"default": notice.text(), "email": notice.text()}
        message |= dict.fromkeys(("email-json", "sqs", "http", "https", "lambda", "firehose"), body)
        response = client.publish(
            TopicArn=topic_arn,
            Subject=notice.subject(),
            MessageStructure="json",
            Message=json.dumps(message),
            MessageAttributes={
                "workspace_id": {"DataType": "String", "StringValue": notice.workspace_id},
                "kind": {"DataType": "String", "StringValue": notice.kind},
                "agent_id": {"DataType": "String", "StringValue": notice.agent_id},
            },
        )
        return str(response["MessageId"])

    return publish


def _evaluate_workspace(
    workspace_id: str,
    agents: list[BudgetedAgent],
    settings: AlertSettings,
    now: datetime,
    publish: Publisher,
) -> RunOutcome:
    outcome = RunOutcome(workspaces=1, agents=len(agents))
    month = periods.current_month(now)
    rollups = rollups_repo.month_rollups(workspace_id, month)
    sent = rollups_repo.notices_of_month(workspace_id, month)
    for agent in agents:
        usage = rollups.agents.get(agent.agent_id)
        actual = usage.usage.total_cost if usage else ZERO
        status = assess(actual, agent.budget, month, now)
        for kind in due_kinds(status, tuple(settings.thresholds), settings.forecast):
            if (agent.agent_id, kind) in sent:
                outcome.already_sent += 1
                continue
            notice = Notice(workspace_id, agent.agent_id, agent.name, month, kind, status)
            try:
                message_id = publish(notice)
            except Exception:
                logger.exception(
                    "alert publish failed; it will be retried next run", notice=notice.notification_id
                )
                outcome.failed += 1
                continue
            try:
                rollups_repo.record_notice(
                    workspace_id,
                    agent.agent_id,
                    month,
                    kind,
                    message_id=message_id,
                    actual=status.actual,
                    budget=status.budget,
                )
            except Exception:
                # SNS has it, the record is missing: the next run sends it again (at least once, never
                # lost). The workspace's other notices go on: one failed write must not hold them back.
                logger.exception(
                    "alert published but not recorded; the next run sends it again",
                    notice=notice.notification_id,
                )
                outcome.unrecorded += 1
            outcome.sent += 1
            outcome.notices.append(notice.notification_id)
    return outcome


def run(now: datetime, publish: Publisher) -> RunOutcome:
    """Evaluates every workspace's budgeted agents (found without reading events) and sends what is due."""
    budgeted, settings = agents_repo.budgeted_agents()
    by_workspace: dict[str, list[BudgetedAgent]] = {}
    for workspace_id, agent_id, name, budget in budgeted:
        by_workspace.setdefault(workspace_id, []).append(BudgetedAgent(workspace_id, agent_id, name, budget))
    total = RunOutcome()

    def one(workspace_id: str) -> RunOutcome:
        try:
            chosen = AlertSettings.model_validate(settings.get(workspace_id, {}))
            return _evaluate_workspace(workspace_id, by_workspace[workspace_id], chosen, now, publish)
        except Exception:
            # One workspace's failure must not silence the others; its notices are retried next run.
            logger.exception("workspace alert evaluation failed", workspace_id=workspace_id)
            return RunOutcome(workspaces=1, failed=1)

    with ThreadPoolExecutor(max_workers=PARALLEL_WORKSPACES) as pool:
        for result in pool.map(one, sorted(by_workspace)):
            total.workspaces += result.workspaces
            total.agents += result.agents
            total.sent += result.sent
            total.already_sent += result.already_sent
            total.failed += result.failed
            total.unrecorded += result.unrecorded
            total.notices += result.notices
    return total
