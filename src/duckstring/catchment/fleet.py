"""The Duck fleet as a policy: which Ducks to start, keep and stop.

One :class:`DuckState` per line's Duck, and rules over it, the time and a read-only view of the
Catchment (:class:`~duckstring.catchment.fleet_view.FleetView`). The adapter
(:mod:`~duckstring.catchment.fleet_adapter`) tells :class:`Fleet` what happened (a run was
posted for a line, a Duck started, spoke, exited, was measured) and carries out the plain
actions it returns; :meth:`Fleet.decide` also says when it must be asked again. Nothing here
reads a clock, does I/O or starts a thread, so every rule is tested in simulated time
(``tests/catchment/test_fleet.py``).

The rules:

- A run posted for a line gets the line's Duck: the one it has, or a new one (a spare if one
  waits). No Duck starts before the Catchment knows the URL its Ducks dial back to.
- **Start ahead**: the Ducks of lines with demand and no run yet start before their runs begin,
  nearest the Inlets first, at most ``prestart`` of them waiting at once and one fewer loading
  at a time than there are cores, so a Sink's Duck polls by the time its Sources finish. None
  starts for a line that nothing can reach soon (a fault on the way, a closed window).
- **Linger**: a Duck with nothing to do (no run, demand, standing trigger, queued run, and no
  standing trigger downstream) stays ``linger`` seconds for its line's next run, then is told
  to shut down. At most ``linger_max`` linger, holding at most ``linger_bytes`` together by
  each one's measured size: the longest idle go first.
- **Spares** are started again only when no run is in flight and no Duck is starting: in a
  burst of new Ducks they would only take CPU from the Ducks at work.
- **Silence**: a Duck silent for ``silence`` seconds with a run in flight is killed and the
  line's newest run fails.
- **Exits**: a Duck that exits unasked fails its line's work with a message; a run still
  queued gets a new Duck. A Duck that exits because another holds its line (one that outlived a
  restart) makes the Catchment adopt that one: there is never a second Duck beside it.
- **A graceful stop** leaves the Ducks with work in flight running (:meth:`Fleet.at_work`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from duckstring.duck.worker import EXIT_LOCKED

if TYPE_CHECKING:
    from duckstring.catchment.fleet_view import FleetView

#: What an idle Duck holds (PSS) when its memory cannot be read: a forked interpreter, DuckDB,
#: its line's database and what DuckDB keeps cached of it (14-40 MiB measured).
IDLE_DUCK_BYTES = 25 * 1024 * 1024


class Phase(Enum):
    """Where a line's Duck is in its life."""

    #: Asked for: being forked, or a spare being bound to the line.
    STARTING = "starting"
    #: Its process runs and has not polled yet: it is loading (CPU-bound, ~0.1 s).
    LOADING = "loading"
    #: It polls: it has work, or is kept warm for its line.
    WARM = "warm"
    #: Nothing to do: it lingers for its line's next run.
    IDLE = "idle"
    #: Told to shut down; its exit is expected.
    STOPPING = "stopping"
    #: Killed; its exit is expected.
    KILLED = "killed"
    #: It exited because another Duck holds its line: that one is being adopted.
    ADOPTING = "adopting"


#: The phases of a Duck on its way out: told to go, killed, or gone.
LEAVING = frozenset({Phase.STOPPING, Phase.KILLED, Phase.ADOPTING})


@dataclass
class DuckState:
    """What the fleet knows of one line's Duck."""

    phase: Phase
    #: When it last spoke (polled, posted events), or was started or adopted.
    heard: float
    #: Started ahead of its line's first run, and not given a run yet.
    ahead: bool = False
    #: Taken on after a restart: not started by this Catchment.
    adopted: bool = False
    #: IDLE: since when, and its memory as measured while it idles (None: not yet).
    idle_since: float = 0.0
    size: int | None = None
    #: ADOPTING: the line's failure if no Duck is found to adopt (None: its exit was expected).
    failure: str | None = None


# -- actions -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spawn:
    """Start the Duck of ``line``: bind a waiting spare, else fork one."""

    line: str


@dataclass(frozen=True, slots=True)
class Shutdown:
    """Tell the idle Duck of ``line`` to shut down."""

    line: str


@dataclass(frozen=True, slots=True)
class Kill:
    """End the Duck of ``line`` now."""

    line: str


@dataclass(frozen=True, slots=True)
class Adopt:
    """Take on the Duck that holds ``line`` (it outlived the previous Catchment), and report
    back :meth:`Fleet.adopted` or :meth:`Fleet.not_adopted`."""

    line: str


