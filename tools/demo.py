"""The demo workspace: users, seven agents and about four months of activity, generated deterministically
(a fixed seed; only the dates move with the clock) and loaded through the API over HTTP, so the events
reach the rollups the way they do in AWS: events table, stream, rollup function.

The story: a support agent, a researcher, a writer, an engineer, a finance analyst paused three weeks ago,
a lead qualifier whose prompt experiment on a flagship model ran away this month (far over its small
budget), and a draft agent that has never run.
"""

from __future__ import annotations

import json
import logging
import random
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from local_stack.identity import create_user, sign_in

# Its lines are part of `make local`'s output, at the stack's log level.
log = logging.getLogger("local_stack.demo")

DEMO_WORKSPACE = "demo"
# Meets the pool's policy (12+ characters, upper, lower, digit); shown in the README and the console.
DEMO_PASSWORD = "Demo-Password-2026"  # noqa: S105 - a documented demo credential of a local emulator
DEMO_SEED = 2026
EVENTS_FILE = "demo-events.ndjson"
BATCH = 100  # POST /api/activity takes at most 100 events


@dataclass(frozen=True)
class DemoUser:
    username: str
    group: str
    password: str = DEMO_PASSWORD


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("demo@example.com", "admin"),
    DemoUser("viewer@example.com", "viewer"),
    DemoUser("ingest@example.com", "ingest"),
)


@dataclass(frozen=True)
class Profile:
    """How an agent works: which models and how often, how big its calls are, its tasks and tools."""

    models: tuple[tuple[str, float], ...]
    sessions_per_day: float
    calls: tuple[int, int]
    input_tokens: tuple[int, int]
    output_tokens: tuple[int, int]
    cache_share: float
    tasks: tuple[str, ...]
    tools: tuple[str, ...]
    error_rate: float = 0.03
    stopped_days_ago: int = 0
    cron_job: str | None = None


@dataclass(frozen=True)
class DemoAgent:
    id: str
    registration: dict[str, Any]
    profile: Profile | None = None
    runaway_calls: int = 0


def _agent(
    agent_id: str,
    name: str,
    status: str,
    category: str,
    department: str,
    role: str,
    provider: str,
    model: str,
    salary: int,
    hours: int,
    budget: int,
    profile: Profile | None = None,
    runaway_calls: int = 0,
) -> DemoAgent:
    registration = {
        "name": name,
        "status": status,
        "category": category,
        "department": department,
        "role_title": role,
        "model_provider": provider,
        "model_name": model,
        "human_equivalent_salary": salary,
        "estimated_hours_saved": hours,
        "cost_budget_monthly": budget,
    }
    return DemoAgent(agent_id, registration, profile, runaway_calls)


