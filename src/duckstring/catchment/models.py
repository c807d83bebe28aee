"""Request and response bodies of the HTTP API (they make the OpenAPI document complete)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr


class Ok(BaseModel):
    ok: bool = True


class Health(BaseModel):
    status: str = "ok"


class TriggerState(BaseModel):
    kind: str = Field(description="wave or tide")
    bound_ms: int | None = Field(default=None, description="A Tide's staleness bound")


class RippleState(BaseModel):
    name: str
    status: str = Field(description="running (from its Pond Run's dispatch), queued or idle")
    gen: int = Field(description="Ripple Runs started (an immediate retry counts none)")
    runs_completed: int = Field(description="Ripple Runs completed")
    has_pull: bool
    target_f: str | None
    start_f: str | None
    end_f: str | None


class DuckNode(BaseModel):
    id: str = Field(description="The node's id on its cluster")
    address: str = Field(description="The node's address")


class PondState(BaseModel):
    id: str = Field(description="name@major")
    name: str
    major: int
    kind: str = Field(description="inlet, pond or outlet")
    version: str
    status: str = Field(description="failed, killed, blocked, running, queued or idle")
    gen: int = Field(
        description="Pond Runs started on the line (pull, push, wake, force, retry-on-change); "
        "runs in flight = gen - runs_completed"
    )
    runs_completed: int = Field(description="Pond Runs completed on the line")
    has_pull: bool
    target_f: str | None = Field(description="The oldest push target held")
    start_f: str | None
    end_f: str | None
    d_ms: int = Field(description="Window delay carried by the data")
    staleness_ms: int | None
    trigger: TriggerState | None
    is_failed: bool
    is_blocked: bool
    is_killed: bool
    failed_f: str | None
    failures: int
    immediate_retries: int
    source_retries: int
    windows: int = Field(description="How many window rules the line has")
    ripples: list[RippleState]
    ripple_edges: list[list[str]]
    node: DuckNode | None = Field(
        None,
        description="The cluster node its Duck runs on (null: no Duck, or a Duck on the "
        "Catchment's own machine)",
    )


class Status(BaseModel):
    now: str
    ponds: list[PondState]
    edges: list[list[str]] = Field(description="[source_id, sink_id] pairs")


class RippleAttempt(BaseModel):
    ripple: str
    retry: int = Field(description="0 for the first attempt")
    status: str
    f: str | None
    started_at: str | None
    finished_at: str | None
    error: str | None
    traceback: str | None


class RunRecord(BaseModel):
    pond: str
    id: str = Field(description="name@major of the line")
    major: int
    version: str | None
    seq: int
    kind: str
    f: str | None
    started_at: str | None
    finished_at: str | None
    status: str = Field(description="running, success, failed or killed")
    error: str | None
    traceback: str | None
    ripples: list[RippleAttempt] | None = Field(
        default=None, description="One row per Ripple attempt; only with ripples=true"
    )


class Runs(BaseModel):
    runs: list[RunRecord]


class TideBody(BaseModel):
    bound_seconds: float = Field(gt=0, description="Staleness bound in seconds")


class SleepBody(BaseModel):
    upstream: bool = False


class Budget(BaseModel):
    immediate_retries: int = Field(ge=0)
    source_retries: int = Field(ge=0)


class BudgetChange(BaseModel):
    immediate_retries: int | None = Field(default=None, ge=0)
    source_retries: int | None = Field(default=None, ge=0)


class WindowBody(BaseModel):
    """A window rule as a client sends it. The engine checks what the types leave open
    (``WindowRule.from_api``), so every refusal is a 422 naming its field."""

    name: StrictStr = Field(description="1 to 64 letters, digits, '_' or '-'")
    start_anchor: StrictStr | None = Field(
        default=None, description="ISO-8601 instant; default 00:00 UTC today"
    )
    duration_seconds: Annotated[float, Field(gt=0, strict=True)] | None = Field(
        default=None, description="How long each window stays open; default the interval"
    )
    freq_unit: StrictStr = Field(description="SECOND, MINUTE, HOUR, DAY or WEEK (any case)")
    freq_interval: Annotated[int, Field(gt=0, strict=True)] = 1
    valid_days: StrictStr | list[StrictStr] | None = Field(
        default=None, description="'MON,WED,FRI' or a list of day names; default every day"
    )
    until_time: StrictStr | None = Field(default=None, description="ISO-8601 instant; no end")


class WindowRecord(BaseModel):
    """A window rule as the Catchment holds it: instants in UTC (``Z``), days as one string."""

    name: str
    start_anchor: str
    duration_seconds: int | float
    freq_unit: str
    freq_interval: int
    valid_days: str | None = Field(description="Upper-case days such as 'MON,WED,FRI'")
    until_time: str | None


class Windows(BaseModel):
    windows: list[WindowRecord]


class VersionInfo(BaseModel):
    name: str
    version: str
    is_active: bool


class DeployGit(BaseModel):
    name: str
    version: str
    type: str = "pond"
    git_ref: str
    repo_url: str


class Deployed(BaseModel):
    ok: bool = True
    id: str
    name: str
    version: str
    major: int
    ripples: list[str]
    replaced: bool = Field(description="This name and version existed and was overwritten")


class QueryBody(BaseModel):
    pond: str
    major: int | None = None
    version: str | None = None
    ripple: str | None = None
    sql: str | None = None
    format: str | None = Field(default=None, description="csv, json or parquet for a file")


#: ``POST /api/query`` without a format: one object per row, keys in column order.
QueryRows = list[dict[str, object]]


class BottleneckRecord(BaseModel):
    line: str = Field(description="name@major of the line the Ripple belongs to")
    ripple: str
    seconds: float = Field(description="Its expected (measured) duration")


class ForecastRecord(BaseModel):
    """``GET /api/ponds/{name}/forecast``: the engine's simulator run ahead on a copy."""

    line: str = Field(description="name@major")
    at: str = Field(description="When the forecast starts (ISO-8601)")
    trigger: str | None = Field(
        description="The demand simulated on the line: wave, tide (its own or the one asked "
        "about), pulse (a push target it holds), or null"
    )
    next_fresh: str | None = Field(description="When the line next publishes newer data")
    next_fresh_in: float | None = Field(description="Seconds from at to next_fresh")
    cadence: float | None = Field(
        description="Median seconds between fresh outputs once settled; null with too few"
    )
    bound: float | None = Field(description="The Tide's bound in seconds, with a Tide")
    holds: bool | None = Field(description="Whether the Tide's bound holds; null without one")
    bottleneck: BottleneckRecord | None = Field(
        description="The slowest Ripple the line's fresh output waits for"
    )
    reason: str | None = Field(description="Why there is no next_fresh, if there is none")
    assumed: list[str] = Field(
        default_factory=list,
        description="pond.ripple of the Ripples the answer depends on that never ran "
        "successfully: each was taken to last 1 s",
    )


