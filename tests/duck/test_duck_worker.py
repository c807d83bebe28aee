"""``run_duck`` and ``python -m duckstring.duck`` against a real Catchment behind a link that
misbehaves when told to: the long poll, the outbox over HTTP through outages, refusals and lost
answers, heartbeats, the line lock, SIGTERM, and the worker errors a Duck reports about
itself."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from duck_catchment import Cut, DuckCatchment, served_catchment
from duck_support import NAME, Line, begin, wait_until

from duckstring.duck.client import DuckClient, Unreachable
from duckstring.duck.ledger import Ledger
from duckstring.duck.protocol import (
    DEFERRABLE,
    DUCK_HEADER,
    EVENTS,
    RIPPLE_SUCCEEDED,
    DuckEvent,
    Shutdown,
    ripple_event_id,
    type_of,
)
from duckstring.duck.worker import DuckConfig, Sender, acquire_line_lock, run_duck
from duckstring.engine.ripples import RippleGraph

F1 = 1_767_225_600_000_000

RUN_1 = [
    "ripple_started:1:a:0",
    "ripple_succeeded:1:a:0",
    "ripple_started:1:b:0",
    "ripple_succeeded:1:b:0",
    "ripple_started:1:c:0",
    "ripple_succeeded:1:c:0",
    "run_completed:1",
]


@pytest.fixture
def catchment(tmp_path: Path) -> Iterator[DuckCatchment]:
    yield from served_catchment(tmp_path / "catchment")


def spawn(line: Line, url: str, *extra: str, key: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "DUCKSTRING_API_KEY"}
    if key is not None:
        env["DUCKSTRING_API_KEY"] = key
    command = [sys.executable, "-m", "duckstring.duck", "--root", str(line.root)]
    command += ["--pond", NAME, "--major", "1", "--url", url, *extra]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


class InProcess:
    """``run_duck`` on a thread of the test process (no signal handling there)."""

    def __init__(self, config: DuckConfig) -> None:
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run, args=(config,), daemon=True)
        self.thread.start()

    def _run(self, config: DuckConfig) -> None:
        self.code = run_duck(config)

    def join(self, timeout: float = 10.0) -> int | None:
        self.thread.join(timeout)
        return self.code


def config(line: Line, url: str, **options: object) -> DuckConfig:
    return DuckConfig(root=line.root, pond=NAME, major=1, url=url, **options)  # type: ignore[arg-type]


def test_duck_process_runs_a_job_and_reports_it(line: Line, catchment: DuckCatchment) -> None:
    duck = spawn(line, catchment.url, "--duck-id", "d1", "--heartbeat", "0.1", key="s3cret")
    try:
        line.hold("b")
        catchment.wait_for_poll()
        posted = catchment.post(begin(1, F1))
        wait_until(lambda: bool(line.calls("b")))
        catchment.wait_for(lambda events: any(e.type == "heartbeat" for e in events))
        line.release("b")
        catchment.wait_for(lambda events: "run_completed:1" in [e.id for e in events])
        latency = line.calls("a")[0] - posted
        print(f"command posted -> first Ripple call over HTTP: {latency * 1000:.1f} ms")
        assert latency < 1.0  # includes importing the version's code the first time

        assert catchment.ids() == RUN_1
        beats = [e for e in catchment.events if e.type == "heartbeat"]
        assert beats and beats[0].busy is True
        for headers in catchment.headers:
            assert headers["Authorization"] == "Bearer s3cret"
            assert headers[DUCK_HEADER] == "d1"
        with open(f"/proc/{duck.pid}/cmdline", "rb") as cmdline:
            assert b"s3cret" not in cmdline.read()
        assert line.parquet("c").exists()

        catchment.post(Shutdown())
        assert duck.wait(10) == 0
    finally:
        line.release("b")
        if duck.poll() is None:
            duck.kill()
            duck.wait()


def test_second_duck_on_a_line_refuses_to_start(line: Line, catchment: DuckCatchment) -> None:
    lock = acquire_line_lock(line.layout.duck_lock(NAME, 1))  # this process is the first Duck
    try:
        second = spawn(line, catchment.url)
        _, stderr = second.communicate(timeout=20)
    finally:
        lock.close()
    assert second.returncode == 3
    assert "exactly one Duck may work a line" in stderr
    assert f"pid {os.getpid()}" in stderr  # it names the holder
    assert not line.layout.ledger(NAME, 1).exists()  # it opened nothing


def test_sigint_is_ignored_and_sigterm_stops_a_busy_duck_promptly(
    line: Line, catchment: DuckCatchment
) -> None:
    duck = spawn(line, catchment.url)
    try:
        line.hold("b")
        catchment.post(begin(1, F1))
        wait_until(lambda: bool(line.calls("b")))
        catchment.wait_for(lambda events: "ripple_started:1:b:0" in [e.id for e in events])
        duck.send_signal(signal.SIGINT)  # a Ctrl-C meant for the Catchment's terminal
        time.sleep(0.2)
        assert duck.poll() is None
        stopped = time.monotonic()
        duck.send_signal(signal.SIGTERM)
        assert duck.wait(30) == 0
        # b is still held, so nobody waited for it (generous: shared machines are slow)
        assert time.monotonic() - stopped < 15.0
        assert "ripple_succeeded:1:b:0" not in catchment.ids()
    finally:
        line.release("b")
        if duck.poll() is None:
            duck.kill()
            duck.wait()


def test_events_wait_out_an_outage_and_a_refusal(line: Line, catchment: DuckCatchment) -> None:
    catchment.refuse(503, 503, 502, 401, 503)
    duck = InProcess(config(line, catchment.url, poll_wait=1.0))
    catchment.post(begin(1, F1))
    catchment.wait_for(lambda events: "run_completed:1" in [e.id for e in events])
    assert catchment.refused == 5
    assert catchment.ids() == RUN_1
    assert sorted(catchment.received) == sorted(RUN_1)  # each sent once it got through
    catchment.post(Shutdown())
    assert duck.join() == 0
    ledger = Ledger(line.layout.ledger(NAME, 1))
    try:
        assert ledger.unsent_count() == 0
    finally:
        ledger.close()


def test_events_whose_answer_was_lost_are_sent_again(line: Line, catchment: DuckCatchment) -> None:
    """The Catchment takes a post and its answer never reaches the Duck (twice: the post is
    sent once more at once on a new connection, and that answer is lost too). The Duck keeps
    the events and posts them again until an answer reaches it."""
    catchment.link.next(EVENTS, Cut.LOSE, Cut.LOSE)
    duck = InProcess(config(line, catchment.url, poll_wait=1.0))
    catchment.post(begin(1, F1))
    catchment.wait_for(lambda events: "run_completed:1" in [e.id for e in events])
    assert catchment.ids() == RUN_1
    lost = catchment.batches[0]  # taken by the Catchment, and its answer lost
    assert lost and all(catchment.received.count(i) >= 2 for i in lost)
    ripples = catchment.served.line_status()["ripples"]
    assert [(r["name"], r["gen"], r["runs_completed"]) for r in ripples] == [
        ("a", 1, 1),
        ("b", 1, 1),
        ("c", 1, 1),
    ]
    catchment.post(Shutdown())
    assert duck.join() == 0
    ledger = Ledger(line.layout.ledger(NAME, 1))
    try:
        assert ledger.unsent_count() == 0
    finally:
        ledger.close()


def test_events_buffered_while_the_catchment_is_away_go_out_with_the_next_duck(
    line: Line, catchment: DuckCatchment
) -> None:
    catchment.refuse(*[503] * 1000)  # events never get through to this Duck
    duck = InProcess(config(line, catchment.url, poll_wait=1.0, flush=0.5))
    catchment.post(begin(1, F1))
    wait_until(lambda: line.parquet("c").exists())
    catchment.post(Shutdown())
    started = time.monotonic()
    assert duck.join(20) == 0
    assert time.monotonic() - started < 3  # the flush is bounded
    assert catchment.events == []

    catchment.link.mend()
    again = InProcess(config(line, catchment.url, poll_wait=1.0))
    catchment.wait_for(lambda events: "run_completed:1" in [e.id for e in events])
    assert catchment.ids() == RUN_1
    catchment.post(Shutdown())
    assert again.join() == 0


def test_a_finished_ripple_goes_out_with_the_event_after_it(
    line: Line, catchment: DuckCatchment
) -> None:
    """A Ripple succeeding lets nothing start, so its event does not cost a request of its own:
    it goes with the next Ripple's start, or with the run's end after the export."""
    duck = InProcess(config(line, catchment.url, poll_wait=1.0, hold=30.0))
    try:
        catchment.post(begin(1, F1))
        catchment.wait_for(lambda events: "run_completed:1" in [e.id for e in events])
        assert catchment.ids() == RUN_1
        posts = [[i for i in batch if type_of(i) != "heartbeat"] for batch in catchment.batches]
        assert all(type_of(batch[-1]) not in DEFERRABLE for batch in posts if batch), posts
    finally:
        catchment.post(Shutdown())
        assert duck.join() == 0


def _succeeded(ripple: str) -> DuckEvent:
    kind = RIPPLE_SUCCEEDED
    return DuckEvent(
        id=ripple_event_id(kind, 1, ripple, 0), type=kind, at=F1, seq=1, f=F1, ripple=ripple
    )


def test_a_finished_ripple_with_no_event_after_it_goes_out_alone(
    line: Line, catchment: DuckCatchment
) -> None:
    """Held back at most ``hold`` seconds while nothing follows, and not at all by a stop."""
    executor = line.executor()  # makes the line's folder and ledger
    ledger = line.ledger()
    senders: list[Sender] = []

    def sender(hold: float) -> Sender:
        client = DuckClient(catchment.url, NAME, 1, "d1")
        made = Sender(client, ledger.path, executor, threading.Event(), "pond@1", hold=hold)
        senders.append(made)
        made.start()
        return made

    try:
        waiting = sender(0.2)
        ledger.add_events([_succeeded("a")])
        waiting.wake.set()
        catchment.wait_for(lambda events: [e.id for e in events] == ["ripple_succeeded:1:a:0"])
        waiting.stop(1.0)

        stopping = sender(30.0)
        ledger.add_events([_succeeded("b")])
        stopping.wake.set()
        stopping.stop(5.0)
        assert catchment.ids()[-1] == "ripple_succeeded:1:b:0"
        assert catchment.batches[-1] == ["ripple_succeeded:1:b:0"]
    finally:
        for made in senders:
            made.stop(0.5)
            made.client.close()
        ledger.close()


def test_an_idle_duck_whose_catchment_is_gone_stops(line: Line, catchment: DuckCatchment) -> None:
    catchment.close()  # nothing listens there any more
    duck = InProcess(config(line, catchment.url, poll_wait=1.0, orphan=0.5, flush=0.2))
    assert duck.join(10) == 0


def test_a_busy_duck_outlives_its_catchment_until_its_work_is_done(
    line: Line, catchment: DuckCatchment
) -> None:
    line.hold("b")
    duck = InProcess(config(line, catchment.url, poll_wait=0.5, orphan=0.3, flush=0.2))
    catchment.post(begin(1, F1))
    wait_until(lambda: bool(line.calls("b")))
    catchment.close()
    time.sleep(1.0)
    assert duck.thread.is_alive()  # b is still running: the Duck stays
    line.release("b")
    assert duck.join(10) == 0
    assert line.parquet("c").exists()


def test_stalled_duck_reports_itself_and_exits_nonzero(
    line: Line, catchment: DuckCatchment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(RippleGraph, "due", lambda self, start_f: [])
    duck = InProcess(config(line, catchment.url, poll_wait=1.0, stall=0.3))
    catchment.post(begin(1, F1))
    assert duck.join() == 4
    (event,) = catchment.events
    assert event.type == "worker_error"
    assert event.error == "stalled: outstanding work but no Ripple running for 0.3 s"


def test_internal_error_is_reported_with_its_traceback(
    line: Line, catchment: DuckCatchment, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Ledger, *args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Ledger, "start_attempt", broken)
    duck = InProcess(config(line, catchment.url, poll_wait=1.0))
    catchment.post(begin(1, F1))
    assert duck.join() == 1
    (event,) = catchment.events
    assert event.type == "worker_error"
    assert event.error == "internal error: RuntimeError: disk on fire"
    assert event.traceback is not None and "raise RuntimeError" in event.traceback


def test_config_keeps_the_key_out_of_its_repr(tmp_path: Path) -> None:
    made = DuckConfig(root=tmp_path, pond=NAME, major=1, url="http://x", api_key="s3cret")
    assert "s3cret" not in repr(made)


def test_the_catchments_way_of_starting_a_duck_works(line: Line, catchment: DuckCatchment) -> None:
    """A forkserver child with DuckDB and the worker preloaded, ``run_duck`` as its target, the
    key in the (pickled) config and not in the environment."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["duckdb", "duckstring.duck.worker"])
    made = config(line, catchment.url, api_key="k3y", duck_id="forked", poll_wait=2.0)
    process = context.Process(target=run_duck, args=(made,), daemon=False)
    process.start()
    try:
        catchment.wait_for_poll()
        catchment.post(begin(1, F1))
        catchment.wait_for(lambda events: "run_completed:1" in [e.id for e in events])
        assert catchment.ids() == RUN_1
        assert {h["Authorization"] for h in catchment.headers} == {"Bearer k3y"}
        catchment.post(Shutdown())
        process.join(10)
        assert process.exitcode == 0
    finally:
        if process.is_alive():
            process.kill()
            process.join()


