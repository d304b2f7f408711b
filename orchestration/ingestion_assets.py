"""The ingestion stage as a Dagster asset: landed files -> raw.order_lines."""

from datetime import date
from pathlib import Path

import dagster as dg
from pydantic import Field

from ingestion.loader import LoadSummary, load_landing
from ingestion.sources import load_mappings
from ingestion.transform import ValueRules
from orchestration.dbt_cli import currencies_with_rates
from orchestration.metadata import markdown_table, table_metadata
from orchestration.resources import LandingResource, WarehouseResource

# dbt reads this table as source shop.order_lines; the translator gives it this same key.
RAW_ORDER_LINES = dg.AssetKey(["raw", "order_lines"])
INGESTION_PROBLEMS_CHECK = "no_rejected_files_or_quarantined_rows"


class IngestionConfig(dg.Config):
    landing_dir: str = Field(
        default="", description="Folder to load from; empty means the stack's landing folder (ECOM_LANDING_DIR)."
    )


@dg.asset(
    key=RAW_ORDER_LINES,
    group_name="ingestion",
    owners=["team:data-platform"],
    kinds={"python", "postgres"},
    description="Order lines of every landed file, validated; bad rows in quarantine.order_lines.",
    check_specs=[
        dg.AssetCheckSpec(
            INGESTION_PROBLEMS_CHECK,
            asset=RAW_ORDER_LINES,
            # Blocks only when ECOM_INGESTION_PROBLEMS=fail makes its failure an error, not a warning.
            blocking=True,
            description="This run rejected no file, found a mapping for every file and quarantined no row"
            " (ECOM_INGESTION_PROBLEMS: warn or fail).",
        )
    ],
)
def raw_order_lines(
    context: dg.AssetExecutionContext, config: IngestionConfig, warehouse: WarehouseResource, landing: LandingResource
) -> dg.MaterializeResult:
    landing_dir = Path(config.landing_dir) if config.landing_dir else landing.landing_path
    landing_dir.mkdir(parents=True, exist_ok=True)
    url = warehouse.url()

    def report(result):
        context.log.info(
            f"{result.file_name}: {result.status} ({result.rows_loaded} loaded, {result.rows_quarantined} quarantined)"
            + (f": {result.error}" if result.error else "")
        )

    summary = load_landing(
        url,
        landing_dir,
        load_mappings([landing.sources_path]),
        on_file=report,
        rules=value_rules(landing.earliest_order_day),
        stable_seconds=landing.stable_seconds,
    )
    new_files = [result for result in summary.files if result.status != "skipped"]
    return dg.MaterializeResult(
        check_results=[ingestion_problems_check(summary, landing.ingestion_problems)],
        metadata={
            "files_loaded": summary.count("loaded"),
            "files_rejected": summary.count("rejected"),
            "files_skipped": summary.count("skipped"),
            "files_unmatched": summary.count("unmatched"),
            "files_refused": summary.count("refused"),
            "files_waiting": summary.count("waiting"),
            "rows_loaded": summary.rows_loaded,
            "rows_quarantined": summary.rows_quarantined,
            "rows_per_second": round(summary.rows_loaded / summary.seconds) if summary.seconds else 0,
            "files": markdown_table(
                ["file", "source", "status", "rows loaded", "rows quarantined", "orders replaced", "error"],
                [
                    [r.file_name, r.source, r.status, r.rows_loaded, r.rows_quarantined, r.orders_replaced, r.error]
                    for r in new_files
                ],
            ),
            **table_metadata(url, "raw", "order_lines", order_by="file_id desc, source_line"),
        },
    )


def ingestion_problems_check(summary: LoadSummary, severity_setting: str) -> dg.AssetCheckResult:
    """Fails (as a warning, or an error with ECOM_INGESTION_PROBLEMS=fail) when the run rejected a file,
    met a file no mapping reads, refused one (a symbolic link, say), met a mapping that cannot be read,
    or quarantined rows: a run with any of them must not look like a clean success."""
    problems = summary.problems
    return dg.AssetCheckResult(
        check_name=INGESTION_PROBLEMS_CHECK,
        asset_key=RAW_ORDER_LINES,
        passed=not problems and not summary.mapping_errors,
        severity=dg.AssetCheckSeverity.ERROR if severity_setting == "fail" else dg.AssetCheckSeverity.WARN,
        metadata={
            "files_rejected": summary.count("rejected"),
            "files_unmatched": summary.count("unmatched"),
            "files_refused": summary.count("refused"),
            "rows_quarantined": summary.rows_quarantined,
            # For `ecom run`'s summary.
            "problems": dg.MetadataValue.json({"mapping_errors": summary.mapping_errors, "files": [vars(r) for r in problems]}),
            "mappings_out_of_action": dg.MetadataValue.md("\n".join(f"- {error}" for error in summary.mapping_errors) or "none"),
            "top_quarantine_reasons": markdown_table(["reason", "rows"], summary.top_reasons()),
            "problem_files": markdown_table(
                ["file", "status", "rows quarantined", "why"],
                [
                    [
                        r.file_name,
                        r.status,
                        r.rows_quarantined,
                        r.error or "; ".join(f"{reason}: {n}" for reason, n, _ in r.top_reasons),
                    ]
                    for r in problems
                ],
            ),
        },
    )


def value_rules(earliest_order_date: date) -> ValueRules:
    """What the loader accepts beyond the contract's types: dates from ECOM_EARLIEST_ORDER_DATE on, and
    the currencies the dbt project has rates for, so no such value fails a gate after loading."""
    return ValueRules(earliest_order_date=earliest_order_date, currencies_with_rates=currencies_with_rates())
