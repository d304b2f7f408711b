"""Keep every expectation result in the warehouse (ops.quality_results), for trends and audits."""

from __future__ import annotations

import json
from collections.abc import Sequence

import psycopg
from psycopg.types.json import Jsonb

from expectations.gx_project import SuiteOutcome

# The alter brings a table created before expectations had descriptions up to date.
DDL = """
create table if not exists ops.quality_results (
    evaluated_at     timestamptz not null default now(),
    run_id           text,
    suite            text        not null,
    table_name       text        not null,
    expectation      text        not null,
    column_name      text,
    success          boolean     not null,
    unexpected_count bigint,
    sample_values    jsonb,
    observed_value   jsonb,
    description      text
);
alter table ops.quality_results add column if not exists description text
"""


def record(conninfo: str, outcomes: Sequence[SuiteOutcome], run_id: str | None) -> None:
    with psycopg.connect(conninfo) as conn:
        conn.execute(DDL)
        with conn.cursor() as cursor:
            cursor.executemany(
                "insert into ops.quality_results (run_id, suite, table_name, expectation, column_name, success,"
                " unexpected_count, sample_values, observed_value, description)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        run_id, outcome.suite, outcome.table, e.expectation, e.column, e.success, e.unexpected_count,
                        Jsonb(e.sample_values, dumps=_dumps), Jsonb(e.observed, dumps=_dumps), e.description,
                    )
                    for outcome in outcomes
                    for e in outcome.expectations
                ],
            )


def _dumps(value) -> str:
    # Observed values can be dates or decimals.
    return json.dumps(value, default=str)
