"""The Ripples of one Pond line: the push-only rules a Duck runs, plus the pull flags the
Catchment mirrors.

A Duck drives a Pond Run with this graph alone: the Pond stamps every Ripple with the run's
freshness (:meth:`RippleGraph.stamp`), :meth:`RippleGraph.due` says which Ripple Runs can start,
and :meth:`RippleGraph.finish` reports when the Pond's leaves complete a run. The Catchment keeps
the same graph per Pond as a mirror fed by the Duck's events, and uses its pull flags to re-arm
the Pond from the bottom (see ``docs/concepts/demand.md``, "Pull reaches a Ripple").
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from duckstring.engine.clock import NEVER, Micros


class TopologyError(ValueError):
    """Ripples that do not form an acyclic graph of known names."""


@dataclass(frozen=True)
class RippleSpec:
    """One Ripple as deployed code declares it."""

    name: str
    parents: tuple[str, ...] = ()


class RippleNode:
    """State of one Ripple: freshness started and completed, demand, and whether it runs now."""

    __slots__ = (
        "busy",
        "children",
        "end_f",
        "force_f",
        "forcing",
        "gen",
        "has_pull",
        "is_leaf",
        "is_root",
        "name",
        "parents",
        "retrying",
        "runs_completed",
        "start_f",
        "targets",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.parents: list[RippleNode] = []
        self.children: list[RippleNode] = []
        self.is_root = True
        self.is_leaf = True
        self.start_f: Micros = NEVER
        self.end_f: Micros = NEVER
        self.has_pull = False
        self.targets: list[Micros] = []
        self.busy = False
        #: Freshness of a forced re-run this Ripple still owes, if any.
        self.force_f: Micros | None = None
        #: True while the run that pays a forced re-run is executing.
        self.forcing = False
        #: Ripple Runs started and completed (an immediate retry is the same Ripple Run).
        self.gen = 0
        self.runs_completed = 0
        #: The last attempt raised and the run's budget pays for another: the next start is a
        #: retry, not a new Ripple Run.
        self.retrying = False

    def source_f(self, pond_start_f: Micros) -> Micros:
        if self.is_root:
            return pond_start_f
        return min(parent.end_f for parent in self.parents)

    def push(self, target: Micros) -> bool:
        """A push target reaches this Ripple; True when it was added."""
        if target <= self.end_f or target in self.targets:
            return False
        insort(self.targets, target)
        return True


@dataclass(frozen=True)
class RetryRipple:
    """A failed attempt that the run's immediate budget pays for: run ``ripple`` again at ``f``."""

    ripple: str
    f: Micros
    attempt: int


@dataclass(frozen=True)
class RunFailure:
    """A failed attempt with no budget left: the Pond Run at ``f`` fails."""

    ripple: str
    f: Micros
    attempt: int


def order_topologically(specs: Sequence[RippleSpec]) -> list[RippleSpec]:
    """The Ripples in dependency order (stable for independent ones); errors on bad graphs."""
    by_name: dict[str, RippleSpec] = {}
    for spec in specs:
        if spec.name in by_name:
            raise TopologyError(f"two Ripples are named {spec.name!r}")
        by_name[spec.name] = spec
    for spec in specs:
        for parent in spec.parents:
            if parent not in by_name:
                raise TopologyError(f"Ripple {spec.name!r} names unknown parent {parent!r}")
            if parent == spec.name:
                raise TopologyError(f"Ripple {spec.name!r} is its own parent")
    ordered: list[RippleSpec] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(spec: RippleSpec, path: list[str]) -> None:
        mark = state.get(spec.name)
        if mark == 2:
            return
        if mark == 1:
            cycle = [*path[path.index(spec.name) :], spec.name]
            raise TopologyError("Ripples form a cycle: " + " -> ".join(cycle))
        state[spec.name] = 1
        for parent in spec.parents:
            visit(by_name[parent], [*path, spec.name])
        state[spec.name] = 2
        ordered.append(spec)

    for spec in specs:
        visit(spec, [])
    return ordered


