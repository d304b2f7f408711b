"""Dashboard filters chosen in code: the URL state Superset reads, built from each dashboard's declared
filters, and the same filters added to a chart's query context."""

import copy
import json
import subprocess
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from ecom_superset.bundle import filter_scope, load_assets, with_dbt_definitions
from ecom_superset.dashboard_filters import (
    FilterChoice,
    chart_filters,
    chosen_filters,
    dashboard_path,
    filtered_query_context,
    rison,
)
from ecom_superset.validate import DEFAULT_MANIFEST
from orchestration.dbt_cli import prepare_manifest

REPO_ROOT = Path(__file__).resolve().parents[2]
# Superset's own virtualenv has the Rison parser its backend uses (prison).
SUPERSET_PYTHON = REPO_ROOT / ".venv-superset" / "bin" / "python"
CHOICE = FilterChoice(start=date(2025, 2, 1), end=date(2025, 3, 1), values={"country_code": "GB", "category": "Home & Garden"})


@pytest.fixture(scope="module")
def assets():
    prepare_manifest()
    return with_dbt_definitions(load_assets(), json.loads(DEFAULT_MANIFEST.read_text()))


def _parsed_by_superset(encoded: str):
    decoded = subprocess.run(
        [str(SUPERSET_PYTHON), "-c", "import json, prison, sys; print(json.dumps(prison.loads(sys.stdin.read())))"],
        input=encoded,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(decoded.stdout)


def test_rison_reads_back_as_the_same_value_in_superset():
    value = {
        "NATIVE_FILTER-x": {"filterState": {"value": ["Home & Garden", "it's", "a!b", ""]}, "n": 3, "on": True, "off": False},
        "range": "2025-02-01 : 2025-03-01",
        "nothing": None,
        "2025": [1.5, -2],
    }
    assert _parsed_by_superset(rison(value)) == value


def test_every_dashboard_gets_each_declared_filter_it_has(assets):
    for dashboard in assets.dashboards:
        declared = dashboard.spec.get("filters", [])
        chosen = chosen_filters(dashboard.spec, CHOICE)
        expected = [
            spec["id"]
            for spec in declared
            if spec["type"] == "filter_time" or (spec["type"] == "filter_select" and spec["column"] in CHOICE.values)
        ]
        assert [spec["id"] for spec, _ in chosen] == expected, dashboard.name
        state = _parsed_by_superset(parse_qs(urlsplit(dashboard_path(dashboard.spec, CHOICE)).query)["native_filters"][0])
        assert list(state) == expected
        for spec, mask in chosen:
            if spec["type"] == "filter_time":
                assert state[spec["id"]]["extraFormData"] == {"time_range": "2025-02-01 : 2025-03-01"}
            else:
                assert state[spec["id"]]["filterState"]["value"] == [CHOICE.values[spec["column"]]]
                assert mask["extraFormData"]["filters"] == [
                    {"col": spec["column"], "op": "IN", "val": [CHOICE.values[spec["column"]]]}
                ]


def test_a_dashboard_without_a_kind_of_filter_gets_none_of_it():
    spec = {
        "slug": "s",
        "filters": [{"id": "NATIVE_FILTER-c", "name": "Category", "type": "filter_select", "column": "category"}],
    }
    assert [s["id"] for s, _ in chosen_filters(spec, CHOICE)] == ["NATIVE_FILTER-c"]
    assert chosen_filters(spec, FilterChoice()) == []


def test_a_chart_query_gets_the_filters_whose_scope_takes_it_in(assets):
    datasets = {dataset.uuid: dataset for dataset in assets.datasets}
    for dashboard in assets.dashboards:
        charts = assets.charts_of(dashboard)
        for chart in charts:
            extras = chart_filters(dashboard, chart, charts, datasets, CHOICE)
            in_scope = [
                spec for spec, _ in chosen_filters(dashboard.spec, CHOICE) if chart in filter_scope(spec, charts, datasets)
            ]
            assert len(extras) == len(in_scope)
            query_context = chart.spec["query_context"]
            saved = copy.deepcopy(query_context)
            filtered = filtered_query_context(query_context, extras)
            for before, after in zip(query_context["queries"], filtered["queries"], strict=True):
                added = [condition for extra in extras for condition in extra.get("filters", [])]
                assert after["filters"][len(before["filters"]) :] == added
                if any("time_range" in extra for extra in extras):
                    ranges = [c["val"] for c in after["filters"] if c["op"] == "TEMPORAL_RANGE"]
                    assert ranges and set(ranges) == {CHOICE.time_range}
            # The chart's own query context is left as it was.
            assert query_context == saved