DEMO_AGENTS: tuple[DemoAgent, ...] = (
    _agent(
        "nova",
        "Nova",
        "online",
        "support",
        "Customer Success",
        "Support Agent",
        "anthropic",
        "claude-sonnet-4-6",
        58_000,
        120,
        40,
        Profile(
            (("claude-sonnet-4-6", 0.8), ("claude-haiku-4-5", 0.2)),
            1.3,
            (1, 3),
            (3_000, 30_000),
            (300, 2_500),
            0.45,
            ("classification", "summarization", "writing"),
            ("zendesk.search", "kb.lookup", "email.send"),
        ),
    ),
    _agent(
        "atlas",
        "Atlas",
        "online",
        "research",
        "Research",
        "Research Analyst",
        "openai",
        "gpt-5.5",
        95_000,
        80,
        60,
        Profile(
            (("gpt-5.5", 0.7), ("gpt-5.4", 0.3)),
            0.7,
            (2, 4),
            (8_000, 60_000),
            (1_000, 6_000),
            0.3,
            ("research", "summarization", "extraction"),
            ("web.search", "pdf.extract", "sql.query"),
        ),
    ),
    _agent(
        "quill",
        "Quill",
        "online",
        "content",
        "Marketing",
        "Content Writer",
        "google",
        "gemini-2.5-flash",
        65_000,
        60,
        25,
        Profile(
            (("gemini-2.5-flash", 0.75), ("gemini-2.5-pro", 0.25)),
            1.0,
            (1, 3),
            (2_000, 20_000),
            (800, 5_000),
            0.2,
            ("writing", "summarization"),
            ("cms.publish", "image.generate", "seo.check"),
            cron_job="content-calendar",
        ),
    ),
    _agent(
        "forge",
        "Forge",
        "offline",
        "engineering",
        "Engineering",
        "Software Engineer",
        "anthropic",
        "claude-opus-4-7",
        140_000,
        100,
        80,
        Profile(
            (("claude-opus-4-7", 0.6), ("claude-sonnet-4-6", 0.4)),
            0.8,
            (2, 5),
            (10_000, 80_000),
            (1_000, 8_000),
            0.6,
            ("coding", "planning"),
            ("git.diff", "tests.run", "code.search"),
            error_rate=0.06,
        ),
    ),
    _agent(
        "ledger",
        "Ledger",
        "paused",
        "finance",
        "Finance",
        "Finance Analyst",
        "openai",
        "gpt-5.4-mini",
        72_000,
        40,
        15,
        Profile(
            (("gpt-5.4-mini", 0.8), ("gpt-4.1", 0.2)),
            0.9,
            (1, 3),
            (3_000, 25_000),
            (300, 2_000),
            0.25,
            ("extraction", "classification"),
            ("erp.query", "sheet.update"),
            error_rate=0.02,
            stopped_days_ago=21,
            cron_job="month-end-close",
        ),
    ),
    _agent(
        "scout",
        "Scout",
        "online",
        "sales",
        "Sales",
        "Lead Qualifier",
        "anthropic",
        "claude-haiku-4-5",
        48_000,
        50,
        10,
        Profile(
            (("claude-haiku-4-5", 1.0),),
            1.2,
            (1, 2),
            (1_000, 6_000),
            (100, 800),
            0.3,
            ("classification", "extraction"),
            ("crm.lookup", "email.enrich"),
        ),
        runaway_calls=90,
    ),
    _agent(
        "echo",
        "Echo",
        "draft",
        "operations",
        "Operations",
        "Ops Assistant",
        "google",
        "gemini-2.5-pro",
        50_000,
        0,
        0,
    ),
)

_RUNAWAY_MODEL = "claude-sonnet-4-20250514"
_ERRORS = (
    ("rate_limited", "provider rate limit reached; backing off"),
    ("timeout", "tool call timed out after 30s"),
    ("context_length", "prompt exceeds the model's context window"),
    ("invalid_output", "model output failed schema validation"),
)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _model_call(rng: random.Random, profile: Profile, model: str, at: datetime) -> dict[str, Any]:
    provider = (
        "anthropic" if model.startswith("claude") else "google" if model.startswith("gemini") else "openai"
    )
    input_tokens = rng.randint(*profile.input_tokens)
    output_tokens = rng.randint(*profile.output_tokens)
    details: dict[str, Any] = {"model": model, "inputTokens": input_tokens, "outputTokens": output_tokens}
    cache_read = int(input_tokens * profile.cache_share * rng.uniform(0.4, 1.4))
    if cache_read:
        details["cacheReadTokens"] = cache_read
    # Anthropic bills prompt-cache writes; Gemini's explicit caching sometimes; OpenAI caches implicitly.
    write_chance = {"anthropic": 0.3, "google": 0.1}.get(provider, 0.0)
    if rng.random() < write_chance:
        details["cacheWriteTokens"] = int(input_tokens * rng.uniform(0.05, 0.25))
    details["durationMs"] = int(350 + output_tokens * rng.uniform(6, 18) + input_tokens * 0.01)
    if rng.random() < 0.02:
        details["success"] = False
    return {"agentId": "", "eventType": "model_invocation", "createdAt": _stamp(at), "details": details}


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    names = [name for name, _ in weighted]
    return rng.choices(names, weights=[weight for _, weight in weighted])[0]


