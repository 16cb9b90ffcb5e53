"""One lifecycle: parts start in list order, stop in reverse, and a failure leaves nothing running."""

from __future__ import annotations

import logging

import pytest

from adhoc.lifecycle import Lifecycle, Part


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    def part(self, name: str, *, fail_start: bool = False, fail_stop: bool = False) -> Part:
        async def start() -> None:
            self.events.append(f"start {name}")
            if fail_start:
                raise RuntimeError(f"{name} cannot start")

        async def stop() -> None:
            self.events.append(f"stop {name}")
            if fail_stop:
                raise RuntimeError(f"{name} cannot stop")

        return Part(name, start, stop)


async def test_parts_start_in_order_and_stop_in_reverse() -> None:
    rec = Recorder()
    lifecycle = Lifecycle([rec.part("engine"), rec.part("thrift"), rec.part("http")])
    await lifecycle.start()
    assert lifecycle.started == ["engine", "thrift", "http"]
    await lifecycle.stop()
    await lifecycle.stop()  # a second stop stops nothing twice
    assert rec.events == ["start engine", "start thrift", "start http", "stop http", "stop thrift", "stop engine"]
    assert lifecycle.started == []


async def test_a_part_failing_to_start_stops_the_ones_already_started() -> None:
    rec = Recorder()
    lifecycle = Lifecycle([rec.part("engine"), rec.part("thrift", fail_start=True), rec.part("http")])
    with pytest.raises(RuntimeError, match="thrift cannot start"):
        await lifecycle.start()
    # the failed part is not stopped (it did not start), the later one never started
    assert rec.events == ["start engine", "start thrift", "stop engine"]


async def test_a_part_failing_to_stop_is_logged_and_the_rest_still_stop(caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder()
    lifecycle = Lifecycle([rec.part("engine"), rec.part("thrift", fail_stop=True), rec.part("http")])
    await lifecycle.start()
    with caplog.at_level(logging.ERROR, logger="adhoc.lifecycle"):
        await lifecycle.stop()
    assert rec.events[3:] == ["stop http", "stop thrift", "stop engine"]
    assert "stopping thrift failed" in caplog.text and "thrift cannot stop" in caplog.text


async def test_parts_without_a_start_or_stop() -> None:
    lifecycle = Lifecycle([Part("nothing to do")])
    await lifecycle.start()
    await lifecycle.stop()
    assert lifecycle.started == []
