"""The Ray launcher: each line's Duck as a named, detached actor on a Ray cluster.

A :class:`~duckstring.catchment.launcher.Launcher` beside the forkserver one, chosen with
``DUCKSTRING_LAUNCHER=ray``. The Catchment still decides when everything runs; Ray only decides
where a Duck runs. The Duck inside is the same code as a forked one and dials back over HTTP, so
nothing else changes: a Duck's actor is named ``duck:{catchment id}:{name}@{major}`` and
outlives the Catchment (``lifetime="detached"``), which is how a restarted Catchment finds and
adopts it.

What a line's Duck asks of its node is its placement (:mod:`duckstring.catchment.placement`),
given to Ray as the actor's resources, with a soft preference for the node its last Duck ran
on (its working database is there). A placement no alive node can satisfy fails the line's run
at once, naming what is missing, instead of leaving an actor pending; a Duck whose actor dies
(its node left the cluster, or it was killed) fails its run with the node named.

``ray`` is an optional dependency (``duckstring[ray]``): it is imported only here, only when
this launcher is chosen.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from duckstring.catchment.launcher import LauncherClosed, Node, OnExit
from duckstring.catchment.placement import Placement

if TYPE_CHECKING:
    import asyncio

    from duckstring.duck.protocol import BeginRun

log = logging.getLogger("duckstring.catchment")

#: The Ray namespace every Duckstring actor lives in (names are unique within a namespace).
NAMESPACE = "duckstring"
#: Threads of one Duck's actor: its Duck, and the questions asked while it runs.
ACTOR_THREADS = 8
#: The Catchment's environment variables its Ducks see on their nodes too.
FORWARDED_PREFIX = "DUCKSTRING_"
#: How long a new actor may take to be up on a node before it counts as waiting for one (an
#: actor starts in ~1 s on a free node: a worker process, then its class).
PLACE_GRACE = 3.0
#: How long a question to an actor may take (adoption, memory), in seconds.
ASK_SECONDS = 10.0


class RayUnavailable(RuntimeError):
    """Ray is not installed, or its cluster cannot be reached (the message says which)."""


class Unplaceable(RuntimeError):
    """No alive node of the cluster can hold a line's Duck as placed (the message says why)."""


def actor_name(catchment_id: str, line: str) -> str:
    return f"duck:{catchment_id}:{line}"


@dataclass
class RayDuck:
    """The actor of one line's Duck, and what is known of it."""

    line: str
    actor: Any
    #: What ends when the Duck does: its ``run`` call, or, adopted, its ``wait`` call.
    ending: Any
    adopted: bool = False
    node: Node | None = None
    watched: bool = False
    #: Set by ``kill`` and ``stop_all``: its end is this Catchment's doing.
    ended_here: bool = False
    sizes: dict[str, int | None] = field(default_factory=dict)
    #: Set once it has waited longer than :data:`PLACE_GRACE` for a node.
    waiting: bool = False
    #: Fires at :data:`PLACE_GRACE` unless it is placed before.
    timer: threading.Timer | None = None


def missing_for(placement: Placement, nodes: Sequence[Mapping[str, Any]]) -> str | None:
    """Why no alive node in ``nodes`` (as ``ray.nodes()`` lists them) can hold a Duck placed
    so, or None when one can. A node's whole resources count, not what is free now: a busy
    node frees up, a node without the resource never will."""
    asked: dict[str, float] = dict(placement.resources)
    # An actor that names no CPUs needs one to be placed (Ray's default), none to run.
    asked["CPU"] = 1.0 if placement.cpus is None else placement.cpus
    if placement.memory is not None:
        asked["memory"] = float(placement.memory)
    alive = [node.get("Resources", {}) for node in nodes if node.get("Alive")]
    if not alive:
        return "the Ray cluster has no alive node"
    if any(all(offer.get(k, 0.0) >= v for k, v in asked.items() if v > 0) for offer in alive):
        return None
    reasons = []
    for name, amount in asked.items():
        most = max(offer.get(name, 0.0) for offer in alive)
        if amount <= 0 or most >= amount:
            continue
        label = "memory" if name == "memory" else f"resource {name!r}"
        if most == 0:
            reasons.append(f"no alive node offers {label}")
        elif name == "memory":
            reasons.append(
                f"it asks {amount / (1 << 30):.1f} GiB, the most a node has is "
                f"{most / (1 << 30):.1f} GiB"
            )
        else:
            reasons.append(f"it asks {amount:g} of {label}, the most a node has is {most:g}")
    if not reasons:  # each resource is somewhere, but never all on one node
        reasons.append(f"no single alive node offers all of {placement.describe()}")
    return "; ".join(reasons)


