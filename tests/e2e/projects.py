"""Small Pond projects written on the fly for end-to-end tests."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_pond(
    parent: Path,
    name: str,
    body: str,
    *,
    version: str = "1.0.0",
    kind: str = "pond",
    sources: dict[str, str] | None = None,
    settings: str = "",
) -> Path:
    """A project ``parent/name-version`` whose ``src/pond.py`` is ``body`` (dedented)."""
    project = parent / f"{name}-{version}"
    (project / "src").mkdir(parents=True)
    manifest = [
        "[pond]",
        f'name = "{name}"',
        f'version = "{version}"',
        f'type = "{kind}"',
        textwrap.dedent(settings).strip(),
    ]
    if sources:
        manifest.append("\n[sources]")
        manifest.extend(f'{source} = "{spec}"' for source, spec in sources.items())
    (project / "pond.toml").write_text("\n".join(manifest) + "\n")
    header = "from duckstring import ripple\n"
    (project / "src" / "pond.py").write_text(header + textwrap.dedent(body))
    return project


COUNTER = """
@ripple
def numbers(pond):
    previous = 0
    try:
        previous = pond.read_table("numbers").fetchone()[0]
    except Exception:
        pass
    pond.write_table("numbers", pond.con.sql(f"SELECT {previous} + 1 AS n"))
"""

COPY_OF = """
@ripple
def {table}(pond):
    pond.write_table("{table}", pond.read_table("{source}.{source_table}"))
"""

RAISES = """
@ripple
def fragile(pond):
    raise ValueError("the input is broken")
"""


def copy_pond(
    parent: Path, name: str, source: str, source_table: str, *, table: str, kind: str = "pond"
) -> Path:
    """A Pond whose one Ripple copies ``source.source_table`` into its table ``table``."""
    return write_pond(
        parent,
        name,
        COPY_OF.format(table=table, source=source, source_table=source_table),
        kind=kind,
        sources={source: "1.0.0"},
    )


def chain_projects(parent: Path, source_body: str = COUNTER) -> list[Path]:
    """source (an Inlet running ``source_body``) -> middle -> sink (an Outlet)."""
    return [
        write_pond(parent, "source", source_body, kind="inlet"),
        copy_pond(parent, "middle", "source", "numbers", table="middle"),
        copy_pond(parent, "sink", "middle", "middle", table="sink", kind="outlet"),
    ]
