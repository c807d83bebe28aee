"""How ``duckstring trigger window POND list`` describes a window from the API's fields."""

from __future__ import annotations

from duckstring.cli.trigger import describe_window


def test_a_listed_window_is_described_like_the_cli_adds_it() -> None:
    listed = {
        "name": "nightly",
        "start_anchor": "2026-01-01T02:00:00Z",
        "duration_seconds": 10800,
        "freq_unit": "DAY",
        "freq_interval": 1,
        "valid_days": "MON,WED,FRI",
        "until_time": "2027-01-01T00:00:00Z",
    }
    assert describe_window(listed) == (
        "every 1d from 2026-01-01T02:00:00Z for 3h on MON,WED,FRI until 2027-01-01T00:00:00Z"
    )


def test_a_shape_the_cli_does_not_know_is_shown_field_by_field() -> None:
    listed = {"name": "odd", "freq_unit": "FORTNIGHT", "freq_interval": 1}
    assert describe_window(listed) == "freq_unit=FORTNIGHT, freq_interval=1"
