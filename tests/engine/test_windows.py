"""Window rules: when an Inlet may start, and which rules of a Pond may live together."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from duckstring.engine.clock import HOUR, MINUTE, SECOND, WEEK, from_micros, parse_instant
from duckstring.engine.durations import Interval
from duckstring.engine.windows import (
    DuplicateWindowError,
    Window,
    WindowError,
    WindowOverlapError,
    WindowRule,
    check_no_overlap,
    next_boundary_after,
    next_open_after,
    open_window,
    weekday_of,
)

# 2024-01-01 is a Monday.
TODAY = parse_instant("2024-01-01T15:27:00Z")


def at(text: str) -> int:
    return parse_instant(text)


def rule(name: str, **text: str) -> WindowRule:
    return WindowRule.from_text(name, today=TODAY, **text)


NIGHTLY = rule("nightly", every="1d", start="02:00", duration="3h")


# --- open / closed ------------------------------------------------------------------------------


def test_daily_window_is_open_for_its_duration_from_its_start() -> None:
    assert NIGHTLY.start == at("2024-01-01T02:00:00Z")
    assert NIGHTLY.occurrence_at(at("2024-01-01T01:59:59Z")) is None
    assert NIGHTLY.occurrence_at(at("2024-01-01T02:00:00Z")) == (
        at("2024-01-01T02:00:00Z"),
        at("2024-01-01T05:00:00Z"),
    )
    assert NIGHTLY.occurrence_at(at("2024-01-01T05:00:00Z") - 1) is not None
    assert NIGHTLY.occurrence_at(at("2024-01-01T05:00:00Z")) is None
    assert NIGHTLY.occurrence_at(at("2024-01-07T03:30:00Z")) == (
        at("2024-01-07T02:00:00Z"),
        at("2024-01-07T05:00:00Z"),
    )
    assert NIGHTLY.occurrence_at(at("2024-01-07T12:00:00Z")) is None


def test_no_occurrence_before_the_anchor() -> None:
    assert NIGHTLY.occurrence_at(at("2023-12-31T03:00:00Z")) is None
    assert NIGHTLY.next_open_after(at("2023-12-25T00:00:00Z")) == at("2024-01-01T02:00:00Z")


def test_do_not_consume_gap_closes_the_window_during_the_nightly_write() -> None:
    gap = rule("outside-write", every="1d", start="02:00", duration="22h")
    assert gap.occurrence_at(at("2024-01-02T00:00:00Z")) is None
    assert gap.occurrence_at(at("2024-01-02T01:59:59Z")) is None
    assert gap.occurrence_at(at("2024-01-02T02:00:00Z")) == (
        at("2024-01-02T02:00:00Z"),
        at("2024-01-03T00:00:00Z"),
    )
    assert gap.occurrence_at(at("2024-01-02T23:59:59Z")) is not None
    assert gap.occurrence_at(at("2024-01-03T00:00:00Z")) is None


def test_weekday_filter_opens_only_on_named_days() -> None:
    office = rule("office", every="1d", start="09:00", duration="8h", on="mon,Wed,FRI")
    assert office.weekdays == frozenset({0, 2, 4})
    assert office.occurrence_at(at("2024-01-01T10:00:00Z")) is not None  # Monday
    assert office.occurrence_at(at("2024-01-02T10:00:00Z")) is None  # Tuesday
    assert office.occurrence_at(at("2024-01-03T10:00:00Z")) is not None  # Wednesday
    friday_evening = at("2024-01-05T20:00:00Z")
    assert office.next_open_after(friday_evening) == at("2024-01-08T09:00:00Z")  # Monday


def test_weekday_is_that_of_the_occurrence_begin_in_utc() -> None:
    assert weekday_of(at("2024-01-01T00:00:00Z")) == 0
    assert weekday_of(at("2024-01-07T23:59:59Z")) == 6
    assert weekday_of(at("1969-12-31T12:00:00Z")) == 2
    late = rule("late", every="1d", start="22:00", duration="4h", on="SUN")
    # Sunday's occurrence stays open into Monday; Monday's own occurrence is filtered out.
    assert late.occurrence_at(at("2024-01-08T01:00:00Z")) == (
        at("2024-01-07T22:00:00Z"),
        at("2024-01-08T02:00:00Z"),
    )
    assert late.occurrence_at(at("2024-01-08T23:00:00Z")) is None


def test_until_keeps_occurrences_that_begin_before_it_for_their_full_length() -> None:
    ending = rule("ending", every="1d", start="02:00", duration="3h", until="2024-01-03T03:00:00Z")
    assert ending.occurrence_at(at("2024-01-03T04:30:00Z")) == (
        at("2024-01-03T02:00:00Z"),
        at("2024-01-03T05:00:00Z"),
    )
    assert ending.occurrence_at(at("2024-01-04T02:30:00Z")) is None
    assert ending.next_open_after(at("2024-01-03T02:00:00Z")) is None
    assert ending.next_boundary_after(at("2024-01-03T02:00:00Z")) == at("2024-01-03T05:00:00Z")
    assert ending.next_boundary_after(at("2024-01-03T05:00:00Z")) is None


def test_until_excludes_an_occurrence_beginning_exactly_at_it() -> None:
    ending = rule("ending", every="1d", start="02:00", duration="3h", until="2024-01-03T02:00:00Z")
    assert ending.occurrence_at(at("2024-01-03T02:00:00Z")) is None
    assert ending.next_open_after(at("2024-01-02T02:00:00Z")) is None
    assert ending.occurrence_at(at("2024-01-02T02:00:00Z")) is not None


def test_duration_defaults_to_every_so_the_window_is_always_open() -> None:
    hourly = rule("hourly", every="1h")
    assert hourly.start == at("2024-01-01T00:00:00Z")
    assert hourly.duration == HOUR
    assert hourly.occurrence_at(at("2024-01-05T10:00:00Z")) == (
        at("2024-01-05T10:00:00Z"),
        at("2024-01-05T11:00:00Z"),
    )
    assert hourly.occurrence_at(at("2024-01-05T10:59:59Z")) == (
        at("2024-01-05T10:00:00Z"),
        at("2024-01-05T11:00:00Z"),
    )
    assert hourly.next_boundary_after(at("2024-01-05T10:00:00Z")) == at("2024-01-05T11:00:00Z")
    assert hourly.next_boundary_after(at("2024-01-05T10:30:00Z")) == at("2024-01-05T11:00:00Z")


def test_next_boundary_is_the_next_open_or_close() -> None:
    assert NIGHTLY.next_boundary_after(at("2024-01-02T01:00:00Z")) == at("2024-01-02T02:00:00Z")
    assert NIGHTLY.next_boundary_after(at("2024-01-02T02:00:00Z")) == at("2024-01-02T05:00:00Z")
    assert NIGHTLY.next_boundary_after(at("2024-01-02T03:00:00Z")) == at("2024-01-02T05:00:00Z")
    assert NIGHTLY.next_boundary_after(at("2024-01-02T05:00:00Z")) == at("2024-01-03T02:00:00Z")


def test_pond_windows_answer_open_window_and_next_instants() -> None:
    evening = rule("evening", every="1d", start="18:00", duration="2h")
    rules = [NIGHTLY, evening]
    assert open_window(rules, at("2024-01-02T19:00:00Z")) == Window(
        "evening", at("2024-01-02T18:00:00Z"), at("2024-01-02T20:00:00Z")
    )
    window = open_window(rules, at("2024-01-02T04:00:00Z"))
    assert window is not None and window.rule == "nightly" and window.length == 3 * HOUR
    assert open_window(rules, at("2024-01-02T12:00:00Z")) is None
    assert open_window([], at("2024-01-02T12:00:00Z")) is None
    assert next_open_after(rules, at("2024-01-02T06:00:00Z")) == at("2024-01-02T18:00:00Z")
    assert next_boundary_after(rules, at("2024-01-02T04:00:00Z")) == at("2024-01-02T05:00:00Z")
    assert next_boundary_after(rules, at("2024-01-02T18:00:00Z")) == at("2024-01-02T20:00:00Z")
    assert next_open_after([], at("2024-01-02T06:00:00Z")) is None


# --- overlap ------------------------------------------------------------------------------------


def test_same_period_overlapping_offsets_are_rejected_naming_both_rules_and_times() -> None:
    later = rule("later", every="1d", start="04:00", duration="3h")
    with pytest.raises(WindowOverlapError) as caught:
        check_no_overlap([NIGHTLY], later)
    message = str(caught.value)
    assert "'later'" in message and "'nightly'" in message
    assert "2024-01-01T04:00:00Z to 2024-01-01T07:00:00Z" in message
    assert "2024-01-01T02:00:00Z to 2024-01-01T05:00:00Z" in message
    assert caught.value.names == ("later", "nightly")
    assert caught.value.first == (
        Window("later", at("2024-01-01T04:00:00Z"), at("2024-01-01T07:00:00Z")),
        Window("nightly", at("2024-01-01T02:00:00Z"), at("2024-01-01T05:00:00Z")),
    )


def test_touching_windows_do_not_overlap() -> None:
    check_no_overlap([NIGHTLY], rule("morning", every="1d", start="05:00", duration="3h"))
    check_no_overlap([NIGHTLY], rule("before", every="1d", start="00:00", duration="2h"))
    check_no_overlap([], rule("always", every="1d"))


def test_hourly_window_inside_a_daily_window_is_rejected() -> None:
    hourly = rule("hourly", every="1h", start="00:10", duration="30m")
    with pytest.raises(WindowOverlapError) as caught:
        check_no_overlap([NIGHTLY], hourly)
    assert caught.value.first == (
        Window("hourly", at("2024-01-01T02:10:00Z"), at("2024-01-01T02:40:00Z")),
        Window("nightly", at("2024-01-01T02:00:00Z"), at("2024-01-01T05:00:00Z")),
    )


def test_hourly_and_daily_windows_that_interleave_are_accepted() -> None:
    hourly = rule("hourly", every="1h", start="00:10", duration="30m")
    daily = rule("daily", every="1d", start="02:45", duration="20m")  # [02:45, 03:05)
    check_no_overlap([hourly], daily)
    check_no_overlap([daily], hourly)


def test_duration_longer_than_every_overlaps_itself() -> None:
    with pytest.raises(WindowOverlapError, match="overlaps itself"):
        rule("long", every="1d", duration="30h")
    rule("exact", every="1d", duration="24h")  # back-to-back is fine


def test_weekday_filters_with_disjoint_days_are_accepted() -> None:
    monday = rule("mwf", every="1d", start="09:00", duration="8h", on="MON,WED,FRI")
    tuesday = rule("tt", every="1d", start="09:00", duration="8h", on="TUE,THU")
    check_no_overlap([monday], tuesday)
    weekend = rule("weekend", every="1d", start="00:00", on="SAT,SUN")
    check_no_overlap([monday, tuesday], weekend)


def test_weekday_filters_sharing_a_day_are_rejected() -> None:
    monday = rule("mwf", every="1d", start="09:00", duration="8h", on="MON,WED,FRI")
    friday = rule("fri", every="1d", start="16:00", duration="2h", on="FRI,SAT")
    with pytest.raises(WindowOverlapError) as caught:
        check_no_overlap([monday], friday)
    assert caught.value.first == (
        Window("fri", at("2024-01-05T16:00:00Z"), at("2024-01-05T18:00:00Z")),
        Window("mwf", at("2024-01-05T09:00:00Z"), at("2024-01-05T17:00:00Z")),
    )


def test_an_occurrence_spilling_past_midnight_overlaps_the_next_days_rule() -> None:
    long_days = rule("long", every="1d", start="09:00", duration="22h", on="MON")  # to Tue 07:00
    tuesday = rule("tue", every="1d", start="05:00", duration="1h", on="TUE")
    with pytest.raises(WindowOverlapError) as caught:
        check_no_overlap([long_days], tuesday)
    assert caught.value.first is not None
    assert caught.value.first[0].begin == at("2024-01-02T05:00:00Z")
    check_no_overlap([long_days], rule("tue8", every="1d", start="07:00", on="TUE", duration="1h"))


def test_an_earlier_anchored_occurrence_open_across_the_later_anchor_overlaps() -> None:
    weekly = rule("weekly", every="1w", start="2024-01-01T00:00:00Z", duration="3d")
    wednesday = rule("wed", every="1w", start="2024-01-03T12:00:00Z", duration="1h")
    with pytest.raises(WindowOverlapError) as caught:
        check_no_overlap([weekly], wednesday)
    assert caught.value.first == (
        Window("wed", at("2024-01-03T12:00:00Z"), at("2024-01-03T13:00:00Z")),
        Window("weekly", at("2024-01-01T00:00:00Z"), at("2024-01-04T00:00:00Z")),
    )


def test_rules_separated_by_until_are_accepted() -> None:
    january = rule("jan", every="1d", start="02:00", duration="3h", until="2024-02-01T02:00:00Z")
    february = rule("feb", every="1d", start="2024-02-01T02:00:00Z", duration="3h")
    check_no_overlap([january], february)
    check_no_overlap([february], january)
    one_more = rule("jan2", every="1d", start="02:00", duration="3h", until="2024-02-01T02:00:01Z")
    with pytest.raises(WindowOverlapError) as caught:
        check_no_overlap([february], one_more)
    assert caught.value.first is not None
    assert caught.value.first[0].begin == at("2024-02-01T02:00:00Z")


def test_an_old_rule_still_open_when_the_new_one_starts_overlaps() -> None:
    old = rule("old", every="1d", start="02:00", duration="3h", until="2024-02-01T02:00:01Z")
    new = rule("new", every="1h", start="2024-02-01T04:30:00Z", duration="10m")
    with pytest.raises(WindowOverlapError):
        check_no_overlap([old], new)


def test_a_name_already_used_is_rejected() -> None:
    with pytest.raises(DuplicateWindowError, match="already has a window named 'nightly'"):
        check_no_overlap([NIGHTLY], rule("nightly", every="1d", start="12:00", duration="1h"))


def test_rules_too_irregular_to_walk_are_rejected_as_unverifiable() -> None:
    first = rule("a", every="1000003s", duration="1s")
    second = rule("b", every="999983s", start="00:00:03", duration="1s")
    with pytest.raises(WindowOverlapError, match="cannot verify"):
        check_no_overlap([first], second)


def test_coprime_second_scale_rules_on_disjoint_days_are_accepted_at_once() -> None:
    first = rule("a", every="7s", duration="1s", on="MON")
    second = rule("b", every="11s", duration="1s", on="WED")
    check_no_overlap([first], second)


# --- input --------------------------------------------------------------------------------------


def test_hh_mm_start_is_that_time_on_the_day_of_today_and_none_is_midnight() -> None:
    assert rule("a", every="1d", start="02:00").start == at("2024-01-01T02:00:00Z")
    assert rule("a", every="1d", start="23:59").start == at("2024-01-01T23:59:00Z")
    assert rule("a", every="1d").start == at("2024-01-01T00:00:00Z")
    iso_start = rule("a", every="1d", start="2023-06-01T08:30:00+02:00")
    assert iso_start.start == at("2023-06-01T06:30:00Z")


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"every": "1d", "on": "MON,FUN"}, "unknown weekday 'FUN'"),
        ({"every": "1d", "on": "MON,,WED"}, "unknown weekday ''"),
        ({"every": "1d", "on": "MONDAY"}, "unknown weekday 'MONDAY'"),
        ({"every": "1h30m"}, "single unit"),
        ({"every": "0d"}, "longer than zero"),
        ({"every": "1y"}, "unknown unit"),
        ({"every": "1d", "duration": "0h"}, "longer than zero"),
        ({"every": "1d", "duration": "-1h"}, "bad duration '-1h'"),
        ({"every": "1d", "start": "25:00"}, "bad start time '25:00'"),
        ({"every": "1d", "start": "02:60"}, "bad start time"),
        ({"every": "1d", "start": "tomorrow"}, "bad start 'tomorrow'"),
        ({"every": "1d", "until": "soon"}, "bad until 'soon'"),
        ({"every": "1d", "start": "02:00", "until": "2024-01-01T01:00:00Z"}, "must come after"),
        (
            {"every": "1w", "start": "2024-01-02T00:00:00Z", "on": "MON"},
            "never opens: every 1w from 2024-01-02T00:00:00Z only begins on TUE",
        ),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(fields: dict[str, str], fragment: str) -> None:
    with pytest.raises(WindowError, match=fragment):
        rule("w", **fields)


@pytest.mark.parametrize("name", ["", "night ly", "a/b", "x" * 65, "é"])
def test_bad_names_are_rejected(name: str) -> None:
    with pytest.raises(WindowError, match="bad window name"):
        rule(name, every="1d")


def test_direct_construction_validates_too() -> None:
    with pytest.raises(WindowError, match="longer than zero"):
        WindowRule("w", 0, Interval(1, "d"), duration=-5)
    with pytest.raises(WindowError, match="names no day"):
        WindowRule("w", 0, Interval(1, "d"), weekdays=[])
    with pytest.raises(WindowError, match="0 \\(MON\\) to 6 \\(SUN\\)"):
        WindowRule("w", 0, Interval(1, "d"), weekdays=[7])
    with pytest.raises(WindowError, match="positive single unit"):
        WindowRule("w", 0, Interval(0, "d"))


def test_api_form_has_the_documented_fields() -> None:
    office = rule(
        "office",
        every="1d",
        start="09:00",
        duration="1h30m",
        on="fri,mon",
        until="2024-06-01T00:00:00Z",
    )
    assert office.to_api() == {
        "name": "office",
        "start_anchor": "2024-01-01T09:00:00Z",
        "duration_seconds": 5400,
        "freq_unit": "DAY",
        "freq_interval": 1,
        "valid_days": "MON,FRI",
        "until_time": "2024-06-01T00:00:00Z",
    }
    assert WindowRule.from_api(office.to_api()) == office
    assert WindowRule.from_row(office.to_row()) == office
    assert WindowRule.from_row(NIGHTLY.to_row()) == NIGHTLY
    assert WindowRule.from_api(NIGHTLY.to_api()) == NIGHTLY


def test_api_form_may_leave_out_duration_days_and_until() -> None:
    minimal = WindowRule.from_api(
        {
            "name": "tick",
            "start_anchor": "2024-01-01T00:00:00Z",
            "freq_unit": "minute",
            "freq_interval": 15,
        }
    )
    assert minimal.every == Interval(15, "m")
    assert minimal.duration == 15 * MINUTE
    assert minimal.weekdays is None and minimal.until is None


def test_api_form_defaults_the_interval_to_one_and_the_anchor_to_midnight_of_today() -> None:
    midnight = parse_instant("2024-01-01T00:00:00Z")
    hourly = WindowRule.from_api({"name": "hourly", "freq_unit": "HOUR"}, today=TODAY)
    assert (hourly.start, hourly.every, hourly.duration) == (midnight, Interval(1, "h"), HOUR)
    nulls = {"name": "n", "freq_unit": "DAY", "start_anchor": None, "freq_interval": 2}
    assert WindowRule.from_api(nulls, today=TODAY).start == midnight
    with pytest.raises(WindowError, match="'start_anchor' is missing"):
        WindowRule.from_api({"name": "n", "freq_unit": "DAY"})


@pytest.mark.parametrize("days", ["MON,FRI", "fri, mon", ["FRI", "mon"], ["mon,fri"]])
def test_api_form_takes_the_days_as_a_string_or_a_list(days: object) -> None:
    data = {**NIGHTLY.to_api(), "valid_days": days}
    assert WindowRule.from_api(data).to_api()["valid_days"] == "MON,FRI"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"name": "two words"}, "bad window name 'two words'"),
        ({"name": None}, "'name' is missing or not a str"),
        ({"freq_unit": "MONTH"}, "bad freq_unit: unknown frequency unit 'MONTH'"),
        ({"freq_unit": 3}, "freq_unit is missing or not text"),
        ({"freq_interval": "1"}, "freq_interval must be a whole number above 0"),
        ({"freq_interval": True}, "freq_interval must be a whole number above 0"),
        ({"freq_interval": 0}, "freq_interval must be a whole number above 0"),
        ({"freq_interval": 10**30}, "freq_interval 1000000000000000000000000000000 × DAY is l"),
        ({"valid_days": 5}, "valid_days must be a string like 'MON,WED,FRI' or a list"),
        ({"valid_days": ["MON", 3]}, "valid_days must be a string"),
        ({"valid_days": ["MON", "XYZ"]}, "bad valid_days: unknown weekday 'XYZ'"),
        ({"valid_days": ""}, "valid_days names no day"),
        ({"valid_days": []}, "valid_days names no day"),
        ({"start_anchor": "yesterday"}, "bad start_anchor"),
        ({"start_anchor": "0001-01-01T00:00:00+01:00"}, "bad start_anchor"),
        ({"until_time": "9999-12-31T23:59:59-01:00"}, "bad until_time"),
        ({"duration_seconds": "3600"}, "duration_seconds must be a number of seconds above 0"),
        ({"duration_seconds": 0}, "duration_seconds must be a number of seconds above 0"),
        ({"duration_seconds": 1e-9}, "duration_seconds must be a number of seconds above 0"),
        ({"duration_seconds": math.inf}, "duration_seconds must be a number of seconds above 0"),
        ({"duration_seconds": math.nan}, "duration_seconds must be a number of seconds above 0"),
        ({"duration_seconds": 1e300}, "duration_seconds must be at most 31622400000 seconds"),
        ({"until_time": 5}, "until_time must be an ISO-8601 string"),
        ({"until_time": "2023-01-01T00:00:00Z"}, "until_time .* must come after start_anchor"),
    ],
)
def test_bad_api_forms_are_rejected_naming_the_field(
    change: dict[str, object], fragment: str
) -> None:
    data = {**NIGHTLY.to_api(), **change}
    with pytest.raises(WindowError, match=fragment):
        WindowRule.from_api(data)


def test_describe_reads_like_the_cli() -> None:
    office = rule("office", every="1d", start="09:00", duration="1h30m", on="FRI,MON")
    assert office.describe() == "every 1d from 2024-01-01T09:00:00Z for 1h30m on MON,FRI"


# --- properties against brute force -------------------------------------------------------------


def brute_occurrences(r: WindowRule, horizon: int) -> list[tuple[int, int]]:
    """Every kept occurrence beginning before ``horizon``, by enumeration."""
    found = []
    begin = r.start
    while begin < horizon and (r.until is None or begin < r.until):
        weekday = from_micros(begin).weekday()
        if r.weekdays is None or weekday in r.weekdays:
            found.append((begin, begin + r.duration))
        begin += r.every.micros
    return found


def joint_period(*rules: WindowRule) -> int:
    filtered = any(r.weekdays is not None for r in rules)
    return math.lcm(*(r.every.micros for r in rules), *([WEEK] if filtered else []))


def brute_overlap(a: WindowRule, b: WindowRule) -> bool:
    # Two joint periods past the later anchor is more than enough for the pattern to repeat.
    horizon = max(a.start, b.start) + 2 * joint_period(a, b) + 2 * max(a.duration, b.duration)
    merged = sorted(brute_occurrences(a, horizon) + brute_occurrences(b, horizon))
    # Neither rule overlaps itself, so any interval starting before an earlier one ends is a
    # cross-rule intersection.
    reach = None
    for begin, end in merged:
        if reach is not None and begin < reach:
            return True
        reach = end if reach is None else max(reach, end)
    return False


def overlap_of(a: WindowRule, b: WindowRule) -> tuple[Window, Window] | None:
    try:
        check_no_overlap([b], a)
    except WindowOverlapError as error:
        assert error.first is not None
        return error.first
    return None


def assert_agrees(a: WindowRule, b: WindowRule) -> None:
    found = overlap_of(a, b)
    assert (found is not None) == brute_overlap(a, b)
    if found is not None:
        new, old = found
        assert a.occurrence_at(new.begin) == (new.begin, new.end)
        assert b.occurrence_at(old.begin) == (old.begin, old.end)
        assert new.begin < old.end and old.begin < new.end


BASE = at("2024-01-01T00:00:00Z")


@st.composite
def small_rules(draw: st.DrawFn, name: str) -> WindowRule:
    unit, size = draw(st.sampled_from([("s", SECOND), ("m", MINUTE)]))
    count = draw(st.integers(1, 12))
    every = count * size
    seconds = every // SECOND
    duration = draw(st.integers(1, max(1, seconds // 2)) | st.just(seconds)) * SECOND
    start = BASE + draw(st.integers(-400, 400)) * SECOND
    until = None
    if draw(st.booleans()):
        until = start + draw(st.integers(1, 800)) * SECOND
    return WindowRule(name, start, Interval(count, unit), duration, None, until)


@st.composite
def weekly_rules(draw: st.DrawFn, name: str) -> WindowRule:
    hours = draw(st.sampled_from([1, 2, 3, 5, 6, 8, 12, 24, 36, 48, 72, 84, 168]))
    duration = draw(st.integers(1, hours)) * HOUR
    start = BASE + draw(st.integers(-200, 200)) * HOUR
    days = draw(st.none() | st.frozensets(st.integers(0, 6), min_size=1, max_size=6))
    until = None
    if draw(st.booleans()):
        until = start + draw(st.integers(1, 24 * 40)) * HOUR
    try:
        return WindowRule(name, start, Interval(hours, "h"), duration, days, until)
    except WindowError:
        assume(False)
        raise


@settings(max_examples=300, deadline=None)
@given(small_rules("a"), small_rules("b"))
def test_overlap_check_matches_brute_force_on_second_scale_rules(
    a: WindowRule, b: WindowRule
) -> None:
    assert_agrees(a, b)


@settings(max_examples=200, deadline=None)
@given(weekly_rules("a"), weekly_rules("b"))
def test_overlap_check_matches_brute_force_with_weekday_filters(
    a: WindowRule, b: WindowRule
) -> None:
    assert_agrees(a, b)


def check_moments_against_brute_force(r: WindowRule, moments: list[int]) -> None:
    horizon = max(*moments, r.start) + joint_period(r) + 2 * r.every.micros
    occurrences = brute_occurrences(r, horizon)
    for moment in moments:
        holding = [(b, e) for b, e in occurrences if b <= moment < e]
        assert r.occurrence_at(moment) == (holding[0] if holding else None)
        later = [b for b, _ in occurrences if b > moment]
        assert r.next_open_after(moment) == (later[0] if later else None)
        edges = sorted({edge for pair in occurrences for edge in pair if edge > moment})
        assert r.next_boundary_after(moment) == (edges[0] if edges else None)


@settings(max_examples=200, deadline=None)
@given(small_rules("a"), st.lists(st.integers(-500, 1500), min_size=1, max_size=20))
def test_occurrences_match_brute_force_on_second_scale_rules(
    r: WindowRule, offsets: list[int]
) -> None:
    check_moments_against_brute_force(r, [BASE + offset * SECOND for offset in offsets])


@settings(max_examples=200, deadline=None)
@given(weekly_rules("a"), st.lists(st.integers(-300, 24 * 60), min_size=1, max_size=20))
def test_occurrences_match_brute_force_with_weekday_filters(
    r: WindowRule, offsets: list[int]
) -> None:
    moments = [BASE + offset * HOUR + offset * 7 * MINUTE for offset in offsets]
    check_moments_against_brute_force(r, moments)


def test_minute_rules_across_a_five_week_joint_pattern_match_brute_force() -> None:
    minutes = rule("minutes", every="7m", duration="2m", on="MON,TUE")
    hours = rule("hours", every="5h", start="00:03", duration="1m", on="TUE,WED")
    assert (overlap_of(minutes, hours) is not None) == brute_overlap(minutes, hours)
    apart = rule("apart", every="5h", start="00:03", duration="1m", on="THU")
    assert overlap_of(minutes, apart) is None
