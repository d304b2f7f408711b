"""The quality group's asset: the latest result of every suite, and where the Data Docs are."""

from __future__ import annotations

import dagster as dg
import psycopg

from expectations.gx_project import data_docs_index
from orchestration.metadata import markdown_table
from orchestration.quality_checks import SUITES
from orchestration.resources import GreatExpectationsResource, WarehouseResource


def quality_report_for(mart_keys: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(["quality", "report"]),
        deps=mart_keys,
        group_name="quality",
        owners=["team:data-platform"],
        kinds={"great_expectations"},
        description="Latest outcome of each Great Expectations suite (ops.quality_results) and the Data Docs site.",
    )
    def quality_report(warehouse: WarehouseResource, great_expectations: GreatExpectationsResource) -> dg.MaterializeResult:
        with psycopg.connect(warehouse.url()) as conn:
            latest = conn.execute(
                """
                with last_run as (
                    select distinct on (suite) suite, run_id, evaluated_at
                    from ops.quality_results order by suite, evaluated_at desc
                )
                select r.suite, max(r.evaluated_at), bool_and(r.success), count(*), count(*) filter (where not r.success)
                from ops.quality_results r join last_run l using (suite, run_id)
                group by r.suite order by r.suite
                """
            ).fetchall()
        return dg.MaterializeResult(
            metadata={
                "suites": len(SUITES),
                "suites_failing": sum(1 for row in latest if not row[2]),
                "latest": markdown_table(["suite", "evaluated at", "passed", "expectations", "failed"], latest),
                "data_docs": dg.MetadataValue.path(str(data_docs_index(great_expectations.path))),
            }
        )

    return quality_report
