"""Keep every expectation result in the warehouse (ops.quality_results), for trends and audits.

The table is created with the other ops tables when the stack starts (orchestration/migrations).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import psycopg
from psycopg.types.json import Jsonb

from expectations.gx_project import SuiteOutcome


def record(conninfo: str, outcomes: Sequence[SuiteOutcome], run_id: str | None) -> None:
    with psycopg.connect(conninfo) as conn, conn.cursor() as cursor:
        cursor.executemany(
            "insert into ops.quality_results (run_id, suite, table_name, expectation, column_name, success,"
            " unexpected_count, sample_values, observed_value, description)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    run_id,
                    outcome.suite,
                    outcome.table,
                    e.expectation,
                    e.column,
                    e.success,
                    e.unexpected_count,
                    Jsonb(e.sample_values, dumps=_dumps),
                    Jsonb(e.observed, dumps=_dumps),
                    e.description,
                )
                for outcome in outcomes
                for e in outcome.expectations
            ],
        )


def _dumps(value) -> str:
    # Observed values can be dates or decimals.
    return json.dumps(value, default=str)
