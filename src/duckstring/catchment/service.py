"""One Catchment: its root, database, Ducks and driver, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from duckstring.catchment.alerts.sender import Delivery
from duckstring.catchment.alerts.service import Alerts
from duckstring.catchment.driver import Driver
from duckstring.catchment.fleet import IDLE_DUCK_BYTES, FleetRules, loading_for
from duckstring.catchment.forkserver import ForkserverLauncher
from duckstring.catchment.jobs import JobBoard
from duckstring.catchment.launcher import DUCK_NICENESS, Launcher, Node
from duckstring.catchment.metrics import CatchmentMetrics
from duckstring.catchment.placement import Placement
from duckstring.catchment.processes import lock_holder
from duckstring.catchment.store import Store
from duckstring.duck.protocol import POLL_WAIT, BeginRun
from duckstring.layout import RootLayout
from duckstring.pond.names import parse_line

log = logging.getLogger("duckstring.catchment")


class RootBusy(RuntimeError):
    """Another Catchment process already serves this root."""


def check_root_free(root: Path) -> None:
    """Raise :class:`RootBusy` if a Catchment serves ``root`` now (without taking it)."""
    holder = lock_holder(RootLayout(root).lock)
    if holder is not None:
        raise RootBusy(
            f"another Catchment ({holder or 'another process'}) already serves "
            f"{RootLayout(root).root}: run exactly one Catchment process per root"
        )


#: However much memory there is, at most this many idle Ducks wait at once.
LINGER_CEILING = 128
#: The least an idle Duck was measured to hold (PSS of a Duck whose line has one small table).
SMALLEST_DUCK_BYTES = 12 * 1024 * 1024


def default_linger_bytes() -> int:
    """How much memory idle Ducks may hold together: a sixteenth of the machine's, so a
    repeated Pulse over a wide graph finds its Ducks waiting."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 16
    except (ValueError, OSError):
        return 16 * IDLE_DUCK_BYTES