def _session(rng: random.Random, agent: DemoAgent, profile: Profile, start: datetime) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    clock = start

    def emit(event_type: str, details: dict[str, Any]) -> None:
        events.append(
            {"agentId": agent.id, "eventType": event_type, "createdAt": _stamp(clock), "details": details}
        )

    session_id = f"{agent.id}-{start:%Y%m%d%H%M%S}"
    emit("session_start", {"sessionId": session_id, "trigger": rng.choice(["user", "api", "webhook"])})
    for _ in range(rng.randint(*profile.calls)):
        clock += timedelta(seconds=rng.uniform(3, 60))
        call = _model_call(rng, profile, _pick(rng, profile.models), clock)
        call["agentId"] = agent.id
        events.append(call)
        if rng.random() < 0.55:
            clock += timedelta(seconds=rng.uniform(1, 20))
            emit(
                "tool_call",
                {
                    "tool": rng.choice(profile.tools),
                    "success": rng.random() > 0.05,
                    "durationMs": rng.randint(40, 4_000),
                },
            )
    if rng.random() < profile.error_rate:
        clock += timedelta(seconds=rng.uniform(1, 10))
        code, message = rng.choice(_ERRORS)
        emit("error", {"code": code, "message": message})
    if rng.random() < 0.9:
        clock += timedelta(seconds=rng.uniform(1, 30))
        emit("task_completed", {"taskType": rng.choice(profile.tasks)})
    clock += timedelta(seconds=rng.uniform(1, 5))
    emit("session_end", {"sessionId": session_id})
    return events


def _days(first: datetime, last: datetime) -> Iterator[datetime]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def demo_events(now: datetime, seed: int = DEMO_SEED) -> list[dict[str, Any]]:
    """The demo's activity from the first day of the month three months before `now`'s, up to `now`
    (nothing later), in time order, with ids demo-00001, demo-00002..."""
    now = now.astimezone(UTC).replace(microsecond=0)
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    month_start = now.replace(day=1, hour=0, minute=0, second=0)
    start = month_start
    for _ in range(3):
        start = (start - timedelta(days=1)).replace(day=1)
    events: list[dict[str, Any]] = []
    for agent in DEMO_AGENTS:
        profile = agent.profile
        if profile is None:
            continue
        until = now - timedelta(days=profile.stopped_days_ago)
        events.append(
            {
                "agentId": agent.id,
                "eventType": "config_change",
                "createdAt": _stamp(start),
                "details": {"change": "deployed", "model": agent.registration["model_name"]},
            }
        )
        for day in _days(start, until.replace(hour=0, minute=0, second=0)):
            expected = profile.sessions_per_day * (0.35 if day.weekday() >= 5 else 1.0)
            sessions = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
            for _ in range(sessions):
                session_start = day + timedelta(seconds=rng.uniform(6 * 3600, 21 * 3600))
                events.extend(_session(rng, agent, profile, session_start))
            if profile.cron_job and day.weekday() == 0:
                events.append(
                    {
                        "agentId": agent.id,
                        "eventType": "cron_execution",
                        "createdAt": _stamp(day + timedelta(hours=5)),
                        "details": {"job": profile.cron_job, "status": "succeeded"},
                    }
                )
        if agent.runaway_calls:
            events.extend(_runaway(rng, agent, profile, month_start, now))
    # Nothing after `now` (a session that started late runs past it), nothing before the first day.
    events = [event for event in events if _stamp(start) <= event["createdAt"] <= _stamp(now)]
    events.sort(key=lambda event: event["createdAt"])
    return [{"id": f"demo-{index:05d}", **event} for index, event in enumerate(events, start=1)]


