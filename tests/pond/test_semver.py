import pytest

from duckstring.pond.semver import SemVer, SemVerError


def test_parse_exposes_parts_and_round_trips() -> None:
    version = SemVer.parse("2.10.3-rc.1+build.7")
    assert (version.major, version.minor, version.patch) == (2, 10, 3)
    assert version.prerelease == ("rc", "1")
    assert version.build == ("build", "7")
    assert str(version) == "2.10.3-rc.1+build.7"


def test_ordering_follows_semver_precedence() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.2.0",
        "1.10.0",
        "2.0.0",
    ]
    parsed = [SemVer.parse(text) for text in ordered]
    assert sorted(reversed(parsed)) == parsed
    assert SemVer.parse("1.9.0") < SemVer.parse("1.10.0")


def test_build_metadata_does_not_change_precedence() -> None:
    assert SemVer.parse("1.0.0+a") == SemVer.parse("1.0.0+b")
    assert len({SemVer.parse("1.0.0+a"), SemVer.parse("1.0.0")}) == 1


@pytest.mark.parametrize(
    "text",
    ["1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "v1.2.3", "1.2.3-", "1.2.3-01", "", "a.b.c"],
)
def test_malformed_versions_are_rejected_with_the_text_named(text: str) -> None:
    with pytest.raises(SemVerError, match="SemVer"):
        SemVer.parse(text)
