"""Alert rules as they are checked, and the outbox as the sender delivers it: a real
``duck.db`` and a real receiver over HTTP (no Catchment)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from duckstring.catchment.alerts import ledger
from duckstring.catchment.alerts.book import Notice, notice_of_test
from duckstring.catchment.alerts.rules import RuleError, make_rule, masked
from duckstring.catchment.alerts.sender import Delivery, Sender, deliver
from duckstring.catchment.store import Store
from duckstring.engine.clock import SECOND, SystemClock
from duckstring.testing import wait_until
from e2e.receiver import Receiver


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"on": "meltdown"}, "on", "unknown kind 'meltdown'"),
        ({"on": "stale"}, "duration", "needs its bound"),
        ({"on": "stale", "duration": "soon"}, "duration", "bad duration"),
        ({"on": "failure", "duration": "1h"}, "duration", "only a stale or forecast-breach"),
        ({"on": "forecast-breach", "duration": "soon"}, "duration", "bad duration"),
        ({"url": "nonsense://what"}, "to", "Apprise does not accept"),
        ({"url": " "}, "to", "give the Apprise URL"),
        ({"ponds": ["Sales"]}, "ponds", "not allowed"),
        ({"ponds": ["sales@x"]}, "ponds", "not a Pond name or a line"),
        ({"name": "Bad Name"}, "name", "not an alert name"),
    ],
)
def test_a_bad_rule_is_refused_naming_its_field(
    fields: dict[str, object], field: str, words: str
) -> None:
    given: dict[str, object] = {"name": "pager", "on": "failure", "url": "json://localhost/x"}
    given.update(fields)
    with pytest.raises(RuleError) as refused:
        make_rule(**given)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ") and words in str(refused.value)


def test_a_good_rule_keeps_its_ponds_once_and_its_bound() -> None:
    rule = make_rule(
        "late", "stale", "json://localhost/x", ["sales", "sales", "reports@2"], "1h30m"
    )
    assert rule.ponds == ("sales", "reports@2") and rule.bound == 5400 * SECOND
    assert rule.watches("sales@1") and rule.watches("reports@2") and not rule.watches("reports@1")
    assert rule.describe_on == "stale 1h30m"


def test_a_listed_url_hides_its_secrets() -> None:
    shown = masked("json://user:hunter2-secret@localhost/hook")
    assert "hunter2-secret" not in shown and shown.startswith("json://")


def test_backoff_doubles_up_to_its_ceiling_and_gives_up_after_the_last_attempt() -> None:
    delivery = Delivery(attempts=5, backoff=2.0, backoff_max=5.0)
    assert [delivery.retry_at(n, 0) for n in (1, 2, 3, 4)] == [
        2 * SECOND,
        4 * SECOND,
        5 * SECOND,
        5 * SECOND,
    ]
    assert delivery.retry_at(5, 0) is None


def test_delivery_reports_the_receivers_refusal_and_a_timeout() -> None:
    with Receiver(statuses=(500,)) as receiver:
        error = deliver(receiver.url(), "title", "body", "failure", timeout=2.0)
        assert error is not None and "500" in error
        assert deliver(receiver.url(), "title", "body", "failure", timeout=2.0) is None
        assert [post["title"] for post in receiver.posts] == ["title", "title"]
        receiver.hanging.set()
        started = time.monotonic()
        error = deliver(receiver.url(), "t", "b", "info", timeout=0.5)
        assert error is not None and time.monotonic() - started < 5


def test_the_sender_retries_with_backoff_and_logs_every_attempt(tmp_path: Path) -> None:
    store = Store(tmp_path / "duck.db")
    clock = SystemClock()
    with Receiver(statuses=(500, 500)) as receiver:
        rule = make_rule("pager", "failure", receiver.url())
        ledger.add_rule(store.con, rule)
        ledger.enqueue(store.con, notice_of_test(rule, clock.now()), clock.now())
        sender = Sender(
            lambda: ledger.connect(store.path), clock.now, Delivery(timeout=2, backoff=0.05)
        )
        sender.start()
        try:
            sender.wake()
            log = wait_until(lambda: len(ledger.log(store.con, "pager", 10)) >= 3, 15)
            assert log
        finally:
            sender.stop()
        attempts = ledger.log(store.con, "pager", 10)[::-1]
        assert [(a["attempt"], bool(a["ok"])) for a in attempts] == [
            (1, False),
            (2, False),
            (3, True),
        ]
        assert "500" in attempts[0]["error"] and attempts[-1]["state"] == "sent"
        assert len(receiver.posts) == 3
        assert attempts[2]["at"] - attempts[1]["at"] >= 0.1 * SECOND * 0.9  # doubled backoff
    store.close()


def test_a_removed_rules_pending_notifications_are_dropped(tmp_path: Path) -> None:
    store = Store(tmp_path / "duck.db")
    rule = make_rule("pager", "failure", "json://127.0.0.1:9/x")
    ledger.add_rule(store.con, rule)
    with pytest.raises(ledger.DuplicateRule):
        ledger.add_rule(store.con, rule)
    ledger.enqueue(store.con, Notice("pager", "failure", "a@1", 0, "t", "b"), 0)
    assert ledger.pending_count(store.con, "pager") == 1
    assert ledger.remove_rule(store.con, "pager")
    assert not ledger.remove_rule(store.con, "pager")
    assert ledger.next_pending(store.con) is None
    store.close()
