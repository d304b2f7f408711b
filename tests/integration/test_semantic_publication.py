"""A measure changed in the dbt project only reaches the published Superset dataset: its definition,
description and currency are read from the dbt manifest at publication, never restated in superset/.
A rule on it changed there reaches the Great Expectations suite the same way."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ecom_superset.bundle import load_assets
from ecom_superset.publisher import publish_dataset
from expectations.suites import read_manifest, suites_from_manifest
from orchestration.dbt_cli import DBT_EXECUTABLE, dbt_project
from orchestration.resources import resources_for
from orchestration.superset_assets import _connect, _template_values

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
DECLARED = 'description: "Gross revenue per order, from the sums over the selected rows (macro metric_avg_order_value)."'
RATIO = "ratio: {numerator: gross_revenue, denominator: orders}"
NON_NEGATIVE = "accepted_range: {arguments: {min_value: 0}}"


def _parsed_manifest(project_dir: Path, env: dict[str, str], *extra: str) -> dict:
    subprocess.run(
        [DBT_EXECUTABLE, "parse", "--quiet", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir), *extra],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return json.loads((project_dir / "target" / "manifest.json").read_text())


def _published_metric(superset, dataset_uuid: str, name: str) -> dict:
    dataset_id = superset.id_by_uuid("dataset", dataset_uuid)
    found = superset._checked(superset.client.get(superset._api(f"dataset/{dataset_id}")), "dataset")["result"]
    metric = next(metric for metric in found["metrics"] if metric["metric_name"] == name)
    if isinstance(metric.get("currency"), str):
        metric["currency"] = json.loads(metric["currency"])
    return metric


def test_a_measure_changed_in_dbt_only_changes_the_published_dataset(stack, tmp_path):
    superset_resource = resources_for(stack.settings, secrets_from_environment=False)["superset"]
    superset, assets = _connect(superset_resource)
    dataset = assets.dataset_for_table("marts", "revenue_trends")
    before = _published_metric(superset, dataset.uuid, "avg_order_value")
    assert before["expression"] == "CAST(SUM(gross_revenue) AS NUMERIC) / NULLIF(SUM(orders), 0)"
    assert before["currency"]["symbol"] == "EUR"

    # A copy of the dbt project where the shop's average order value is redefined and redescribed,
    # and the reporting currency is another: nothing under superset/ changes.
    project = tmp_path / "dbt_project"
    shutil.copytree(REPO_ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    marts_yml = project / "models" / "marts" / "_marts.yml"
    declarations = marts_yml.read_text()
    assert declarations.count(DECLARED) == 1 and declarations.count(RATIO) == 1, "avg_order_value is declared once"
    # ... and revenue_trends' gross revenue may no longer be zero.
    trends = declarations.index("  - name: revenue_trends\n")
    gross_revenue_range = declarations.index(NON_NEGATIVE, declarations.index("- name: gross_revenue\n", trends))
    declarations = (
        declarations[:gross_revenue_range]
        + "accepted_range: {arguments: {min_value: 1}}"
        + declarations[gross_revenue_range + len(NON_NEGATIVE) :]
    )
    marts_yml.write_text(
        declarations.replace(DECLARED, 'description: "Net revenue per order, redefined in dbt."').replace(
            RATIO, "ratio: {numerator: net_revenue, denominator: orders}"
        )
    )
    changed = _parsed_manifest(project, stack.env, "--vars", "{reporting_currency: USD}")
    changed_assets = load_assets(values=_template_values(superset_resource), manifest=changed)

    def gross_revenue_ranges(manifest: dict) -> list[dict]:
        suite = suites_from_manifest(manifest)["marts.revenue_trends"]
        return [
            dict(e.kwargs)
            for e in suite.expectations
            if e.type == "ExpectColumnValuesToBeBetween" and e.kwargs.get("column") == "gross_revenue"
        ]

    assert [r.get("min_value") for r in gross_revenue_ranges(read_manifest(dbt_project.manifest_path))] == [0]
    assert [r.get("min_value") for r in gross_revenue_ranges(changed)] == [1]
    password = stack.settings.bi_reader_password
    try:
        publish_dataset(superset, changed_assets, changed_assets.dataset_for_table("marts", "revenue_trends"), password)
        after = _published_metric(superset, dataset.uuid, "avg_order_value")
        assert after["description"] == "Net revenue per order, redefined in dbt."
        assert after["expression"] == "CAST(SUM(net_revenue) AS NUMERIC) / NULLIF(SUM(orders), 0)"
        assert after["currency"]["symbol"] == "USD"
        top_customers = next(chart for chart in changed_assets.charts if chart.name == "customers_top")
        assert top_customers.spec["params"]["column_config"]["monetary"]["currencyFormat"]["symbol"] == "USD"
        # The same declaration reaches every dataset that offers the measure.
        category = changed_assets.dataset_for_table("marts", "category_performance")
        assert (
            next(m for m in category.spec["metrics"] if m["metric_name"] == "avg_order_value")["expression"]
            == after["expression"]
        )
    finally:
        publish_dataset(superset, assets, dataset, password)
    restored = _published_metric(superset, dataset.uuid, "avg_order_value")
    assert {key: restored[key] for key in ("expression", "description", "currency")} == {
        key: before[key] for key in ("expression", "description", "currency")
    }
