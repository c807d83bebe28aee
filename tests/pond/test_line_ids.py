"""A line is written ``name@major`` in one place, and read back from it with a clear refusal of
anything else."""

from __future__ import annotations

import pytest

from duckstring.pond.names import line_id, parse_line


@pytest.mark.parametrize(("name", "major"), [("sales", 1), ("daily-report_2", 0), ("a", 12)])
def test_a_line_id_reads_back_as_its_name_and_major(name: str, major: int) -> None:
    assert line_id(name, major) == f"{name}@{major}"
    assert parse_line(line_id(name, major)) == (name, major)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("sales", "written name@major"),
        ("sales@", "written name@major"),
        ("sales@one", "written name@major"),
        ("sales@-1", "written name@major"),
        ("sales@01", "written name@major"),
        ("sales@1.0", "written name@major"),
        ("sales@١", "written name@major"),
        ("@1", "must not be empty"),
        ("Sales@1", "Pond name 'Sales' is not allowed"),
        ("a@b@1", "Pond name 'a@b' is not allowed"),
        (7, "written name@major"),
    ],
)
def test_a_malformed_line_is_refused_saying_why(line: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        parse_line(line)
    assert repr(line) in str(refused.value), "the refusal names the line"