@dataclass(frozen=True, slots=True)
class Measure:
    """Read the memory of these idle Ducks, and report back :meth:`Fleet.measured`."""

    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Replenish:
    """Start spare Ducks until as many wait as the launcher keeps."""


@dataclass(frozen=True, slots=True)
class Fail:
    """Fail the newest run of ``line`` (and what its Duck was running) with ``message``."""

    line: str
    message: str


Action = Spawn | Shutdown | Kill | Adopt | Measure | Replenish | Fail


@dataclass
class Decision:
    """What :meth:`Fleet.decide` returns: actions to carry out in order, and a time."""

    actions: list[Action] = field(default_factory=list)
    #: When to ask :meth:`Fleet.decide` again at the latest (None: only when something happens).
    wake_at: float | None = None


@dataclass(frozen=True)
class FleetRules:
    """The numbers the rules use (the ``DUCKSTRING_DUCK_*`` settings)."""

    #: Ducks started ahead of their line's first run that may wait at once.
    prestart: int = 16
    #: Ducks started ahead that may load at once: one fewer than there are cores, leaving a
    #: core to the Ducks with runs.
    loading: int = 1
    #: Seconds an idle Duck stays for its line's next run, and how many may.
    linger: float = 60.0
    linger_max: int = 16
    #: Memory the idle Ducks may hold together (None: no limit but the count).
    linger_bytes: int | None = None
    #: Seconds a Duck with a run in flight may stay silent before its run fails.
    silence: float = 60.0


def loading_for(cores: int) -> int:
    """How many Ducks started ahead may load at once on a machine with ``cores`` cores."""
    return max(1, cores - 1)


def exit_message(line: str, code: int | None, *, adopted: bool) -> str:
    """Why the work of ``line`` failed, its Duck having exited unasked with ``code``."""
    if adopted:
        return f"the Duck of {line} (adopted after a restart) exited"
    if code is not None and code < 0:
        return f"the Duck of {line} was killed by signal {-code}"
    return f"the Duck of {line} exited with code {code}"


