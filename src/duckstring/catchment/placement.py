"""Placement: what a line's Duck asks of the node it runs on (CPUs, memory, custom resources).

It is the operator's, like a window: set with ``duckstring control placement`` or ``POST
/api/ponds/{name}/placement``, kept in ``duck.db`` across restarts and redeploys, and read by the
launcher each time it starts the line's Duck (a Duck already running keeps the node it is on).
The local launcher runs every Duck on this machine and only records it; the Ray launcher passes
it to Ray as the actor's resources.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

#: A custom resource's name, as Ray accepts it (and no more: it reaches Ray as a dict key).
RESOURCE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/-]{0,99}$")
#: Resources that have a flag of their own (Ray refuses them among the custom ones).
RESERVED = frozenset({"CPU", "GPU", "memory", "object_store_memory"})
#: The most a placement may ask of one resource (a typo like 1e9 CPUs is refused, not queued).
MOST = 1_000_000.0

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1 << 10,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1 << 20,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1 << 30,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1 << 40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


class PlacementError(ValueError):
    """A placement that cannot be taken (the message names the field)."""


def parse_size(text: str) -> int:
    """Bytes from ``8G``, ``512MiB``, ``1.5GB`` or a plain number of bytes (``K``/``M``/``G``/
    ``T`` are powers of 1000, ``KiB``/``MiB``/``GiB``/``TiB`` of 1024)."""
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise PlacementError(
            f"memory must be a size like 8G, 512MiB or a number of bytes, not {text!r}"
        )
    size = float(match.group(1)) * _UNITS[unit]
    if size < 1 or size > MOST * (1 << 30):
        raise PlacementError(f"memory must be at least 1 byte and at most a petabyte, not {text!r}")
    return int(size)


def _amount(what: str, value: Any, *, zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlacementError(f"{what} must be a number, not {value!r}")
    number = float(value)
    if math.isnan(number) or number < 0 or (number == 0 and not zero) or number > MOST:
        low = "at least 0" if zero else "more than 0"
        raise PlacementError(f"{what} must be {low} and at most {MOST:,.0f}, not {value!r}")
    return number


@dataclass(frozen=True)
class Placement:
    """What a line's Duck asks of its node; None and empty mean the launcher's default."""

    cpus: float | None = None
    memory: int | None = None
    resources: dict[str, float] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.cpus is None and self.memory is None and not self.resources

    def to_api(self) -> dict[str, Any]:
        return {"cpus": self.cpus, "memory": self.memory, "resources": dict(self.resources)}

    def describe(self) -> str:
        """One line for people: ``2 CPUs, 8.0 GiB, zone_a=1``."""
        parts = []
        if self.cpus is not None:
            parts.append(f"{self.cpus:g} CPU{'' if self.cpus == 1 else 's'}")
        if self.memory is not None:
            parts.append(f"{self.memory / (1 << 30):.1f} GiB")
        parts.extend(f"{name}={amount:g}" for name, amount in sorted(self.resources.items()))
        return ", ".join(parts) or "the launcher's default"


def placement_from_api(body: dict[str, Any]) -> Placement:
    """A :class:`Placement` from the API's body, checked: ``cpus`` (a number ≥ 0 or null),
    ``memory`` (bytes, or a size like ``"8G"``, or null) and ``resources`` (name -> amount)."""
    unknown = set(body) - {"cpus", "memory", "resources"}
    if unknown:
        raise PlacementError(f"unknown placement field {sorted(unknown)[0]!r}")
    cpus = body.get("cpus")
    memory = body.get("memory")
    resources = body.get("resources") or {}
    if not isinstance(resources, dict):
        raise PlacementError("resources must be an object of resource name -> amount")
    checked: dict[str, float] = {}
    for name, amount in resources.items():
        if not isinstance(name, str) or not RESOURCE_NAME.match(name):
            raise PlacementError(
                f"resource name {name!r} must start with a letter or _ and hold only letters, "
                "digits and _ . : / -"
            )
        if name in RESERVED:
            raise PlacementError(f"{name!r} is not a custom resource: use --cpus or --memory")
        checked[name] = _amount(f"resource {name!r}", amount, zero=False)
    if isinstance(memory, str):
        memory = parse_size(memory)
    elif memory is not None:
        memory = int(_amount("memory", memory, zero=False))
    return Placement(
        cpus=None if cpus is None else _amount("cpus", cpus, zero=True),
        memory=memory,
        resources=checked,
    )
