"""The read-only role reads the marts and nothing more."""

import psycopg
import pytest

pytestmark = pytest.mark.integration


def test_the_read_only_role_has_no_temporary_tables_no_other_database_and_a_statement_timeout(stack):
    reader = stack.settings.bi_reader
    with psycopg.connect(reader.url(), autocommit=True) as conn:
        assert conn.execute("show statement_timeout").fetchone()[0] not in ("0", "0ms")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create temp table scratch (x int)")
    for database in ("dagster", "superset", "postgres"):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(reader.with_database(database).url()).close()