class Fleet:
    """The state of every line's Duck, and the rules that move it (see the module)."""

    def __init__(self, rules: FleetRules) -> None:
        self.rules = rules
        self.ducks: dict[str, DuckState] = {}
        #: Lines a run was posted for, or whose Duck exited: each gets a Duck while a run
        #: waits for one (in order, once Ducks may start).
        self._wanted: dict[str, None] = {}

    # -- what happened ---------------------------------------------------------------------------

    def run_posted(self, line: str) -> None:
        """A ``begin_run`` was posted for the line's Duck."""
        self._wanted[line] = None
        duck = self.ducks.get(line)
        if duck is not None:
            duck.ahead = False

    def shutdown_withdrawn(self, line: str) -> None:
        """The shutdown told to the line's idle Duck was taken back before it read it (a run
        was posted): it stays."""
        duck = self.ducks.get(line)
        if duck is not None and duck.phase is Phase.STOPPING:
            duck.phase = Phase.WARM

    def kill(self, line: str) -> list[Action]:
        """The engine stops the line's worker (a kill, or its runs were abandoned)."""
        duck = self.ducks.get(line)
        if duck is None or duck.phase in (Phase.STARTING, Phase.ADOPTING):
            return []
        duck.phase = Phase.KILLED
        duck.ahead = False
        return [Kill(line)]

    def started(self, line: str, now: float) -> None:
        """The line's Duck runs (forked, or a spare bound to it)."""
        duck = self.ducks.setdefault(line, DuckState(Phase.STARTING, now))
        duck.phase = Phase.LOADING
        duck.heard = now

    def start_failed(self, line: str, message: str | None, view: FleetView) -> list[Action]:
        """The line's Duck did not start (``message``: why; None when the Catchment is
        stopping). Work it was started for fails."""
        self.ducks.pop(line, None)
        if message is not None and view.has_runs(line):
            return [Fail(line, message)]
        return []

    def polled(self, line: str, now: float) -> bool:
        """The line's Duck polled for work. True when that changes a decision (it finished
        loading): ask :meth:`decide`."""
        duck = self.ducks.get(line)
        if duck is None:
            return False
        duck.heard = now
        if duck.phase is Phase.LOADING:
            duck.phase = Phase.WARM
            return True
        return False

    def heard(self, line: str, now: float) -> None:
        """The line's Duck posted events."""
        duck = self.ducks.get(line)
        if duck is not None:
            duck.heard = now

    def exited(
        self,
        line: str,
        code: int | None,
        *,
        adopted: bool,
        now: float,
        view: FleetView,
        reason: str | None = None,
    ) -> list[Action]:
        """The line's Duck ended with ``code`` (None: unknown); ``reason`` says why when the
        launcher knows (its node left the cluster), and is the failure's message then."""
        duck = self.ducks.pop(line, None)
        if duck is None:
            return []
        failure = (
            None if duck.phase in LEAVING else reason or exit_message(line, code, adopted=adopted)
        )
        if code == EXIT_LOCKED and view.knows(line):
            # Another Duck holds the line: one that outlived a restart. Adopt it.
            self.ducks[line] = DuckState(Phase.ADOPTING, now, failure=failure)
            return [Adopt(line)]
        return self._failed(line, failure, view)

    def adopted(self, line: str, now: float) -> None:
        """A Duck that outlived the previous Catchment works the line: it is this one's."""
        self.ducks[line] = DuckState(Phase.WARM, now, adopted=True)

    def not_adopted(self, line: str, view: FleetView) -> list[Action]:
        """No Duck was found to adopt for the line after all."""
        duck = self.ducks.pop(line, None)
        return self._failed(line, None if duck is None else duck.failure, view)

    def measured(self, sizes: dict[str, int | None]) -> None:
        """The memory of idle Ducks, as read (None: it could not be read)."""
        for line, size in sizes.items():
            duck = self.ducks.get(line)
            if duck is not None and duck.phase is Phase.IDLE:  # the reading describes it
                duck.size = size or IDLE_DUCK_BYTES

    def _failed(self, line: str, failure: str | None, view: FleetView) -> list[Action]:
        """The line's Duck is gone: its work fails with ``failure`` (None: it went as asked),
        and a run still queued for it gets a new Duck."""
        self._wanted[line] = None
        if failure is not None and view.has_runs(line):
            return [Fail(line, failure)]
        return []

    # -- what to do ------------------------------------------------------------------------------

    def decide(self, now: float, view: FleetView) -> Decision:
        """What to do now, and when to be asked again at the latest."""
        decision = Decision()
        actions = decision.actions
        self._start_wanted(now, view, actions)
        rules = self.rules
        idle: list[tuple[float, str]] = []
        warm: Collection[str] | None = None
        quiet = True
        loading = ahead = unplaced = stopping = 0
        silent_at: float | None = None
        for line, duck in self.ducks.items():
            phase = duck.phase
            ahead += duck.ahead
            if phase is Phase.STARTING:
                loading += 1
                quiet = False
                continue
            if phase is Phase.ADOPTING:
                continue
            runs = view.has_runs(line)
            if runs and view.is_running(line):
                if now - duck.heard >= rules.silence:
                    waiting = view.waiting_for_node(line)
                    message = (
                        f"the Duck of {line} was silent for {rules.silence:g} s mid-run"
                        if waiting is None
                        else f"the Duck of {line} was not placed within {rules.silence:g} s: "
                        f"{waiting}"
                    )
                    actions.append(Kill(line))
                    actions.append(Fail(line, message))
                    duck.phase = phase = Phase.KILLED
                    duck.heard = now
                due = duck.heard + rules.silence
                silent_at = due if silent_at is None else min(silent_at, due)
            if phase is Phase.LOADING:
                loading += 1
                quiet = False
                if view.waiting_for_node(line) is not None:
                    unplaced += 1
                continue
            if runs and phase is not Phase.STOPPING:
                quiet = False
            stopping += phase is Phase.STOPPING
            if phase is not Phase.WARM and phase is not Phase.IDLE:
                continue
            if not view.knows(line):
                continue
            if runs or view.has_trigger(line) or view.has_demand(line) or view.run_queued(line):
                busy = True
            else:
                if warm is None:
                    warm = view.kept_warm()
                busy = line in warm
            if busy:
                if phase is Phase.IDLE:
                    duck.phase = Phase.WARM
                    duck.size = None
                continue
            if phase is not Phase.IDLE:
                duck.phase = Phase.IDLE
                duck.idle_since = now
            idle.append((duck.idle_since, line))
        # A Duck stopping already makes way for one that waits for a node.
        give_way = max(0, unplaced - stopping)
        linger_at, stopped_ahead = self._stop_idle(now, idle, quiet, actions, give_way)
        if quiet and view.spares_short():
            actions.append(Replenish())
        self._start_ahead(now, view, loading, ahead - stopped_ahead, actions)
        decision.wake_at = _earliest(linger_at, silent_at)
        return decision

    def at_work(self, view: FleetView) -> set[str]:
        """The lines whose Duck holds work in flight (a run begun and not yet reported, or a
        run's command still queued for it) and is not on its way out: a graceful stop leaves
        these Ducks running, and they report to the next Catchment on the root."""
        return {
            line
            for line, duck in self.ducks.items()
            if duck.phase not in LEAVING and (view.is_running(line) or view.run_queued(line))
        }

    def _start_wanted(self, now: float, view: FleetView, actions: list[Action]) -> None:
        """A Duck for each line that has a run waiting and no Duck (a stopping one is followed
        by a new one once it exits)."""
        if not self._wanted:
            return
        can_start = view.can_start()
        for line in list(self._wanted):
            if line in self.ducks or not view.run_queued(line):
                del self._wanted[line]
            elif can_start:
                del self._wanted[line]
                self.ducks[line] = DuckState(Phase.STARTING, now)
                actions.append(Spawn(line))

    def _stop_idle(
        self,
        now: float,
        idle: list[tuple[float, str]],
        quiet: bool,
        actions: list[Action],
        unplaced: int = 0,
    ) -> tuple[float | None, int]:
        """Shut down the idle Ducks that may not linger, or have lingered long enough, and
        the ``unplaced`` longest idle of the others: an idle Duck on a cluster gives way to a
        Duck that waits for a node (it may hold what that one needs). Returns when the first
        of the others will have lingered enough, and how many stopped were started ahead."""
        idle.sort()
        kept = self._lingering(idle, quiet, actions)
        if unplaced:
            kept -= set([line for _, line in idle if line in kept][:unplaced])
        linger_at: float | None = None
        stopped_ahead = 0
        for since, line in idle:
            if line in kept and now - since < self.rules.linger:
                linger_at = since + self.rules.linger if linger_at is None else linger_at
                continue
            duck = self.ducks[line]
            stopped_ahead += duck.ahead
            duck.phase = Phase.STOPPING
            duck.ahead = False
            duck.size = None
            actions.append(Shutdown(line))
        return linger_at, stopped_ahead

    def _lingering(
        self, idle: list[tuple[float, str]], measure: bool, actions: list[Action]
    ) -> set[str]:
        """The idle Ducks that may stay (``idle`` is oldest first): the most recently idle,
        as many as ``linger_max`` allows and their memory fits ``linger_bytes``.

        Each Duck's memory is measured once while it idles (what DuckDB keeps cached depends
        on the data), only when the idle Ducks might not fit, and only when ``measure`` (no
        run in flight, no Duck starting). Until then a Duck not yet measured counts against
        ``linger_max`` only, so a burst of runs is not slowed."""
        budget = self.rules.linger_bytes
        if measure and budget is not None and len(idle) * IDLE_DUCK_BYTES * 2 > budget:
            unmeasured = tuple(line for _, line in idle if self.ducks[line].size is None)
            if unmeasured:
                actions.append(Measure(unmeasured))
        kept: set[str] = set()
        held = 0
        for _, line in reversed(idle):
            size = self.ducks[line].size or 0
            if len(kept) >= self.rules.linger_max:
                break
            if budget is not None and held + size > budget:
                break
            kept.add(line)
            held += size
        return kept

    def _start_ahead(
        self, now: float, view: FleetView, loading: int, ahead: int, actions: list[Action]
    ) -> None:
        """Start the Ducks of lines that will run soon, before their runs begin."""
        room = min(self.rules.prestart - ahead, self.rules.loading - loading)
        if room <= 0 or not view.can_start():
            return
        candidates = [line for line in view.awaiting_runs() if line not in self.ducks]
        if not candidates:
            return
        stuck: dict[str, bool] = {}
        levels: dict[str, int] = {}
        chosen = sorted(
            (c for c in candidates if not _stuck(c, view, stuck)),
            key=lambda c: (_level(c, view, levels), c),
        )
        for line in chosen[:room]:
            self.ducks[line] = DuckState(Phase.STARTING, now, ahead=True)
            actions.append(Spawn(line))


def _stuck(line: str, view: FleetView, memo: dict[str, bool]) -> bool:
    """Nothing can reach ``line`` soon: a fault on the way, or a closed window."""
    if line in memo:
        return memo[line]
    memo[line] = True  # a cycle cannot be deployed; this only guards the recursion
    result = (
        view.is_faulted(line)
        or view.window_closed(line)
        or any(
            _stuck(source, view, memo)
            for source, required in view.upstream(line)
            if required and view.has_demand(source)
        )
    )
    memo[line] = result
    return result


def _level(line: str, view: FleetView, memo: dict[str, int]) -> int:
    """How far ``line`` is from the Inlets (0: an Inlet)."""
    if line not in memo:
        memo[line] = 0
        memo[line] = 1 + max((_level(s, view, memo) for s, _ in view.upstream(line)), default=-1)
    return memo[line]


def _earliest(*times: float | None) -> float | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None
