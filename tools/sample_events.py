"""`python -m tools.sample_events --count 10000 > events.ndjson`: realistic activity events of the
demo agents (sessions of model calls, tool calls, errors, completed tasks) over the last days, as NDJSON
for `costmetrics ingest`. Ids are `sample-<seed>-00001`..., so a second file with another seed adds to
the first instead of colliding with it."""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.demo import DEMO_AGENTS, _session


def sample_events(count: int, now: datetime, *, days: int = 7, seed: int = 1) -> list[dict[str, Any]]:
    """`count` events of the demo's active agents, spread over the `days` before `now`, oldest first."""
    rng = random.Random(seed)  # noqa: S311 - reproducible sample data, not secrets
    active = [agent for agent in DEMO_AGENTS if agent.profile is not None]
    first = now - timedelta(days=days)
    events: list[dict[str, Any]] = []
    while len(events) < count:
        agent = rng.choice(active)
        assert agent.profile is not None
        start = first + timedelta(seconds=rng.uniform(0, days * 86_400 - 3_600))
        events.extend(e for e in _session(rng, agent, agent.profile, start) if e["createdAt"] <= _iso(now))
    events = sorted(events[:count], key=lambda event: event["createdAt"])
    return [{"id": f"sample-{seed}-{index:05d}", **event} for index, event in enumerate(events, start=1)]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.sample_events", description=__doc__)
    parser.add_argument("--count", type=int, default=10_000, help="events to write (default 10,000)")
    parser.add_argument("--days", type=int, default=7, help="spread over the last DAYS days (default 7)")
    parser.add_argument("--seed", type=int, default=1, help="another seed gives other events and ids")
    args = parser.parse_args(argv)
    if args.count < 1 or args.days < 1:
        parser.error("--count and --days must be at least 1")
    for event in sample_events(
        args.count, datetime.now(UTC).replace(microsecond=0), days=args.days, seed=args.seed
    ):
        sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
