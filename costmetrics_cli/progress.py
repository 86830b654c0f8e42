"""A progress line on stderr: a bar redrawn in place on a terminal, a line every few seconds otherwise
(logs and CI), always a last line with the final counts."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO

BAR_WIDTH = 24


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


class Progress:
    """Counts of a long transfer: `done` of `total` (None when unknown), and named counters."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        unit: str = "events",
        stream: TextIO | None = None,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label, self.total, self.unit, self.enabled, self._clock = label, total, unit, enabled, clock
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.interval = 0.1 if self.tty else 5.0
        self.started = clock()
        self.done = 0
        self.counts: dict[str, int] = {}
        self._baseline = 0  # what was done before this run (a resumed export): not in the rate
        self._last_draw = float("-inf")
        self._drawn = False
        self._counted: tuple[int, dict[str, int]] = (-1, {})

    def resume_from(self, done: int) -> None:
        self.done = self._baseline = done

    def update(self, done: int, counts: Mapping[str, int] | None = None) -> None:
        self.done = done
        if counts is not None:
            self.counts = dict(counts)
        if self.enabled and self._clock() - self._last_draw >= self.interval:
            self._draw()

    def note(self, text: str) -> None:
        """A message of its own line (a retry), without breaking the bar."""
        if self.tty and self._drawn:
            self.stream.write("\r\x1b[K")
        self.stream.write(text + "\n")
        self._drawn = False
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self._draw(final=True)

    def line(self) -> str:
        elapsed = max(self._clock() - self.started, 1e-9)
        parts = [self.label]
        if self.total:
            share = min(self.done / self.total, 1.0)
            filled = int(share * BAR_WIDTH)
            parts.append(
                f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {self.done:,}/{self.total:,} {share:.0%}"
            )
        else:
            parts.append(f"{self.done:,} {self.unit}")
        parts += [f"{name} {value:,}" for name, value in self.counts.items()]
        rate = (self.done - self._baseline) / elapsed
        parts.append(f"{rate:,.0f}/s")
        if self.total and rate > 0 and self.done < self.total:
            parts.append(f"ETA {_duration((self.total - self.done) / rate)}")
        else:
            parts.append(_duration(elapsed))
        return " · ".join(parts)

    def _draw(self, final: bool = False) -> None:
        self._last_draw = self._clock()
        line = self.line()
        if self.tty:
            self.stream.write("\r\x1b[K" + line + ("\n" if final else ""))
        elif not (final and self._drawn and self._counted == (self.done, self.counts)):
            self.stream.write(line + "\n")  # (a log gets the last line once, not twice)
        self._drawn = not final
        self._counted = (self.done, dict(self.counts))
        self.stream.flush()
