"""A spare Duck's rehearsal leaves nothing behind: the prepared DuckDB instance, the modules
and the scratch folder are as they were, and the line's database opens as usual after it."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from scripts import run_script

CHECK = textwrap.dedent(
    """
    import os
    import sys
    from pathlib import Path

    from duckstring.duck import registry, spare

    registry.prepare()
    spare.get_ready()
    print("modules:", [m for m in sys.modules if m.startswith("_duckstring_module_")])
    con = registry.open_registry(Path(sys.argv[1]))
    con.execute("CREATE TABLE t AS SELECT 42 AS n")
    print("databases:", sorted(
        r[0] for r in con.execute(
            "SELECT database_name FROM duckdb_databases() WHERE NOT internal"
        ).fetchall()
    ))
    print("tables:", con.execute(
        "SELECT database_name, table_name FROM duckdb_tables()"
    ).fetchall())
    print("threads:", con.execute("SELECT current_setting('threads')").fetchone()[0]
          == (os.cpu_count() or 1))
    con.close()
    """
)


def test_the_rehearsal_leaves_the_instance_and_the_machine_as_they_were(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    done = run_script(tmp_path, CHECK, str(tmp_path / "registry.duckdb"), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "modules: []",
        "databases: ['registry']",
        "tables: [('registry', 't')]",
        "threads: True",
    ], done.stderr
    assert list(scratch.iterdir()) == []  # the scratch line is gone
