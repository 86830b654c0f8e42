"""`make soak`: the issue's full load on the local stack (20 clients x 1,000 events, 10% of batches re-sent,
readers paging meanwhile) and the fault-injection tests with many more hypothesis examples; prints the
figures. Each setting can be changed by its environment variable (see tests/e2e/test_load.py and
tests/integration/test_fault_injection.py); extra arguments go to pytest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULTS = {
    "COSTMETRICS_LOAD_CLIENTS": "20",
    "COSTMETRICS_LOAD_EVENTS": "1000",
    "COSTMETRICS_LOAD_READERS": "2",
    "COSTMETRICS_FAULT_EXAMPLES": "200",
}
TESTS = ["tests/integration/test_fault_injection.py", "tests/e2e/test_load.py"]


def _read(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def summary(load: dict[str, Any] | None, faults: dict[str, Any] | None) -> str:
    lines = []
    if load:
        lines += [
            f"load:    {load['clients']} clients x {load['events_per_client']:,} events = "
            f"{load['events']:,} events",
            f"         sent {load['events_sent']:,} in {load['requests']:,} requests: {load['batches']:,} "
            f"batches, {load['resent_batches']:,} of them re-sent ({load['resent_events']:,} events); "
            f"{load['retried_requests']} retried after an error",
            f"         accepted {load['accepted']:,}, duplicates detected {load['duplicates_detected']:,}, "
            f"stored {load['stored']:,}; cursor walk {load['cursor_walk_ids']:,} ids, "
            f"{load['cursor_walk_distinct']:,} distinct",
            f"         readers meanwhile: {load['reader_walks']} walks, {load['reader_pages']} pages",
            f"         rollup figures checked {load['rollup_figures_checked']}, "
            f"mismatches {load['rollup_mismatches']}",
            f"         time: ingestion {load['ingest_seconds']} s, rollups caught up "
            f"{load['rollup_catch_up_seconds']} s after it, whole test {load['total_seconds']} s; "
            f"slowest POST {load['max_post_seconds']} s",
        ]
    else:
        lines.append("load:    no figures (the load test did not get that far)")
    if faults:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(faults["by_kind"].items()))
        lines.append(f"faults:  {faults['total']:,} injected ({kinds})")
    else:
        lines.append("faults:  no figures (the fault-injection tests did not get that far)")
    return "\n".join(lines)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="costmetrics-soak-") as tmp:
        load_report, fault_report = Path(tmp) / "load.json", Path(tmp) / "faults.json"
        env = {**DEFAULTS, **os.environ}
        env |= {"COSTMETRICS_LOAD_REPORT": str(load_report), "COSTMETRICS_FAULT_REPORT": str(fault_report)}
        print(
            f"soak: {env['COSTMETRICS_LOAD_CLIENTS']} clients x {env['COSTMETRICS_LOAD_EVENTS']} events, "
            f"{env['COSTMETRICS_FAULT_EXAMPLES']} fault-injection examples",
            flush=True,
        )
        started = time.monotonic()
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS, *sys.argv[1:]]
        code = subprocess.call(command, env=env)
        print(f"\nsoak: pytest exited {code} after {time.monotonic() - started:.0f} s")
        print(summary(_read(load_report), _read(fault_report)))
    return code


if __name__ == "__main__":
    sys.exit(main())