def test_a_duck_begins_the_runs_it_was_started_for_without_polling(
    line: Line, catchment: DuckCatchment
) -> None:
    line.hold("a")
    duck = InProcess(config(line, catchment.url, poll_wait=2.0, commands=(begin(1, F1),)))
    try:
        wait_until(lambda: bool(line.calls("a")))  # nothing was offered on the long poll
        catchment.wait_for_poll()
        # Its first poll names the run it holds (the Catchment drops it from the queue) …
        assert catchment.polls[0].get("held") == ["1"]
        # … and a Catchment that hands it over again anyway does not make it run twice.
        catchment.post(begin(1, F1))
        wait_until(lambda: not catchment.pending())
        wait_until(lambda: len(catchment.polls) >= 2)
        assert all("held" not in poll for poll in catchment.polls[1:])  # named once only
        line.release("a")
        catchment.wait_for(lambda events: "run_completed:1" in [e.id for e in events])
        assert len(line.calls("a")) == 1
        assert catchment.received == RUN_1  # one run, each event sent once
    finally:
        line.release("a")
        catchment.post(Shutdown())
        assert duck.join() == 0


def test_the_duck_dials_its_catchment_directly_whatever_proxies_are_set(
    catchment: DuckCatchment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy set for the machine's other traffic must not stand between a Duck and the
    Catchment it was started by (here one that is not there at all)."""
    for variable in ("ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")
    for variable in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(variable, raising=False)
    client = DuckClient(catchment.url, NAME, 1, "d1")
    try:
        client.send(b'{"events":[]}')
    finally:
        client.close()
    assert catchment.batches == [[]]


def test_trouble_below_http_is_retried_like_an_outage(monkeypatch: pytest.MonkeyPatch) -> None:
    """A poller or sender thread that died of an error it did not expect would leave its Duck
    deaf or mute; the client turns any failure to reach the Catchment into Unreachable."""

    def broken(*args: object, **kwargs: object) -> object:
        raise LookupError("unknown encoding: idna")

    monkeypatch.setattr(socket, "getaddrinfo", broken)
    client = DuckClient("http://localhost:9", NAME, 1, "d1")
    try:
        with pytest.raises(Unreachable, match="LookupError"):
            client.jobs()
        with pytest.raises(Unreachable, match="LookupError"):
            client.send(b'{"events":[]}')
    finally:
        client.close()
