"""The orchestration engine: pure rules of freshness, demand, triggers, windows and faults.

Nothing here reads the wall clock, sleeps or does I/O; time is always an argument.
"""

from duckstring.engine.clock import NEVER, Micros
from duckstring.engine.core import CycleError, Engine, EngineError, UnknownPond
from duckstring.engine.effects import (
    Effect,
    RunBegan,
    RunCompleted,
    RunFailed,
    RunKilled,
    StopWorker,
)
from duckstring.engine.pond import PondNode, SourceEdge, Trigger
from duckstring.engine.ripples import RippleGraph, RippleSpec, TopologyError

__all__ = [
    "NEVER",
    "CycleError",
    "Effect",
    "Engine",
    "EngineError",
    "Micros",
    "PondNode",
    "RippleGraph",
    "RippleSpec",
    "RunBegan",
    "RunCompleted",
    "RunFailed",
    "RunKilled",
    "SourceEdge",
    "StopWorker",
    "TopologyError",
    "Trigger",
    "UnknownPond",
]
