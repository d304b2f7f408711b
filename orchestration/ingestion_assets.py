"""The ingestion stage as a Dagster asset: landed files -> raw.order_lines."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from ingestion.loader import load_landing
from ingestion.sources import load_mappings
from orchestration.metadata import markdown_table, table_metadata
from orchestration.settings import load_settings

# dbt reads this table as source shop.order_lines; the translator gives it this same key.
RAW_ORDER_LINES = dg.AssetKey(["raw", "order_lines"])


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
)
def raw_order_lines(context: dg.AssetExecutionContext, config: IngestionConfig) -> dg.MaterializeResult:
    settings = load_settings()
    landing_dir = Path(config.landing_dir) if config.landing_dir else settings.landing_dir
    landing_dir.mkdir(parents=True, exist_ok=True)
    url = settings.warehouse.url()

    def report(result):
        context.log.info(
            f"{result.file_name}: {result.status} ({result.rows_loaded} loaded, {result.rows_quarantined} quarantined)"
            + (f": {result.error}" if result.error else "")
        )

    summary = load_landing(url, landing_dir, load_mappings(), on_file=report)
    new_files = [result for result in summary.files if result.status != "skipped"]
    return dg.MaterializeResult(
        metadata={
            "files_loaded": summary.count("loaded"),
            "files_rejected": summary.count("rejected"),
            "files_skipped": summary.count("skipped"),
            "rows_loaded": summary.rows_loaded,
            "rows_quarantined": summary.rows_quarantined,
            "rows_per_second": round(summary.rows_loaded / summary.seconds) if summary.seconds else 0,
            "files": markdown_table(
                ["file", "status", "rows loaded", "rows quarantined", "orders replaced", "error"],
                [[r.file_name, r.status, r.rows_loaded, r.rows_quarantined, r.orders_replaced, r.error] for r in new_files],
            ),
            **table_metadata(url, "raw", "order_lines", order_by="file_id desc, source_line"),
        }
    )
