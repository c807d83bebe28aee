"""Alert rules: add, list, remove and test them, and read the log of their deliveries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from duckstring.catchment.alerts import ledger
from duckstring.catchment.alerts.book import rule_state
from duckstring.catchment.alerts.rules import AlertRule, RuleError, make_rule, masked
from duckstring.catchment.alerts.service import Alerts
from duckstring.catchment.models import (
    AlertBody,
    AlertDelivery,
    AlertList,
    AlertLog,
    AlertRecord,
    Ok,
)
from duckstring.catchment.routes.common import catchment_of, driver_of
from duckstring.engine.clock import iso
from duckstring.engine.durations import format_duration

#: ``async`` like every route of the Catchment's state: its database connection is the event
#: loop's. The evaluator and the sender learn of a change through :class:`Alerts`.
router = APIRouter()

_UNKNOWN: dict[int | str, dict[str, Any]] = {404: {"description": "No alert by that name"}}


def _alerts(request: Request) -> Alerts:
    alerts = catchment_of(request).alerts
    if alerts is None:
        raise HTTPException(503, "the Catchment is starting")
    return alerts


def _record(rule: AlertRule, pending: int) -> AlertRecord:
    return AlertRecord(
        name=rule.name,
        on=rule.on,
        duration=None if rule.bound is None else format_duration(rule.bound),
        ponds=list(rule.ponds),
        to=masked(rule.url),
        created_at=iso(rule.created_at),
        state=rule_state(rule),
        pending=pending,
    )


@router.get("/alerts", response_model=AlertList)
async def list_alerts(request: Request) -> AlertList:
    """Every alert rule, by name."""
    con = driver_of(request).store.con
    return AlertList(
        alerts=[_record(rule, ledger.pending_count(con, rule.name)) for rule in ledger.rules(con)]
    )


@router.post(
    "/alerts",
    response_model=Ok,
    responses={
        409: {"description": "An alert by that name exists"},
        422: {"description": "A bad kind, duration, Pond name or Apprise URL (named)"},
    },
)
async def add_alert(request: Request, body: AlertBody) -> Ok:
    """Add a rule; it holds from now on (a ``stale`` rule is checked against every line at
    once), and survives restarts and redeploys."""
    driver = driver_of(request)
    alerts = _alerts(request)
    try:
        rule = make_rule(body.name, body.on, body.to, body.ponds, body.duration, driver.clock.now())
    except RuleError as error:
        raise HTTPException(422, str(error)) from None
    try:
        ledger.add_rule(driver.store.con, rule)
    except ledger.DuplicateRule as error:
        raise HTTPException(409, str(error)) from None
    alerts.rules_changed()
    return Ok()


@router.delete("/alerts/{name}", response_model=Ok, responses=_UNKNOWN)
async def remove_alert(request: Request, name: str) -> Ok:
    """Remove a rule; its notifications not delivered yet are dropped, its log stays."""
    if not ledger.remove_rule(driver_of(request).store.con, name):
        raise HTTPException(404, f"no alert named {name!r}")
    _alerts(request).rules_changed()
    return Ok()


@router.post("/alerts/{name}/test", response_model=Ok, responses=_UNKNOWN)
async def test_alert(request: Request, name: str) -> Ok:
    """Send the rule a test notification through the outbox, like any other (the log shows
    each attempt)."""
    con = driver_of(request).store.con
    rule = ledger.rule(con, name)
    if rule is None:
        raise HTTPException(404, f"no alert named {name!r}")
    _alerts(request).test(con, rule)
    return Ok()


@router.get("/alerts/log", response_model=AlertLog, responses=_UNKNOWN)
async def alert_log(
    request: Request,
    name: Annotated[str | None, Query(description="Only this rule's deliveries")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many")] = 100,
) -> AlertLog:
    """Delivery attempts, newest first: when, which rule and notification, which attempt,
    delivered or the receiver's error."""
    con = driver_of(request).store.con
    rows = ledger.log(con, name, limit)
    if name is not None and not rows and ledger.rule(con, name) is None:
        raise HTTPException(404, f"no alert named {name!r}")
    return AlertLog(
        deliveries=[
            AlertDelivery.model_validate({**row, "at": iso(row["at"]), "ok": bool(row["ok"])})
            for row in rows
        ]
    )