#: The signals whose handlers ray.init replaces.
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _signal_handlers() -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {number: signal.getsignal(number) for number in _SIGNALS}


def _restore(handlers: dict[int, Any]) -> None:
    for number, handler in handlers.items():
        if handler is not None:
            signal.signal(number, handler)


class RayLauncher:
    """The Ducks of a Catchment as actors on a Ray cluster (see the module).

    ``make_config`` builds the config a Duck runs from the arguments of :meth:`start`, as for
    the forkserver; ``placement_of`` gives a line's placement when its Duck starts;
    ``last_node`` the node its previous Duck ran on, and ``on_placed`` is told (on a Ray thread)
    where a new Duck was placed. ``address`` is the cluster's (``auto``: the one this machine
    belongs to; None: a local Ray is started, and ends with the Catchment).
    """

    spares = 0

    def __init__(
        self,
        make_config: Callable[[str, str | None, tuple[BeginRun, ...]], Any],
        catchment_id: str,
        *,
        address: str | None = None,
        placement_of: Callable[[str], Placement] = lambda line: Placement(),
        last_node: Callable[[str], str | None] = lambda line: None,
        on_placed: Callable[[str, Node], None] = lambda line, node: None,
        on_waiting: Callable[[str], None] = lambda line: None,
    ) -> None:
        try:
            import ray
        except ImportError:
            raise RayUnavailable(
                "the Ray launcher needs Ray: pip install 'duckstring[ray]'"
            ) from None
        self._ray = ray
        self._make_config = make_config
        self.catchment_id = catchment_id
        self._placement_of = placement_of
        self._last_node = last_node
        self._on_placed = on_placed
        self._on_waiting = on_waiting
        if not ray.is_initialized():
            # ray.init takes SIGTERM for itself (it exits at once): the Catchment's own stop,
            # which lets Ducks with work in flight go on, must keep it.
            kept = _signal_handlers()
            try:
                ray.init(
                    address=address or None,
                    namespace=NAMESPACE,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                )
            except (ConnectionError, RuntimeError, ValueError) as error:
                where = f"the Ray cluster at {address}" if address else "a local Ray"
                raise RayUnavailable(f"cannot reach {where}: {error}") from error
            finally:
                _restore(kept)
        from duckstring.catchment.ray_duck import DuckActor

        self._actor_class = ray.remote(DuckActor)
        #: What a forked Duck would inherit of the Catchment's settings: a Ray worker's
        #: environment is its node's, not the Catchment's (the key travels in the config).
        #: Sent with the Duck, not as the actor's runtime environment: one of those makes Ray
        #: start a fresh worker process for every actor instead of taking a waiting one.
        self._env = {
            key: value
            for key, value in os.environ.items()
            if key.startswith(FORWARDED_PREFIX) and key != "DUCKSTRING_API_KEY"
        }
        self.ducks: dict[str, RayDuck] = {}
        self._lock = threading.Lock()
        self._closed = False

    # -- starting --------------------------------------------------------------------------------

    def start(
        self, line: str, version: str | None = None, commands: Sequence[BeginRun] = ()
    ) -> None:
        """Create the line's actor and start its Duck in it. Returns once Ray has the actor
        (it starts on its node meanwhile); raises :class:`Unplaceable` when no node can hold
        it as placed."""
        with self._lock:
            if self._closed:
                raise LauncherClosed(f"the Catchment is stopping; no Duck starts for {line}")
        config = self._make_config(line, version, tuple(commands))
        placement = self._placement_of(line)
        missing = missing_for(placement, self._nodes())
        if missing is not None:
            raise Unplaceable(
                f"no node of the Ray cluster can hold the Duck of {line} "
                f"({placement.describe()}): {missing}"
            )
        name = actor_name(self.catchment_id, line)
        try:
            actor = self._create(name, line, placement)
        except ValueError:  # the name is taken: an actor of an earlier Catchment
            if self._bind_existing(line, name):
                return
            actor = self._create(name, line, placement)
        duck = RayDuck(line, actor, actor.run.remote(config, self._env))
        self._register(duck)

    def _create(self, name: str, line: str, placement: Placement) -> Any:
        options: dict[str, Any] = {
            "name": name,
            "namespace": NAMESPACE,
            "lifetime": "detached",
            "max_restarts": 0,
            "max_concurrency": ACTOR_THREADS,
        }

        if placement.cpus is not None:
            options["num_cpus"] = placement.cpus
        if placement.memory is not None:
            options["memory"] = placement.memory
        if placement.resources:
            options["resources"] = dict(placement.resources)
        last = self._last_node(line)
        if last is not None and self._alive(last):
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(last, soft=True)
        return self._actor_class.options(**options).remote()

    def _nodes(self) -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = self._ray.nodes()  # type: ignore[no-untyped-call]
        return nodes

    def _alive(self, node_id: str) -> bool:
        return any(n.get("NodeID") == node_id and n.get("Alive") for n in self._nodes())

    def _bind_existing(self, line: str, name: str) -> bool:
        """An actor of this name exists: take it on if its Duck still runs (as adoption does),
        or end it so a new one can take the name. True when it was taken on."""
        actor = self._get(name)
        if actor is None:
            return False
        if self._state(actor) == "running":
            self._register(RayDuck(line, actor, actor.wait.remote(), adopted=True))
            log.info("took on the running actor %s", name)
            return True
        self._ray.kill(actor, no_restart=True)
        self._wait_gone(name)
        return False

    def _wait_gone(self, name: str, seconds: float = ASK_SECONDS) -> None:
        deadline = time.monotonic() + seconds
        while self._get(name) is not None and time.monotonic() < deadline:
            time.sleep(0.05)  # off the dispatch path: only a stale actor's name being freed

    def _get(self, name: str) -> Any:
        try:
            return self._ray.get_actor(name, namespace=NAMESPACE)
        except ValueError:
            return None

    def _state(self, actor: Any) -> str | None:
        try:
            return str(self._ray.get(actor.state.remote(), timeout=ASK_SECONDS))
        except Exception:  # dead, or not answering: not a Duck to adopt
            return None

    def _register(self, duck: RayDuck) -> None:
        with self._lock:
            self.ducks[duck.line] = duck
        where = duck.actor.where.remote()
        duck.timer = threading.Timer(PLACE_GRACE, self._still_unplaced, args=(duck,))
        duck.timer.daemon = True
        duck.timer.start()
        where.future().add_done_callback(lambda done: self._placed(duck, done))

    def _still_unplaced(self, duck: RayDuck) -> None:
        """No node took the actor within the grace: it waits for one (runs on a timer)."""
        if duck.node is None and self.ducks.get(duck.line) is duck:
            duck.waiting = True
            with contextlib.suppress(Exception):
                self._on_waiting(duck.line)

    def _placed(self, duck: RayDuck, done: Future[Any]) -> None:
        """The actor is up on its node (runs on a Ray thread)."""
        if done.cancelled() or done.exception() is not None:
            return
        found = done.result()
        duck.node = Node(str(found["id"]), str(found["address"]))
        duck.waiting = False
        if duck.timer is not None:
            duck.timer.cancel()
        with contextlib.suppress(Exception):
            self._on_placed(duck.line, duck.node)

    def take_spare(
        self, line: str, version: str | None = None, commands: Sequence[BeginRun] = ()
    ) -> bool:
        """No spares: an actor is named for its line when it is created."""
        return False

    def replenish(self, give_way: Callable[[], bool] = lambda: False) -> int:
        return 0

    def spares_waiting(self) -> int:
        return 0

    def adopt(self, line: str) -> bool:
        """Take on the line's actor left running by the previous Catchment, found by name."""
        name = actor_name(self.catchment_id, line)
        actor = self._get(name)
        if actor is None:
            return False
        if self._state(actor) != "running":
            # Its Duck ended (or never began): an empty envelope, not a Duck.
            with contextlib.suppress(Exception):
                self._ray.kill(actor, no_restart=True)
            return False
        self._register(RayDuck(line, actor, actor.wait.remote(), adopted=True))
        log.info("adopted the Duck of %s (actor %s)", line, name)
        return True

    # -- watching and ending ---------------------------------------------------------------------

    def watch(self, line: str, loop: asyncio.AbstractEventLoop, on_exit: OnExit) -> None:
        """Call ``on_exit`` on ``loop`` when the Duck's call ends: with its exit code, or with
        why its actor died."""
        duck = self.ducks.get(line)
        if duck is None or duck.watched:
            return
        duck.watched = True

        def ended(done: Future[Any]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self._ended, duck, done, on_exit)

        duck.ending.future().add_done_callback(ended)

    def _ended(self, duck: RayDuck, done: Future[Any], on_exit: OnExit) -> None:
        code: int | None = None
        reason: str | None = None
        error = None if done.cancelled() else done.exception()
        if error is None and not done.cancelled():
            code = done.result()
        elif not duck.ended_here:
            reason = self._death(duck, error)
        if duck.timer is not None:
            duck.timer.cancel()
        with self._lock:
            current = self.ducks.get(duck.line) is duck
            if current:
                del self.ducks[duck.line]
        # Its Duck has ended: the actor is an empty envelope now.
        with contextlib.suppress(Exception):
            self._ray.kill(duck.actor, no_restart=True)
        if current:
            on_exit(duck.line, code, duck.adopted, reason)

    def _death(self, duck: RayDuck, error: BaseException | None) -> str:
        """Why a Duck's actor died, naming its node."""
        where = f"on {duck.node.describe()}" if duck.node is not None else "before it was placed"
        text = str(error or "")
        if "node has died" in text or "node was" in text:
            return f"the Duck of {duck.line} was lost {where}: the node left the Ray cluster"
        if "ray.kill" in text or "killed" in text.lower():
            return f"the Duck of {duck.line} was killed {where}"
        first = next((row.strip() for row in text.splitlines() if row.strip()), "")
        detail = f": {first}" if first else ""
        return f"the Duck of {duck.line} died {where}{detail}"

    def kill(self, line: str) -> None:
        duck = self.ducks.get(line)
        if duck is not None:
            duck.ended_here = True
            with contextlib.suppress(Exception):
                self._ray.kill(duck.actor, no_restart=True)

    # -- reading ---------------------------------------------------------------------------------

    def waiting_for_node(self, line: str) -> str | None:
        duck = self.ducks.get(line)
        if duck is None or duck.node is not None or not duck.waiting:
            return None
        return (
            f"Ray has no node free for it yet ({self._placement_of(line).describe()}); "
            "every alive node that could hold it is full"
        )

    def node_of(self, line: str) -> Node | None:
        duck = self.ducks.get(line)
        return None if duck is None else duck.node

    def memory(
        self, lines: Collection[str], give_way: Callable[[], bool] = lambda: False
    ) -> dict[str, int | None]:
        """Each actor reads its own proportional set size on its node."""
        with self._lock:
            ducks = {line: duck for line in lines if (duck := self.ducks.get(line))}
        asked = {line: duck.actor.memory.remote() for line, duck in ducks.items()}
        sizes: dict[str, int | None] = {}
        for line, ref in asked.items():
            try:
                sizes[line] = self._ray.get(ref, timeout=ASK_SECONDS)
            except Exception:
                sizes[line] = None
            ducks[line].sizes["pss"] = sizes[line]
        return sizes

    def resident(self, lines: Collection[str]) -> dict[str, int | None]:
        """The last reading of each Duck's memory (a scrape must not wait on a cluster)."""
        with self._lock:
            return {
                line: duck.sizes.get("pss")
                for line in lines
                if (duck := self.ducks.get(line)) is not None
            }

    # -- stopping --------------------------------------------------------------------------------

    def stop_all(self, timeout: float = 5.0, *, leave: Collection[str] = ()) -> dict[str, str]:
        """Stop every Duck but those of ``leave``: each is asked to stop (as SIGTERM asks a
        forked one), and its actor is killed once it has, or at ``timeout``. The Ducks of
        ``leave`` go on in their actors, for the next Catchment to adopt."""
        with self._lock:
            self._closed = True
            ducks = list(self.ducks.values())
            self.ducks.clear()
        left = {d.line: self._where(d) for d in ducks if d.line in leave}
        stopping = [duck for duck in ducks if duck.line not in leave]
        for duck in stopping:
            duck.ended_here = True
            with contextlib.suppress(Exception):
                duck.actor.terminate.remote()
        if stopping:
            with contextlib.suppress(Exception):
                self._ray.wait(
                    [d.ending for d in stopping], num_returns=len(stopping), timeout=timeout
                )
        for duck in stopping:
            with contextlib.suppress(Exception):
                self._ray.kill(duck.actor, no_restart=True)
        return left

    def _where(self, duck: RayDuck) -> str:
        name = f"actor {actor_name(self.catchment_id, duck.line)}"
        return name if duck.node is None else f"{name} on {duck.node.describe()}"
