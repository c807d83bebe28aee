"""The worker protocol's one definition: what one side writes, the other reads back the same.

The Duck's client writes paths, polls and event posts with these functions, and the Catchment's
lane reads them with their counterparts; the route reads a poll with the model the lane's
reading must agree with. (That the live lane and routes answer what the client writes:
tests/catchment/test_duck_lane.py.)
"""

from __future__ import annotations

from urllib.parse import unquote, urlencode

from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from duckstring.duck.protocol import (
    EVENTS,
    JOBS,
    POLL_WAIT,
    DuckEvent,
    JobsQuery,
    Poll,
    duck_event_id,
    events_body,
    events_path,
    jobs_path,
    jobs_query,
    out_of_range,
    parse_path,
    read_events,
    read_jobs_query,
    ripple_event_id,
    run_event_id,
    type_of,
)

INT64 = st.integers(-(2**63), 2**63 - 1)
POND_NAMES = st.from_regex(r"[a-z][a-z0-9_-]{0,40}", fullmatch=True)
MAJORS = st.integers(0, 10**18 - 1)
WAITS = st.floats(0, 60, allow_nan=False)


@given(name=POND_NAMES, major=MAJORS)
def test_the_paths_the_client_builds_parse_back_to_their_line(name: str, major: int) -> None:
    # The server hands the app the path decoded.
    assert parse_path(unquote(jobs_path(name, major))) == (name, major, JOBS)
    assert parse_path(unquote(events_path(name, major))) == (name, major, EVENTS)


def test_a_path_of_no_line_is_not_the_protocols() -> None:
    assert parse_path("/api/duck/pond/one/jobs") is None
    assert parse_path("/api/duck/pond/1/jobs/") is None
    assert parse_path("/api/duck/a/b/1/jobs") is None
    assert parse_path("/api/duck/pond/1/status") is None


@given(duck=st.text(), wait=WAITS, held=st.lists(INT64, max_size=5))
def test_the_poll_the_client_writes_the_lane_reads_back(
    duck: str, wait: float, held: list[int]
) -> None:
    assert read_jobs_query(jobs_query(duck, wait, held)) == Poll(duck, wait, tuple(held))


def test_a_poll_is_written_as_it_always_was() -> None:
    """Ducks of an older version poll a newer Catchment, and the other way round."""
    assert jobs_query("d1", 25.0) == "duck=d1&wait=25.0"
    assert jobs_query("d1", 0.5, [4, 5]) == "duck=d1&wait=0.5&held=4&held=5"
    assert jobs_query("host-7", 1e-5) == "duck=host-7&wait=0.00001"


def test_a_poll_that_does_not_say_waits_the_default() -> None:
    assert read_jobs_query("") == Poll(None, POLL_WAIT, ())
    assert JobsQuery().wait == POLL_WAIT


def _route_reads(query: str) -> JobsQuery | None:
    """The poll's query as the route reads it: FastAPI hands the model the last value of each
    single field and every value of a list field."""
    params = QueryParams(query)
    given_fields: dict[str, object] = {k: params[k] for k in ("duck", "wait") if k in params}
    if "held" in params:
        given_fields["held"] = params.getlist("held")
    try:
        return JobsQuery.model_validate(given_fields)
    except ValueError:
        return None


VALUES = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["0", "60", "60.0", "61", "-1", "1e3", " 5", "+5", "5.", ".5", "nan"]),
    st.integers(-(2**70), 2**70).map(str),
    WAITS.map(str),
)


@given(pairs=st.lists(st.tuples(st.sampled_from(["duck", "wait", "held", "x"]), VALUES)))
def test_what_the_lane_reads_the_route_reads_the_same(pairs: list[tuple[str, str]]) -> None:
    """The lane answers a poll only if the route would, and as the route would; what it
    leaves (any other spelling) the route reads."""
    query = urlencode(pairs)
    lane = read_jobs_query(query)
    if lane is not None:
        route = _route_reads(query)
        assert route is not None, query
        assert Poll(route.duck, route.wait, tuple(route.held)) == lane


EVENTS_OF_A_DUCK = st.lists(
    st.builds(
        DuckEvent,
        id=st.text(),
        type=st.sampled_from(["ripple_started", "run_completed", "worker_error", "heartbeat"]),
        at=INT64,
        seq=st.none() | INT64,
        f=st.none() | INT64,
        ripple=st.none() | st.text(),
        attempt=st.none() | st.integers(0, 2**63 - 1),
        retrying=st.booleans(),
        busy=st.booleans(),
        error=st.none() | st.text(),
        traceback=st.none() | st.text(),
    ),
    max_size=4,
)


@given(events=EVENTS_OF_A_DUCK)
def test_the_event_post_the_duck_writes_the_lane_reads_back(events: list[DuckEvent]) -> None:
    assert read_events(events_body(event.model_dump_json() for event in events)) == events


def test_an_event_the_store_cannot_hold_is_left_to_the_route() -> None:
    event = DuckEvent(id="late", type="run_completed", at=0, seq=1, f=2**63)
    assert out_of_range([event]) == "event 'late': f is out of range"
    assert read_events(events_body([event.model_dump_json()])) is None
    assert read_events(b'{"events": [{"id": "x"}]}') is None
    assert read_events(b"{not json") is None


def test_event_ids_name_the_fact_as_they_always_did() -> None:
    """Ids are kept: in a Duck's ledger until they are sent, and by the Catchment once applied,
    so an adopted Duck of another version replays ids this one must know."""
    assert ripple_event_id("ripple_started", 3, "daily", 1) == "ripple_started:3:daily:1"
    assert run_event_id("run_completed", 3) == "run_completed:3"
    assert duck_event_id("heartbeat", "host-7", 1_700_000) == "heartbeat:host-7:1700000"
    assert type_of(ripple_event_id("ripple_failed", 3, "daily", 1)) == "ripple_failed"
    assert type_of(run_event_id("run_failed", 9)) == "run_failed"
