"""Progress shows what takes the time: polls of asynchronous queries (over the emulator), then
rendering and delivery as steps, with elapsed time."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from unittest.mock import patch

import pytest

from reportkit.app import DeliverOptions, RunOptions, run_and_deliver
from reportkit.language.spec import parse_report
from reportkit.plan import plan_requests
from reportkit.progress import QueryProgress
from reportkit.sources.emulator import start_emulator
from reportkit.sources.execute import Progress, ProgressEvent, ReportStep
from reportkit.sources.factory import CleverTapOptions
from reportkit.sources.local import LocalEngine

DEFINITION = """\
version: 1
title: Orders
queries:
  - id: orders
    event: Charged
    kind: count
  - id: by-mode
    event: Charged
    groups:
      mode: { property_type: event_properties, name: Payment Mode }
deliver:
  email:
    to: [team@example.com]
    attach: [md]
"""


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_view_shows_polls_elapsed_time_and_report_steps() -> None:
    report = parse_report(DEFINITION, Path("orders.yaml"))
    plan = plan_requests(report, date(2026, 11, 30))
    clock, stream = _Clock(), io.StringIO()
    count = next(r for r in plan.requests if r.endpoint.endswith("events.json"))
    top = next(r for r in plan.requests if r.endpoint.endswith("top.json"))
    with QueryProgress([plan], stream=stream, delivering=["orders"], clock=clock) as view:
        view(Progress("sent", count))
        view(Progress("cached", top))
        clock.now += 2.0
        view(Progress("polled", count, polls=1))
        view(Progress("polled", count, polls=2))
        clock.now += 1.5
        view(Progress("done", count))
        view(ReportStep("orders", "render", "running"))
        clock.now += 4.25
        view(ReportStep("orders", "render", "done"))
        view(ReportStep("orders", "deliver", "running"))
        clock.now += 0.5
    lines = [" ".join(line.split()) for line in stream.getvalue().splitlines() if line.strip()]
    table = lines[-4:]  # the last drawing
    assert table == [
        "orders orders done 3.5 s, 2 polls",
        "orders by-mode done 3.5 s, 2 polls",  # it shares the events.json request
        "orders (render) done 4.2 s",
        "orders (deliver) sending 0.5 s",
    ]


@pytest.fixture()
def emulator(demo_store: Path) -> Iterator[str]:
    engine = LocalEngine(demo_store, read_only=True)
    emu = start_emulator(engine, "127.0.0.1", 0, partial_polls=2)
    try:
        yield emu.url
    finally:
        emu.stop()
        engine.close()


def test_a_clevertap_run_tells_polls_rendering_and_delivery(emulator: str, tmp_path: Path) -> None:
    path = tmp_path / "orders.yaml"
    path.write_text(DEFINITION)
    events: list[ProgressEvent] = []
    env = {"CLEVERTAP_BASE_URL": emulator, "CLEVERTAP_ACCOUNT_ID": "a", "CLEVERTAP_PASSCODE": "p"}
    options = RunOptions(
        as_of=date(2026, 11, 30),
        source="clevertap",
        formats=("md",),
        out=tmp_path / "out",
        state_dir=tmp_path / "state",
        clevertap=CleverTapOptions(poll_interval=0.01),
    )
    with patch.dict(os.environ, env):
        outcomes, sent = run_and_deliver(
            [path], options, DeliverOptions(dry_run=True), on_progress=events.append
        )
    assert [o.ok for o in outcomes] == [True]
    assert [(d.error, d.delivery and d.delivery.action) for d in sent] == [(None, "written")]
    polled = [e for e in events if isinstance(e, Progress) and e.state == "polled"]
    requests = {e.request.key for e in events if isinstance(e, Progress) and e.state == "sent"}
    assert requests and {e.request.key for e in polled} == requests
    for key in requests:  # the POST's partial answer, then one more partial: 2 polls to success
        assert [e.polls for e in polled if e.request.key == key] == [1, 2]
    steps = [(e.step, e.state) for e in events if isinstance(e, ReportStep)]
    assert steps == [
        ("render", "running"),
        ("render", "done"),
        ("deliver", "running"),
        ("deliver", "done"),
    ]
    last_answer = max(i for i, e in enumerate(events) if isinstance(e, Progress))
    assert last_answer < events.index(ReportStep("orders", "render", "running"))
