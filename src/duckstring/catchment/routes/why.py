"""Why a Pond line is in its state, and why one of its runs happened."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from duckstring.catchment.models import Why, WhyCause, WhyReason, WhyRun, WhyRunAnswer
from duckstring.catchment.routes.common import driver_of, select_line
from duckstring.catchment.store.db import Store
from duckstring.engine.clock import NEVER, iso
from duckstring.engine.explain import FAULTS, Reason, explain, explain_cause
from duckstring.engine.pond import Failure, RunCause

#: Handlers are ``async``: the engine and its store are used only on the event loop's thread.
router = APIRouter()

Major = Annotated[int | None, Query(description="Major line; default: the highest deployed")]
Version = Annotated[str | None, Query(description="Must be the selected version of its line")]
RunSeq = Annotated[
    int | None,
    Query(ge=1, description="A run's seq on the line (as /api/runs lists it): why it happened"),
]


def _reasons(reasons: tuple[Reason, ...] | list[Reason]) -> list[WhyReason]:
    return [WhyReason.model_validate(reason.to_dict()) for reason in reasons]


@router.get(
    "/ponds/{name}/why",
    response_model=Why | WhyRunAnswer,
    responses={404: {"description": "Unknown Pond, major, version or run"}},
)
async def why(
    request: Request,
    name: str,
    major: Major = None,
    version: Version = None,
    run: RunSeq = None,
) -> Why | WhyRunAnswer:
    """The line's state now as a chain of reasons, each citing the rule it comes from, root
    last; with ``run``, what started that run (its demand and its Source's freshness)."""
    driver = driver_of(request)
    line = select_line(driver, name, major, version).line
    if run is not None:
        return _why_run(request, line, run)
    engine = driver.engine
    lines = [line, *engine.ancestors(line)]
    # A restored engine does not remember failures' messages: the history does.
    forgotten = [
        other
        for other in lines
        if engine.ponds[other].is_failed and engine.ponds[other].failure is None
    ]
    failures = {
        other: Failure(
            row["seq"],
            NEVER if row["f"] is None else row["f"],
            row["finished_at"] or row["started_at"],
            row["error"] or "",
        )
        for other, row in driver.store.last_failed_runs(forgotten).items()
    }
    now = driver.clock.now()
    explanation = explain(engine, line, now, _Measured(driver.store, lines), failures)
    return Why(
        line=line,
        state=explanation.state,
        at=iso(now) or "",
        reasons=_reasons(explanation.reasons),
        summary=explanation.summary,
    )


class _Measured(Mapping[str, Mapping[str, float]]):
    """The measured durations of ``lines``, read from the history only for the lines the
    explanation asks about (those running): reading all of a deep line's ancestors would cost
    more than the whole rest of the answer."""

    def __init__(self, store: Store, lines: list[str]) -> None:
        self.store = store
        self.lines = lines
        self.read: dict[str, Mapping[str, float]] = {}

    def __getitem__(self, line: str) -> Mapping[str, float]:
        if line not in self.read:
            self.read[line] = self.store.ripple_durations([line]).get(line, {})
        return self.read[line]

    def __iter__(self) -> Iterator[str]:
        return iter(self.lines)

    def __len__(self) -> int:
        return len(self.lines)


def _why_run(request: Request, line: str, seq: int) -> WhyRunAnswer:
    row = driver_of(request).store.run(line, seq)
    if row is None:
        raise HTTPException(404, f"{line} has no run {seq}")
    cause = None if row["cause"] is None else RunCause.from_row(row["cause"])
    reasons = list(explain_cause(line, seq, cause))
    if row["status"] in ("failed", "killed"):
        reasons.append(
            Reason(
                row["status"],
                FAULTS,
                line,
                f"run {seq} {row['status']}: {row['error'] or 'no message'}",
                {"error": row["error"], "at": row["finished_at"]},
            )
        )
    return WhyRunAnswer(
        line=line,
        run=WhyRun(
            seq=seq,
            kind=row["kind"],
            status=row["status"],
            version=row["version"],
            f=iso(row["f"]),
            started_at=iso(row["started_at"]),
            finished_at=iso(row["finished_at"]),
            error=row["error"],
        ),
        cause=None if cause is None else _cause(row["cause"]),
        reasons=_reasons(reasons),
        summary=", ".join(reason.text for reason in reasons),
    )


def _cause(row: dict[str, Any]) -> WhyCause:
    return WhyCause(
        kind=row["kind"],
        by=row.get("by"),
        via=row.get("via"),
        origin=row.get("origin"),
        trigger=row.get("trigger"),
        target_f=iso(row.get("target")),
        source_f=iso(row.get("source_f")),
        source=row.get("source"),
        source_run=row.get("source_run"),
        window=row.get("window"),
    )