class WhyReason(BaseModel):
    kind: str = Field(description="What holds the line: holds_pull, waits_for_source, failed, …")
    rule: str = Field(description="The section of the engine's rule set the reason comes from")
    line: str = Field(description="name@major of the line the reason points at")
    text: str
    detail: dict[str, Any] = Field(
        description="The facts: engine times in microseconds, durations in seconds"
    )


class Why(BaseModel):
    line: str
    state: str = Field(description="failed, killed, blocked, running, queued or idle")
    at: str
    reasons: list[WhyReason] = Field(description="The chain of reasons, root last")
    summary: str


class WhyRun(BaseModel):
    seq: int = Field(description="The run's seq on its line, as /api/runs lists it")
    kind: str
    status: str
    version: str | None
    f: str | None
    started_at: str | None
    finished_at: str | None
    error: str | None


class WhyCause(BaseModel):
    kind: str = Field(description="pull, push, retry, wake or force")
    by: str | None = Field(description="The line that delivered the demand (a Sink, or itself)")
    via: str | None = Field(description="sink, or the trigger or verb on the line itself")
    origin: str | None = Field(description="The line whose trigger or verb began the chain")
    trigger: str | None = Field(description="That trigger or verb")
    target_f: str | None = Field(description="The push target the run met")
    source_f: str | None = Field(description="The freshness the run took")
    source: str | None = Field(description="The Source line whose endF supplied it")
    source_run: int | None = Field(description="The run of that Source that published it")
    window: str | None = Field(description="The window that gave an Inlet its freshness")


class WhyRunAnswer(BaseModel):
    line: str
    run: WhyRun
    cause: WhyCause | None = Field(description="Null for runs begun before causes were recorded")
    reasons: list[WhyReason]
    summary: str


class AlertBody(BaseModel):
    """An alert rule as a client adds it; every refusal is a 422 naming its field."""

    name: StrictStr = Field(description="Lowercase letters, digits, '_' or '-'")
    on: StrictStr = Field(description="failure, recovery, stale or forecast-breach")
    duration: StrictStr | None = Field(
        default=None, description="A stale rule's bound on staleness, e.g. 1h or 90m"
    )
    ponds: list[StrictStr] = Field(
        default_factory=list,
        description="Pond names (every major) or lines (name@major) it watches; none: all",
    )
    to: StrictStr = Field(description="The Apprise URL it delivers to (json://, slack://, …)")


class AlertRecord(BaseModel):
    name: str
    on: str
    duration: str | None = Field(description="A stale rule's bound")
    ponds: list[str]
    to: str = Field(description="The Apprise URL, its secrets hidden")
    created_at: str | None
    state: str = Field(description="active, or waiting for forecast support")
    pending: int = Field(description="Notifications of it not delivered yet")


class AlertList(BaseModel):
    alerts: list[AlertRecord]


class AlertDelivery(BaseModel):
    id: int
    at: str | None
    rule: str
    notification: int = Field(description="The notification this attempt delivered")
    kind: str = Field(description="failure, recovery, stale or test")
    line: str | None
    attempt: int = Field(description="1 for the first attempt")
    ok: bool
    error: str | None
    title: str
    state: str = Field(description="The notification's: pending, sent, failed or dropped")


class AlertLog(BaseModel):
    deliveries: list[AlertDelivery] = Field(description="Newest first")


class PlacementBody(BaseModel):
    """What a line's Duck asks of its node: ``cpus`` (≥ 0), ``memory`` (bytes, or a size such
    as ``"8G"``) and custom ``resources`` (name -> amount). Left out: the launcher's default."""

    model_config = ConfigDict(extra="forbid")

    cpus: float | None = None
    memory: int | str | None = None
    resources: dict[str, float] | None = None


class PlacementAnswer(BaseModel):
    line: str
    launcher: str = Field(description="How this Catchment starts Ducks: local or ray")
    cpus: float | None
    memory: int | None = Field(description="Bytes")
    resources: dict[str, float]
    node: DuckNode | None = Field(description="Where its Duck runs now (null: none, or here)")
    last_node: str | None = Field(description="The node id its last Duck ran on")