class RippleGraph:
    """The Ripples of one Pond line and the rules that move them."""

    def __init__(self, specs: Iterable[RippleSpec]) -> None:
        ordered = order_topologically(list(specs))
        if not ordered:
            raise TopologyError("a Pond needs at least one Ripple")
        self.nodes: dict[str, RippleNode] = {spec.name: RippleNode(spec.name) for spec in ordered}
        for spec in ordered:
            node = self.nodes[spec.name]
            for parent_name in spec.parents:
                parent = self.nodes[parent_name]
                node.parents.append(parent)
                parent.children.append(node)
        for node in self.nodes.values():
            node.is_root = not node.parents
            node.is_leaf = not node.children
        self.order: list[RippleNode] = [self.nodes[spec.name] for spec in ordered]
        self.leaves = [node for node in self.order if node.is_leaf]
        #: Immediate-retry budget left per Pond Run (keyed by the run's freshness).
        self.budgets: dict[Micros, int] = {}
        #: Attempts made per (run freshness, ripple).
        self.attempts: dict[tuple[Micros, str], int] = {}

    # -- shape ---------------------------------------------------------------------------------

    def specs(self) -> list[RippleSpec]:
        return [RippleSpec(n.name, tuple(p.name for p in n.parents)) for n in self.order]

    def edges(self) -> list[tuple[str, str]]:
        return [(parent.name, node.name) for node in self.order for parent in node.parents]

    def reshaped(self, specs: Iterable[RippleSpec]) -> RippleGraph:
        """A graph of new code that keeps the state of the Ripples it shares with this one."""
        graph = RippleGraph(specs)
        for name, node in graph.nodes.items():
            old = self.nodes.get(name)
            if old is not None:
                node.start_f, node.end_f = old.end_f, old.end_f
                node.has_pull = old.has_pull
                node.gen, node.runs_completed = old.gen, old.runs_completed
        return graph

    def copy_push_state(self, other: RippleGraph) -> None:
        """Take the push-side state of ``other``, a graph of the same Ripples: what a Duck
        holds when the Catchment's mirror ``other`` is right (its pull flags stay behind: a
        Duck runs no pull)."""
        for node in self.order:
            source = other.nodes[node.name]
            node.start_f, node.end_f = source.start_f, source.end_f
            node.targets = list(source.targets)
            node.busy, node.retrying = source.busy, source.retrying
            node.force_f, node.forcing = source.force_f, source.forcing
            node.gen, node.runs_completed = source.gen, source.runs_completed
        self.budgets = dict(other.budgets)
        self.attempts = dict(other.attempts)

    # -- push ----------------------------------------------------------------------------------

    def stamp(self, f: Micros, immediate_retries: int = 0) -> None:
        """A Pond Run at ``f`` begins: every Ripple gets the push target ``f``."""
        for node in self.order:
            node.push(f)
        self.budgets[f] = immediate_retries

    def force(self, f: Micros, immediate_retries: int = 0) -> None:
        """A forced run: every Ripple executes again at ``f`` although it already holds it."""
        for node in self.order:
            node.force_f = f
        self.budgets[f] = immediate_retries

    def due(self, pond_start_f: Micros, *, pull: bool = True) -> list[tuple[str, Micros]]:
        """Ripple Runs that may start now, each with the freshness it would take. Without
        ``pull``, only those a Duck starts: pushed by a Pond Run (a target or a forced re-run)."""
        ready: list[tuple[str, Micros]] = []
        for node in self.order:
            if node.busy:
                continue
            source_f = node.source_f(pond_start_f)
            if (
                (node.targets and source_f >= node.targets[0])
                or (pull and node.has_pull and source_f > node.start_f)
                or (
                    node.force_f is not None
                    and source_f >= node.force_f
                    and all(p.force_f is None and not p.forcing for p in node.parents)
                )
            ):
                ready.append((node.name, source_f))
        return ready

    def start(self, name: str, f: Micros) -> bool:
        """A Ripple Run starts at ``f``. True when the pull it held reached the Pond (a root)."""
        node = self.nodes[name]
        node.busy = True
        if node.retrying:
            node.retrying = False
        else:
            node.gen += 1
        if f > node.start_f:
            node.start_f = f
        if node.targets and node.targets[0] <= f:
            node.targets = [t for t in node.targets if t > f]
        if node.force_f is not None and f >= node.force_f:
            node.force_f = None
            node.forcing = True
        reached_pond = False
        if node.has_pull:
            node.has_pull = False
            for parent in node.parents:
                reached_pond |= self.pull_reach(parent)
        return reached_pond

    def finish(self, name: str) -> None:
        """A Ripple Run completes successfully."""
        node = self.nodes[name]
        if node.busy:
            node.runs_completed += 1
        node.busy = False
        node.forcing = False
        node.end_f = node.start_f

    def fail(self, name: str) -> RetryRipple | RunFailure:
        """A Ripple Run raised: retry it while its run's immediate budget lasts, else the run
        fails."""
        f = self.nodes[name].start_f
        key = (f, name)
        attempt = self.attempts.get(key, 0)
        self.attempts[key] = attempt + 1
        left = self.budgets.get(f, 0)
        if left > 0:
            self.budgets[f] = left - 1
            self.abort(name, retry=True)
            return RetryRipple(name, f, attempt + 1)
        self.abort(name, retry=False)
        self.drop_runs_through(f)
        return RunFailure(name, f, attempt)

    def abort(self, name: str, *, retry: bool) -> None:
        """An attempt of ``name`` ended in an exception; with ``retry`` it owes the run again."""
        node = self.nodes[name]
        f = node.start_f
        node.busy = False
        node.forcing = False
        node.retrying = retry
        node.start_f = node.end_f
        if retry and not node.push(f):  # a forced re-run: the target is at or below endF
            node.force_f = f

    def attempt_of(self, name: str, f: Micros) -> int:
        return self.attempts.get((f, name), 0)

    def drop_runs_through(self, f: Micros) -> None:
        """Every Pond Run at or below ``f`` is over (failed): forget what it still owed."""
        for node in self.order:
            if node.targets and node.targets[0] <= f:
                node.targets = [t for t in node.targets if t > f]
            if node.force_f is not None and node.force_f <= f:
                node.force_f = None
            if node.retrying and not node.targets and node.force_f is None:
                node.retrying = False  # the retry it owed went down with its run
        for key in [k for k in self.budgets if k <= f]:
            del self.budgets[key]
        for akey in [k for k in self.attempts if k[0] <= f]:
            del self.attempts[akey]

    def cancel(self) -> None:
        """The worker is gone or killed: nothing runs and nothing is owed any more."""
        for node in self.order:
            node.busy = False
            node.forcing = False
            node.retrying = False
            node.start_f = node.end_f
            node.targets = []
            node.force_f = None
        self.budgets.clear()
        self.attempts.clear()

    def settle(self, f: Micros) -> None:
        """Pond Runs up to ``f`` completed: their budgets and attempt counts can go."""
        for key in [k for k in self.budgets if k <= f]:
            del self.budgets[key]
        for akey in [k for k in self.attempts if k[0] <= f]:
            del self.attempts[akey]

    # -- completion ----------------------------------------------------------------------------

    def leaves_end_f(self) -> Micros:
        return min(leaf.end_f for leaf in self.leaves)

    def forced_done(self) -> bool:
        return all(n.force_f is None and not n.forcing for n in self.order)

    @property
    def any_busy(self) -> bool:
        return any(node.busy for node in self.order)

    # -- pull (Catchment side) -----------------------------------------------------------------

    def pull_all(self) -> None:
        for node in self.order:
            node.has_pull = True

    def pull_leaves(self) -> bool:
        """Pull reaches the Pond while a run is in flight: each leaf holds it until its next
        start, when it passes it up. A leaf already running passes it up now, to the parents
        that have not started ahead of it: its start came first only by a hair (a Duck starts
        the next Ripple while it still publishes the last run), and holding the pull would
        stall the Pond until the whole run ends. True when the pull reached a root Ripple."""
        reached_pond = False
        for node in self.leaves:
            if node.busy and node.parents:
                for parent in node.parents:
                    if parent.start_f <= node.start_f:
                        reached_pond |= self.pull_reach(parent)
            else:
                node.has_pull = True
        return reached_pond

    def clear_pull(self) -> None:
        for node in self.order:
            node.has_pull = False

    def pull_reach(self, node: RippleNode) -> bool:
        """Pull reaches ``node``: it holds pull and passes it to each parent that has not started
        ahead of it. True when it reached a root Ripple, whose pull sets the Pond's."""
        reached_pond = False
        stack = [node]
        seen: set[str] = set()
        while stack:
            current = stack.pop()
            if current.name in seen:
                continue
            seen.add(current.name)
            current.has_pull = True
            if current.is_root:
                reached_pond = True
                continue
            for parent in current.parents:
                if parent.start_f <= current.start_f:
                    stack.append(parent)
        return reached_pond
