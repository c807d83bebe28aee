"""Request and response bodies of the HTTP API (they make the OpenAPI document complete)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Ok(BaseModel):
    ok: bool = True


class Health(BaseModel):
    status: str = "ok"


class Problem(BaseModel):
    detail: str


class TriggerState(BaseModel):
    kind: str = Field(description="wave or tide")
    bound_ms: int | None = Field(default=None, description="A Tide's staleness bound")


class RippleState(BaseModel):
    name: str
    status: str = Field(description="running, queued or idle")
    has_pull: bool
    target_f: str | None
    start_f: str | None
    end_f: str | None


class PondState(BaseModel):
    id: str = Field(description="name@major")
    name: str
    major: int
    kind: str = Field(description="inlet, pond or outlet")
    version: str
    status: str = Field(description="failed, killed, blocked, running, queued or idle")
    gen: int = Field(description="Bumped on every change of this line's state")
    runs_completed: int
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
    ripples: list[RippleAttempt] | None = None


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
    name: str
    start_anchor: str | None = Field(default=None, description="ISO-8601; default 00:00 today")
    duration_seconds: float | None = Field(default=None, gt=0)
    freq_unit: str = Field(description="SECOND, MINUTE, HOUR, DAY or WEEK")
    freq_interval: int = Field(gt=0)
    valid_days: list[str] | None = None
    until_time: str | None = None


class Windows(BaseModel):
    windows: list[dict[str, object]]


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