def _runaway(
    rng: random.Random, agent: DemoAgent, profile: Profile, month_start: datetime, now: datetime
) -> list[dict[str, Any]]:
    """This month's runaway: an experiment switched the agent to a flagship model and left it looping."""
    begin = max(month_start, now - timedelta(hours=4))
    span = max((now - begin).total_seconds(), 1.0)
    events = [
        {
            "agentId": agent.id,
            "eventType": "config_change",
            "createdAt": _stamp(begin),
            "details": {
                "field": "model_name",
                "from": agent.registration["model_name"],
                "to": _RUNAWAY_MODEL,
            },
        }
    ]
    heavy = Profile(
        ((_RUNAWAY_MODEL, 1.0),),
        0,
        (1, 1),
        (30_000, 50_000),
        (2_000, 4_000),
        0.1,
        profile.tasks,
        profile.tools,
    )
    for index in range(agent.runaway_calls):
        at = begin + timedelta(seconds=span * (index + rng.random()) / agent.runaway_calls)
        call = _model_call(rng, heavy, _RUNAWAY_MODEL, min(at, now))
        call["agentId"] = agent.id
        events.append(call)
    return events


# --- Loading through the API ----------------------------------------------------------------------


@dataclass
class DemoData:
    """What was loaded: the workspace, its users, and the events the API accepted (also in events_file)."""

    workspace_id: str
    users: tuple[DemoUser, ...]
    agents: list[str]
    events_file: Path
    accepted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def outputs(self) -> dict[str, Any]:
        """The `Demo` object of outputs.json."""
        return {
            "workspaceId": self.workspace_id,
            "users": [{"username": u.username, "password": u.password, "group": u.group} for u in self.users],
            "agents": self.agents,
            "eventsFile": str(self.events_file),
            "events": self.accepted,
        }


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call_api(method: str, url: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    """One JSON request to the local API; returns (status, parsed body), 4xx and 5xx included."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _opener.open(request, timeout=120) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except json.JSONDecodeError:
        return status, raw.decode(errors="replace")


def load_demo(
    api_url: str,
    cognito: Any,
    user_pool_id: str,
    client_id: str,
    state_dir: Path,
    now: datetime | None = None,
) -> DemoData:
    """Creates the demo users, registers the agents as the admin and posts the events as the ingest user,
    100 per request; records the accepted events in <state_dir>/demo-events.ndjson."""
    for user in DEMO_USERS:
        create_user(cognito, user_pool_id, user.username, user.password, DEMO_WORKSPACE, [user.group])
    tokens = {user.group: sign_in(cognito, client_id, user.username, user.password) for user in DEMO_USERS}

    for agent in DEMO_AGENTS:
        status, body = call_api(
            "PUT", f"{api_url}/api/agents/{agent.id}", tokens["admin"], agent.registration
        )
        if status != 200:
            raise RuntimeError(f"PUT /api/agents/{agent.id} answered {status}: {body}")

    events = demo_events(now or datetime.now(UTC))
    data = DemoData(DEMO_WORKSPACE, DEMO_USERS, [a.id for a in DEMO_AGENTS], state_dir / EVENTS_FILE)
    state_dir.mkdir(parents=True, exist_ok=True)
    with data.events_file.open("w", encoding="utf-8") as record:
        for offset in range(0, len(events), BATCH):
            batch = events[offset : offset + BATCH]
            status, body = call_api("POST", f"{api_url}/api/activity", tokens["ingest"], {"events": batch})
            if status != 200 or not isinstance(body, dict):
                raise RuntimeError(f"POST /api/activity answered {status}: {body}")
            refused = {item["index"] for item in body.get("rejected", [])}
            data.rejected.extend(body.get("rejected", []))
            for index, event in enumerate(batch):
                if index not in refused:
                    record.write(json.dumps(event, separators=(",", ":")) + "\n")
                    data.accepted += 1
    if data.rejected:
        log.warning("the API rejected %d demo event(s), e.g. %s", len(data.rejected), data.rejected[:3])
    return data
