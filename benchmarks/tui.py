"""adhoc-sql: how fast a big result paints, and what a million rows cost in memory.

    python -m benchmarks.tui

Targets (issue 5): a 100k-row result painted <= 0.5 s after the fetch completes; memory for 1M
rows bounded (reported). Also the editor's keystroke-to-screen time while a query streams.
"""

from __future__ import annotations

import asyncio
import resource
import tempfile
import time
from pathlib import Path

import pyarrow as pa
from textual.widgets import TextArea

from tests.tui.fake import FakeConnection
from tui.adapter import Column
from tui.app import AdhocSqlApp
from tui.widgets.results import ResultsView


def table(rows: int) -> pa.Table:
    return pa.table({
        "id": pa.array(range(rows), pa.int64()),
        "name": pa.array([f"customer {i}" for i in range(rows)]),
        "amount": pa.array([i * 0.25 for i in range(rows)]),
    })  # fmt: skip


async def paint_seconds(rows: int) -> float:
    data = table(rows)
    app = AdhocSqlApp(FakeConnection(), state_dir=Path(tempfile.mkdtemp()))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        view = app.query_one(ResultsView)
        columns = [Column("id", "BIGINT"), Column("name", "STRING"), Column("amount", "DOUBLE")]
        started = time.perf_counter()
        await view.show(data, columns, more=False)
        await pilot.pause(0)  # one refresh: the first screen of rows is on the screen
        return time.perf_counter() - started


async def keystroke_ms(streaming: bool, samples: int = 50) -> tuple[float, float]:
    """Pilot's press() waits for the app to settle, so this is an upper bound on the real latency."""
    app = AdhocSqlApp(FakeConnection(), state_dir=Path(tempfile.mkdtemp()))
    async with app.run_test(size=(160, 48)) as pilot:
        area = app.query_one(TextArea)
        area.text = "SELECT 100000"
        if streaming:
            await pilot.press("f5")  # a result streams in while we type
        area.focus()
        out = []
        for _ in range(samples):
            started = time.perf_counter()
            await pilot.press("x")
            out.append((time.perf_counter() - started) * 1000)
        out.sort()
        return out[len(out) // 2], out[int(len(out) * 0.99)]


def main() -> None:
    for rows in (100_000, 1_000_000):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        seconds = asyncio.run(paint_seconds(rows))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{rows:>9,} rows x 3: painted {seconds:.3f} s after the fetch (target <= 0.5 s at 100k); "
              f"peak RSS {before:.0f} -> {after:.0f} MB")  # fmt: skip
    for streaming in (False, True):
        p50, p99 = asyncio.run(keystroke_ms(streaming))
        when = "while a result streams" if streaming else "idle"
        print(f"editor keystroke to screen ({when}): p50 {p50:.1f} ms, p99 {p99:.1f} ms")


if __name__ == "__main__":
    main()