def default_linger_max() -> int:
    """How many idle Ducks may stay warm at most: as many as the memory budget holds at the
    usual size of a Duck (4 to 128); each one's measured memory decides within that."""
    return max(4, min(LINGER_CEILING, default_linger_bytes() // SMALLEST_DUCK_BYTES))


@dataclass
class CatchmentConfig:
    """How a Catchment runs. Timeouts are settings so tests can shrink them."""

    root: Path
    api_key: str | None = None
    #: Where Ducks dial back; learned from the first request when not given.
    url: str | None = None
    duck_poll_wait: float = POLL_WAIT
    duck_heartbeat: float = 10.0
    duck_silence: float = 60.0
    duck_stall: float = 30.0
    #: Seconds a Duck goes on without an answer from its Catchment before it stops, once it
    #: has no work left (a Duck left running by a stop, or after a crash, that nobody adopts).
    duck_orphan: float = 120.0
    #: Ducks that may be started ahead of their line's first run, waiting, at once.
    duck_prestart: int = 16
    #: Spare Ducks kept forked and started, waiting to be given a line (0: fork on demand).
    duck_spares: int = 2
    #: Seconds an idle Duck is kept for its line's next run, and how many idle Ducks may wait.
    duck_linger: float = 60.0
    duck_linger_max: int = field(default_factory=default_linger_max)
    #: Bytes the idle Ducks may hold together (each one's memory read while it idles).
    duck_linger_bytes: int = field(default_factory=default_linger_bytes)
    #: Seconds one query over published tables may run before it is stopped.
    query_timeout: float = 30.0
    #: How much lower the Ducks' CPU priority is than the Catchment's (0 to 19).
    duck_niceness: int = DUCK_NICENESS
    #: Whether a git deploy may clone a local path or ``file://`` URL: it reads this machine's
    #: disk, so only a Catchment on the author's own machine allows it (the CLI's do).
    allow_local_git: bool = False
    #: Seconds one alert delivery attempt may take (connect and read, each), how many
    #: attempts a notification gets, and the delay before the first retry (doubling).
    alert_timeout: float = 10.0
    alert_attempts: int = 6
    alert_backoff: float = 5.0
    #: Seconds between two rounds of forecasts for forecast-breach alerts, at least.
    alert_forecast_every: float = 1.0
    #: How Ducks are started: ``local`` (forked on this machine) or ``ray`` (actors on a Ray
    #: cluster, at ``ray_address``: ``auto``, an address, or None to start a local Ray).
    launcher: str = "local"
    ray_address: str | None = None


class Catchment:
    """Everything one running Catchment owns."""

    def __init__(self, config: CatchmentConfig) -> None:
        self.config = config
        self.layout = RootLayout(config.root)
        self.url = config.url.rstrip("/") if config.url else None
        self.store: Store | None = None
        self.driver: Driver | None = None
        self.launcher: Launcher | None = None
        #: Each line's placement and the node its last Duck ran on (the store keeps both).
        self.placements: dict[str, Placement] = {}
        self.last_nodes: dict[str, str] = {}
        self.board = JobBoard()
        self.alerts: Alerts | None = None
        #: ``GET /metrics``: its timings are the driver's, its request latencies the app's.
        self.metrics = CatchmentMetrics()
        self._lock_file: IO[str] | None = None

    def _lock_root(self) -> None:
        self.layout.root.mkdir(parents=True, exist_ok=True)
        handle = open(self.layout.lock, "a+")  # noqa: SIM115 - held for the process lifetime
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RootBusy(
                f"another Catchment ({holder}) already serves {self.layout.root}: "
                "run exactly one Catchment process per root"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._lock_file = handle

    def duck_config(self, line: str, version: str | None, commands: tuple[BeginRun, ...]) -> object:
        from duckstring.duck.worker import DuckConfig

        name, major = parse_line(line)
        return DuckConfig(
            root=self.layout.root,
            pond=name,
            major=major,
            url=self.url or "",
            api_key=self.config.api_key,
            poll_wait=self.config.duck_poll_wait,
            heartbeat=self.config.duck_heartbeat,
            stall=self.config.duck_stall,
            orphan=self.config.duck_orphan,
            version=version,
            commands=commands,
        )

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._lock_root()
        self.store = Store(self.layout.database)
        self.layout.ponds.mkdir(parents=True, exist_ok=True)
        for line, (placement, node) in self.store.placements().items():
            self.placements[line] = placement
            if node is not None:
                self.last_nodes[line] = node
        self.launcher = self._launcher(loop)
        self.driver = Driver(
            self.store,
            self.launcher,
            self.board,
            can_spawn=lambda: self.url is not None,
            rules=FleetRules(
                prestart=self.config.duck_prestart,
                loading=loading_for(os.cpu_count() or 1),
                linger=self.config.duck_linger,
                linger_max=self.config.duck_linger_max,
                linger_bytes=self.config.duck_linger_bytes,
                silence=self.config.duck_silence,
            ),
            timings=self.metrics.timings,
        )
        self.alerts = Alerts(
            self.layout.database,
            Delivery(
                timeout=self.config.alert_timeout,
                attempts=self.config.alert_attempts,
                backoff=self.config.alert_backoff,
            ),
            self.driver.clock,
            store=self.store,
            forecast_every=self.config.alert_forecast_every,
        )
        self.alerts.start()
        self.driver.on_change = self.alerts.seen
        self.driver.start(loop)

    def _launcher(self, loop: asyncio.AbstractEventLoop) -> Launcher:
        if self.config.launcher == "ray":
            from duckstring.catchment.ray_launcher import RayLauncher

            assert self.store is not None
            return RayLauncher(
                self.duck_config,
                self.store.catchment_id(),
                address=self.config.ray_address,
                placement_of=lambda line: self.placements.get(line, Placement()),
                last_node=self.last_nodes.get,
                on_placed=lambda line, node: self._placed_soon(loop, line, node),
                on_waiting=lambda line: self._review_soon(loop),
            )
        launcher = ForkserverLauncher(
            self.duck_config,
            lambda line: self.layout.duck_lock(*parse_line(line)),
            niceness=self.config.duck_niceness,
            spares=self.config.duck_spares,
        )
        launcher.warm()
        try:
            # Before the first request is served: the forkserver loads DuckDB (~0.5 s) while
            # the first spares are forked, so the first runs find their Ducks waiting instead
            # of queueing behind that load.
            launcher.replenish()
        except Exception as error:  # spares only make Ducks start sooner
            log.warning("could not fork spare Ducks: %s", error)
        return launcher

    def _placed_soon(self, loop: asyncio.AbstractEventLoop, line: str, node: Node) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(self._placed, line, node)

    def _review_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        """A Duck waits for a node: the fleet looks again (idle Ducks may give way to it)."""

        def review() -> None:
            if self.driver is not None:
                self.driver.fleet.review()

        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(review)

    def _placed(self, line: str, node: Node) -> None:
        """A line's new Duck was placed on ``node``: its next one prefers it, and its silence
        counts from now (waiting for a node is not being silent; a cluster may take a while
        to free or add one)."""
        if self.driver is not None:
            self.driver.fleet.heard(line)
        if self.last_nodes.get(line) != node.id and self.store is not None:
            self.last_nodes[line] = node.id
            with contextlib.suppress(Exception):  # a closed store: the Catchment is stopping
                self.store.set_node(line, node.id)

    def set_placement(self, line: str, placement: Placement) -> None:
        """The operator's placement of ``line``, kept; its next Duck starts with it."""
        assert self.store is not None
        self.store.set_placement(line, placement)
        self.placements[line] = placement

    def learn_url(self, url: str) -> None:
        """The first request served tells where this Catchment is reachable."""
        if self.url is None:
            self.url = url.rstrip("/")
            if self.driver is not None:
                self.driver.fleet.review()  # the Ducks that waited for the URL start

    def stop(self) -> None:
        """Stop serving: idle Ducks and spares stop; Ducks with work in flight go on."""
        at_work: set[str] = set()
        if self.driver is not None:
            self.driver.stop()
            at_work = self.driver.fleet.at_work()
        if self.launcher is not None:
            left = self.launcher.stop_all(leave=at_work)
            if left:
                log.warning(
                    "%s with work in flight left running: %s. Each finishes its work, keeps "
                    "its events and reports them to the next Catchment started on %s (with "
                    "no Catchment, it stops %g s after its work is done).",
                    f"{len(left)} Duck{'' if len(left) == 1 else 's'}",
                    ", ".join(f"{line} ({where})" for line, where in left.items()),
                    self.layout.root,
                    self.config.duck_orphan,
                )
        if self.alerts is not None:
            self.alerts.stop()
        if self.store is not None:
            self.store.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
