"""The Great Expectations project: a file-backed GX context with the warehouse as its data source, one
checkpoint per run, Data Docs (made to open offline by expectations/data_docs.py), and the runner that
validates the suites of expectations/suites.py.

One run validates several tables through ONE checkpoint (one validation definition per suite) and then
updates GX's Data Docs (a static site) once, so results accumulate there. great_expectations takes
seconds to import, so it is imported inside the functions that need it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expectations.data_docs import make_offline
from expectations.suites import Suite

# The GX project stores this placeholder, not the URL: no password is written to disk.
CONNECTION_ENV = "GX_WAREHOUSE_URL"
DATASOURCE = "warehouse"
BATCH_DEFINITION = "whole_table"
# The Data Docs index lists this many latest validation results. GX reads every stored result to
# build the index otherwise, and one run per new file stores one result per suite.
DATA_DOCS_INDEX_RESULTS = 100


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None = None
    sample_values: list[Any] = field(default_factory=list)
    observed: Any = None
    # The rule the expectation checks (the dbt test it was built from, or what a query looks for).
    description: str | None = None


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    table: str
    success: bool
    expectations: list[ExpectationOutcome]

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [outcome for outcome in self.expectations if not outcome.success]


def data_docs_index(gx_dir: Path) -> Path:
    return gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def _context(gx_dir: Path):
    """The file-backed GX project, its Data Docs index capped, and the warehouse data source."""
    import great_expectations as gx

    gx_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(gx_dir))
    for site_name, site in context.config.data_docs_sites.items():
        index_builder = site.setdefault("site_index_builder", {"class_name": "DefaultSiteIndexBuilder"})
        if index_builder.get("validation_results_limit") != DATA_DOCS_INDEX_RESULTS:
            index_builder["validation_results_limit"] = DATA_DOCS_INDEX_RESULTS
            context.update_data_docs_site(site_name, site)
    try:
        context.data_sources.get(DATASOURCE)
    except KeyError:
        # add_sql, not add_postgres: the latter rejects valid URLs without a TCP host.
        context.data_sources.add_sql(name=DATASOURCE, connection_string="${" + CONNECTION_ENV + "}")
    return context


def _prune_stored_results(gx_dir: Path, specs: Sequence[Suite], keep: int) -> None:
    """GX keeps every validation result, as JSON and as a Data Docs page, for ever: some 10 KB and
    40 KB per suite and run. The warehouse keeps them all (ops.quality_results); the GX project keeps
    each suite's latest `keep`, at least as many as the Data Docs index links to."""
    uncommitted = gx_dir / "gx" / "uncommitted"
    for store in (uncommitted / "validations", uncommitted / "data_docs" / "local_site" / "validations"):
        for spec in specs:
            # <store>/<schema>/<table>/<run name>/<run time>/...; run times sort as they happened.
            for run_name in (store / spec.schema / spec.table).glob("*/"):
                for stale in sorted(run_name.iterdir())[:-keep]:
                    shutil.rmtree(stale)


def gx_expectations(suite_spec: Suite) -> list:
    """The suite's expectations as great_expectations objects."""
    import great_expectations.expectations as gxe

    return [
        getattr(gxe, expectation.type)(**expectation.kwargs, description=expectation.description)
        for expectation in suite_spec.expectations
    ]


def _validation_definition(context, suite_spec: Suite, in_candidate_schemas: bool):
    """The suite (rewritten from the manifest on every run) against its whole table."""
    import great_expectations as gx

    schema = suite_spec.candidate_schema if in_candidate_schemas else suite_spec.schema
    # Looked up, not re-created: every asset or batch definition added rewrites great_expectations.yml.
    source = context.data_sources.get(DATASOURCE)
    asset_name = f"{schema}.{suite_spec.table}"
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = source.add_table_asset(name=asset_name, table_name=suite_spec.table, schema_name=schema)
    try:
        batch = asset.get_batch_definition(BATCH_DEFINITION)
    except KeyError:
        batch = asset.add_batch_definition_whole_table(BATCH_DEFINITION)
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=suite_spec.name, expectations=gx_expectations(suite_spec)))
    return context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{suite_spec.name}:{BATCH_DEFINITION}", data=batch, suite=suite)
    )


def validate(
    specs: Sequence[Suite],
    sqlalchemy_url: str,
    gx_dir: Path,
    keep_results: int = DATA_DOCS_INDEX_RESULTS,
    in_candidate_schemas: bool = False,
) -> list[SuiteOutcome]:
    """Run the suites against their tables through one checkpoint, then update the Data Docs once and
    drop each suite's stored results but the latest `keep_results`. `in_candidate_schemas` validates
    the tables where dbt built them before publication (the pipeline's gate) instead of the published ones."""
    import great_expectations as gx

    os.environ[CONNECTION_ENV] = sqlalchemy_url
    context = _context(gx_dir)
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            # One checkpoint per schema: the raw gate and the mart gates run at different times.
            name="+".join(sorted({spec.schema for spec in specs})),
            validation_definitions=[_validation_definition(context, spec, in_candidate_schemas) for spec in specs],
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
        )
    )
    run_results = checkpoint.run().run_results
    # Not UpdateDataDocsAction: it rebuilds the index and copies the static assets once per result.
    context.build_data_docs(
        resource_identifiers=[identifier for key in run_results for identifier in (key, key.expectation_suite_identifier)]
    )
    _prune_stored_results(gx_dir, specs, keep_results)
    make_offline(data_docs_index(gx_dir).parent)
    by_suite = {result.suite_name: result for result in run_results.values()}
    return [
        SuiteOutcome(
            suite=spec.name,
            table=spec.name,
            success=bool(by_suite[spec.name].success),
            expectations=[_outcome(item) for item in by_suite[spec.name].results],
        )
        for spec in specs
    ]


def _outcome(item) -> ExpectationOutcome:
    config = item.expectation_config
    details = item.result or {}
    return ExpectationOutcome(
        expectation=config.type,
        column=config.kwargs.get("column") or config.kwargs.get("column_A") or _joined(config.kwargs.get("column_list")),
        success=bool(item.success),
        # An UnexpectedRowsExpectation observes the number of rows its query returned: its unexpected count.
        unexpected_count=details.get(
            "unexpected_count", details.get("observed_value") if config.type == "unexpected_rows_expectation" else None
        ),
        sample_values=list(details.get("partial_unexpected_list") or [])[:5],
        observed=details.get("observed_value"),
        description=config.description,
    )


def _joined(columns: list[str] | None) -> str | None:
    return ", ".join(columns) if columns else None
