import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

ProjectFactory = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    """Write a Pond project: ``make_project(manifest, ripples, puddles=None, name="pond")``."""

    def make(manifest: str, ripples: str, puddles: str | None = None, name: str = "pond") -> Path:
        project = tmp_path / name
        (project / "src").mkdir(parents=True, exist_ok=True)
        (project / "pond.toml").write_text(textwrap.dedent(manifest))
        (project / "src" / "pond.py").write_text(textwrap.dedent(ripples))
        if puddles is not None:
            (project / "src" / "puddles.py").write_text(textwrap.dedent(puddles))
        return project

    return make
