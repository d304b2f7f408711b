"""Running it all from Dagster: files flow through by themselves, gates stop bad data, failures alert."""

import calendar
import csv
import http.server
import json
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import dagster as dg
import pytest

from ecom_superset.bundle import load_assets
from ecom_superset.dashboard_filters import filtered_query_context
from ecom_superset.publisher import Superset

pytestmark = pytest.mark.integration

EXPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "exports"


def wait_for(predicate, timeout: float, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


def test_a_new_file_reaches_the_marts_and_the_dashboard_by_itself(stack):
    with stack.warehouse() as conn:
        last_day = conn.execute("select max(order_date) from marts.kpi_daily").fetchone()[0]
    new_day = date.fromordinal(last_day.toordinal() + 1)
    dropped = time.monotonic()
    generated = stack.ecom(
        "generate",
        "--orders",
        "300",
        "--days",
        "1",
        "--seed",
        "99",
        "--start",
        new_day.isoformat(),
        "--out",
        str(stack.settings.landing_dir),
    )
    assert generated.returncode == 0, generated.stderr

    def new_day_in_mart():
        with stack.warehouse() as conn:
            row = conn.execute("select orders from marts.kpi_daily where order_date = %s", (new_day,)).fetchone()
        return row is not None and row[0] > 0

    assert wait_for(new_day_in_mart, timeout=300), "the new day never reached marts.kpi_daily"
    in_mart = time.monotonic() - dropped

    new_day_epoch_ms = calendar.timegm(new_day.timetuple()) * 1000

    def new_day_in_chart():
        # The chart has a row for every calendar day (zero without sales): the new day must have revenue.
        rows = _chart_data(stack, f"{last_day.isoformat()} : {(new_day + timedelta(days=1)).isoformat()}")
        return any(row.get("order_date") == new_day_epoch_ms and (row.get("net_revenue") or 0) > 0 for row in rows)

    assert wait_for(new_day_in_chart, timeout=180), "the dashboard's chart never showed the new day"
    in_dashboard = time.monotonic() - dropped
    print(f"\nnew day in marts.kpi_daily after {in_mart:.0f} s, in the dashboard chart after {in_dashboard:.0f} s")


def _chart_data(stack, time_range: str = "2025-01-01 : 2025-04-01") -> list[dict]:
    """The revenue-over-time chart's data as an uncached query returns it (force=true) for a date range,
    set as the dashboard's Order date filter sets it (its saved range is the previous calendar month,
    and its year-ago comparison needs a range with both ends)."""
    superset = Superset(stack.settings.superset_url, stack.settings.superset_admin_user, stack.settings.superset_admin_password)
    chart = next(c for c in load_assets().charts if c.spec["viz_type"] == "echarts_timeseries_line")
    chart_id = superset.id_by_uuid("chart", chart.uuid)
    saved = superset._checked(superset.client.get(superset._api(f"chart/{chart_id}")), f"chart {chart_id}")["result"]
    context = filtered_query_context(json.loads(saved["query_context"]), [{"time_range": time_range}])
    context.update(force=True, result_format="json", result_type="full")
    response = superset._checked(superset.client.post(superset._api("chart/data"), json=context), f"chart {chart_id} data")
    return response["result"][0]["data"]


def _published_kpis(stack) -> list[tuple]:
    with stack.warehouse() as conn:
        return conn.execute("select * from marts.kpi_daily order by order_date").fetchall()


def test_a_defect_in_the_candidate_fails_its_gate_leaves_the_dashboards_and_the_next_run_recovers(stack, monkeypatch):
    """Write-audit-publish: dbt builds the candidate schemas, a defect injected there fails the gate,
    the published marts (so every uncached dashboard query) stay as they were, and the next run
    rebuilds the candidate in full and publishes it without any manual step."""
    from orchestration.dbt_assets import TARGET_FOLDERS_KEPT, dbt_models
    from orchestration.dbt_cli import dbt_project
    from orchestration.definitions import definitions_for
    from orchestration.publication import PUBLISHED_MARTS

    for name, value in stack.settings.stack_env().items():  # what dbt's profile and the assets read
        monkeypatch.setenv(name, value)
    # Built here, for this stack: the module's own `defs` has the settings of whoever imported it first.
    job = definitions_for(stack.settings).resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.ephemeral()
    published, chart = _published_kpis(stack), _chart_data(stack)
    assert any(row.get("net_revenue") for row in chart), "the chart compared below has no revenue to compare"

    built = job.get_subset(asset_selection=set(dbt_models.keys)).execute_in_process(instance=instance)
    assert built.success
    with stack.warehouse(autocommit=True) as conn:
        conn.execute(
            "update marts_candidate.kpi_daily set orders = -5 where order_date = (select min(order_date) from marts_candidate.kpi_daily)"
        )

    gate = dg.AssetCheckKey(dg.AssetKey(["marts", "kpi_daily"]), "great_expectations_kpi_daily")
    publication = {PUBLISHED_MARTS, dg.AssetKey(["superset", "dataset", "kpi_daily"]), dg.AssetKey(["superset", "dashboards"])}
    gated = job.get_subset(asset_selection=publication, asset_check_selection={gate}).execute_in_process(
        instance=instance, raise_on_error=False
    )
    evaluations = [
        e.asset_check_evaluation_data for e in gated.all_events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    assert [(e.check_name, e.passed) for e in evaluations] == [("great_expectations_kpi_daily", False)]
    assert evaluations[0].metadata["expectations_failed"].value >= 1
    assert not any(e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION for e in gated.all_events), (
        "published although the gate failed"
    )
    with stack.warehouse() as conn:
        failed = conn.execute(
            "select expectation, column_name, unexpected_count from ops.quality_results where run_id = %s and not success",
            (gated.run_id,),
        ).fetchall()
        state = conn.execute("select candidate_state from ops.publication").fetchone()[0]
    assert ("expect_column_values_to_be_between", "orders", 1) in failed
    assert state == "built"
    assert _published_kpis(stack) == published and _chart_data(stack) == chart

    recovered = stack.ecom("run", "--no-demo")
    assert recovered.returncode == 0, recovered.stdout[-4000:] + recovered.stderr[-2000:]
    with stack.warehouse() as conn:
        negative_days = conn.execute("select count(*) from marts.kpi_daily where orders < 0").fetchone()[0]
        state = conn.execute("select candidate_state from ops.publication").fetchone()[0]
    assert negative_days == 0 and state == "published"
    stack.assert_reconciled()
    # Each successful build removes its dagster-dbt target folder; a few failed builds' stay to be read.
    assert len(list((dbt_project.project_dir / "target").glob("dbt_models-*"))) <= TARGET_FOLDERS_KEPT


class _Hook(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_failed_run_is_recorded_and_posted_to_the_webhook(stack, tmp_path):
    hook = urlsplit(stack.env["ALERT_WEBHOOK_URL"])
    server = http.server.HTTPServer((hook.hostname, hook.port), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        not_a_folder = tmp_path / "not-a-folder"
        not_a_folder.write_text("a file where the landing folder should be")
        from dagster_graphql import DagsterGraphQLClient

        client = DagsterGraphQLClient("127.0.0.1", port_number=stack.settings.dagster_port)
        run_id = client.submit_job_execution(
            "full_pipeline",
            repository_location_name="ecommerce_analytics",
            run_config={"ops": {"raw__order_lines": {"config": {"landing_dir": str(not_a_folder)}}}},
        )

        def alert():
            with stack.warehouse() as conn:
                exists = conn.execute("select to_regclass('ops.alerts')").fetchone()[0]
                return (
                    exists
                    and conn.execute(
                        "select job_name, delivered, failed_steps from ops.alerts where run_id = %s", (run_id,)
                    ).fetchone()
                )

        recorded = wait_for(alert, timeout=240)
        assert recorded, "no alert in ops.alerts"
        job_name, delivered, failed_steps = recorded
        assert job_name == "full_pipeline" and delivered
        assert failed_steps[0]["step"] == "raw__order_lines"
        assert any(message["run_id"] == run_id for message in _Hook.received)
    finally:
        server.shutdown()


def test_a_run_with_rejected_or_unmatched_files_does_not_look_like_a_clean_success(stack, tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    # A Shopify export whose dates are all unreadable: rejected whole. The other file no mapping reads.
    with (EXPORTS / "shopify" / "orders_export_1.csv").open(newline="", encoding="utf-8") as export:
        rows = list(csv.DictReader(export))
    with (landing / "orders_export_1.csv").open("w", newline="", encoding="utf-8") as broken:
        writer = csv.DictWriter(broken, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "Created at": "soon"} for row in rows)
    (landing / "notes.csv").write_text("Bestellung,Datum\n1,2025-01-01\n")

    result = stack.ecom("run", "--landing", str(landing), "--no-demo")
    out = result.stdout
    assert result.returncode == 3, out[-4000:] + result.stderr[-2000:]
    assert "Pipeline success WITH PROBLEMS" in out
    assert "check WARNING raw/order_lines:no_rejected_files_or_quarantined_rows" in out
    assert f"rejected orders_export_1.csv: {len(rows)} of {len(rows)} rows (100.0%) would be quarantined" in out
    assert f"top reasons: ordered_at is not a timestamp: {len(rows)} (e.g. line 2)" in out
    assert "unmatched notes.csv: no source mapping matches its header [Bestellung, Datum]" in out
    assert "failed check: raw/order_lines:no_rejected_files_or_quarantined_rows" in out
