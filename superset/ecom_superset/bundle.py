"""Dashboards as code: the YAML under superset/assets, rendered into a Superset asset bundle (ZIP).

Databases, datasets and charts are kept in Superset's own export format (with `query_context` as a
mapping rather than a JSON string, to be readable). Dashboards use a compact spec that is expanded
here into Superset's `position` and `metadata`:

    dashboard_title, slug, uuid, description
    intro: markdown shown full width above the charts (optional; `intro_height`, default 10)
    sections: {row number (1-based): title}   a section header above that row (optional)
    rows: a list of rows, each a list of {chart: uuid, width (of 12), height}
    filter_bar: horizontal (default) or vertical
    css: the dashboard's own CSS (optional), after the CSS every dashboard gets (assets/dashboard.css:
         the layout for phones)
    filters: native filters, each {id, name, type, dataset, column, description, default, charts}
      type      filter_time, filter_select or filter_timegrain
      dataset   the dataset whose column feeds the choices (filter_select, filter_timegrain)
      default   the value applied when the dashboard opens (a time range, a list of values, a grain);
                `reporting period` on a filter_time: the period the publication chooses (default_period.py),
                set with `with_default_period`
      charts    the charts the filter applies to; without it, every chart it can apply to:
                filter_select: the charts whose dataset has the column; filter_time: the charts with
                a time range filter; filter_timegrain: the time-series charts with a time grain.
"""

from __future__ import annotations

import io
import json
import string
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from ecom_superset.semantic import SemanticError, dataset_from_model, models_by_relation, reporting_currency

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
# The CSS every dashboard gets, before its own.
DASHBOARD_CSS = ASSETS_DIR / "dashboard.css"
BUNDLE_ROOT = "ecommerce_analytics"
KINDS = ("databases", "datasets", "charts", "dashboards")
# A date filter's `default` that the publication replaces with the period it chooses (with_default_period).
REPORTING_PERIOD = "reporting period"


@dataclass(frozen=True)
class Asset:
    kind: str
    name: str  # file stem
    spec: dict[str, Any]

    @property
    def uuid(self) -> str:
        return str(self.spec["uuid"])


@dataclass(frozen=True)
class AssetSet:
    databases: list[Asset]
    datasets: list[Asset]
    charts: list[Asset]
    dashboards: list[Asset]

    def by_uuid(self) -> dict[str, Asset]:
        return {asset.uuid: asset for kind in KINDS for asset in getattr(self, kind)}

    def dataset_for_table(self, schema: str, table: str) -> Asset:
        return next(d for d in self.datasets if d.spec["schema"] == schema and d.spec["table_name"] == table)

    def charts_of(self, dashboard: Asset) -> list[Asset]:
        charts = {chart.uuid: chart for chart in self.charts}
        return [charts[str(cell["chart"])] for row in dashboard.spec["rows"] for cell in row]


def load_assets(
    assets_dir: Path = ASSETS_DIR, values: Mapping[str, str] | None = None, manifest: Mapping[str, Any] | None = None
) -> AssetSet:
    """Read every asset; `${NAME}` placeholders are filled from `values` when given, and each dataset
    gets its columns and metrics from its dbt model when a dbt manifest is given (what is published).
    With both, `${REPORTING_CURRENCY}` is the dbt project's reporting currency, read from the manifest."""
    if values is not None and manifest is not None:
        values = {**values, "REPORTING_CURRENCY": reporting_currency(manifest)}

    def read(kind: str) -> list[Asset]:
        assets = []
        for path in sorted((assets_dir / kind).glob("*.yaml")):
            text = path.read_text()
            if values is not None:
                text = string.Template(text).substitute(values)
            assets.append(Asset(kind, path.stem, yaml.safe_load(text)))
        return assets

    assets = AssetSet(*(read(kind) for kind in KINDS))
    return assets if manifest is None else with_dbt_definitions(assets, manifest)


def with_dbt_definitions(assets: AssetSet, manifest: Mapping[str, Any]) -> AssetSet:
    """The assets with every dataset completed from the dbt model that builds its table."""
    models = models_by_relation(manifest)
    datasets = []
    for dataset in assets.datasets:
        model = models.get((dataset.spec["schema"], dataset.spec["table_name"]))
        if model is None:
            raise SemanticError(
                f"datasets/{dataset.name}.yaml: no dbt model builds {dataset.spec['schema']}.{dataset.spec['table_name']}"
            )
        datasets.append(replace(dataset, spec=dataset_from_model(dataset.spec, model)))
    return replace(assets, datasets=datasets)


def with_default_period(assets: AssetSet, time_range: str) -> AssetSet:
    """The assets with `time_range` (Superset's syntax) as the default of every date filter whose
    default is REPORTING_PERIOD."""
    dashboards = []
    for dashboard in assets.dashboards:
        filters = [
            {**spec, "default": time_range} if spec["type"] == "filter_time" and spec.get("default") == REPORTING_PERIOD else spec
            for spec in dashboard.spec.get("filters", [])
        ]
        dashboards.append(replace(dashboard, spec={**dashboard.spec, "filters": filters}))
    return replace(assets, dashboards=dashboards)


def _database_file(asset: Asset) -> str:
    return f"databases/{asset.name}.yaml"


def dashboard_export(dashboard: Asset, charts: list[Asset], datasets_by_uuid: dict[str, Asset]) -> dict[str, Any]:
    """Superset's dashboard export document for a compact dashboard spec."""
    spec = dashboard.spec
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": spec["dashboard_title"]}},
    }
    grid = position["GRID_ID"]["children"]

    def add_row(row_id: str) -> list[str]:
        grid.append(row_id)
        position[row_id] = {
            "type": "ROW",
            "id": row_id,
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        return position[row_id]["children"]

    if spec.get("intro"):
        add_row("ROW-intro").append("MARKDOWN-intro")
        position["MARKDOWN-intro"] = {
            "type": "MARKDOWN",
            "id": "MARKDOWN-intro",
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID", "ROW-intro"],
            "meta": {"width": 12, "height": spec.get("intro_height", 10), "code": str(spec["intro"]).strip()},
        }
    sections = {int(row): str(title) for row, title in (spec.get("sections") or {}).items()}
    charts_by_uuid = {chart.uuid: chart for chart in charts}
    # Import remaps these placeholder ids to the real chart ids (matched through meta.uuid).
    placeholder_ids: dict[str, int] = {}
    for row_number, row in enumerate(spec["rows"], start=1):
        if row_number in sections:
            header_id = f"HEADER-section-{row_number}"
            grid.append(header_id)
            position[header_id] = {
                "type": "HEADER",
                "id": header_id,
                "children": [],
                "parents": ["ROOT_ID", "GRID_ID"],
                "meta": {"text": sections[row_number], "headerSize": "MEDIUM_HEADER", "background": "BACKGROUND_TRANSPARENT"},
            }
        row_id = f"ROW-{row_number}"
        children = add_row(row_id)
        for cell in row:
            chart = charts_by_uuid[str(cell["chart"])]
            placeholder_ids.setdefault(chart.uuid, len(placeholder_ids) + 1)
            cell_id = f"CHART-{chart.name}"
            children.append(cell_id)
            position[cell_id] = {
                "type": "CHART",
                "id": cell_id,
                "children": [],
                "parents": ["ROOT_ID", "GRID_ID", row_id],
                "meta": {
                    "width": cell.get("width", 4),
                    "height": cell.get("height", 50),
                    "chartId": placeholder_ids[chart.uuid],
                    "uuid": chart.uuid,
                    "sliceName": chart.spec["slice_name"],
                },
            }
    on_dashboard = [charts_by_uuid[uuid] for uuid in placeholder_ids]
    return {
        "dashboard_title": spec["dashboard_title"],
        "description": spec.get("description"),
        "css": "\n".join(css for css in (DASHBOARD_CSS.read_text(), str(spec.get("css") or "")) if css),
        "slug": spec.get("slug"),
        "uuid": dashboard.uuid,
        "published": True,
        "certified_by": None,
        "certification_details": None,
        "position": position,
        "metadata": {
            "color_scheme": "supersetColors",
            "refresh_frequency": 0,
            "expanded_slices": {},
            "label_colors": {},
            "shared_label_colors": [],
            "timed_refresh_immune_slices": [],
            "cross_filters_enabled": True,
            "filter_bar_orientation": str(spec.get("filter_bar", "horizontal")).upper(),
            "default_filters": "{}",
            "native_filter_configuration": [
                _native_filter(spec_filter, datasets_by_uuid, on_dashboard, placeholder_ids)
                for spec_filter in spec.get("filters", [])
            ],
        },
        "version": "1.0.0",
    }


def filter_scope(spec: dict[str, Any], charts: list[Asset], datasets_by_uuid: dict[str, Asset]) -> list[Asset]:
    """The charts a native filter applies to (see the module docstring)."""
    if spec.get("charts") is not None:
        wanted = {str(uuid) for uuid in spec["charts"]}
        return [chart for chart in charts if chart.uuid in wanted]
    scoped = []
    for chart in charts:
        params = chart.spec.get("params", {})
        dataset = datasets_by_uuid.get(str(chart.spec["dataset_uuid"]))
        columns = {column["column_name"] for column in dataset.spec.get("columns", [])} if dataset else set()
        if spec["type"] == "filter_time":
            applies = any(f.get("operator") == "TEMPORAL_RANGE" for f in params.get("adhoc_filters", []))
        elif spec["type"] == "filter_timegrain":
            applies = chart.spec["viz_type"].startswith("echarts_timeseries") and bool(params.get("time_grain_sqla"))
        else:
            applies = spec["column"] in columns
        if applies:
            scoped.append(chart)
    return scoped


def data_mask(spec: dict[str, Any], value: Any) -> dict[str, Any]:
    """A native filter's state (Superset's data mask) with `value` chosen, or nothing chosen (None)."""
    if value is None:
        return {"extraFormData": {}, "filterState": {}, "ownState": {}}
    if spec["type"] == "filter_time":
        if value == REPORTING_PERIOD:
            raise ValueError(f"filter {spec['id']}: the reporting period is chosen at publication, see with_default_period")
        return {"extraFormData": {"time_range": value}, "filterState": {"value": value}, "ownState": {}}
    if spec["type"] == "filter_timegrain":
        return {"extraFormData": {"time_grain_sqla": value}, "filterState": {"value": [value]}, "ownState": {}}
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    return {
        "extraFormData": {"filters": [{"col": spec["column"], "op": "IN", "val": values}]},
        "filterState": {"value": values},
        "ownState": {},
    }


def _native_filter(
    spec: dict[str, Any], datasets_by_uuid: dict[str, Asset], charts: list[Asset], placeholder_ids: dict[str, int]
) -> dict[str, Any]:
    targets: list[dict[str, Any]] = [{}]
    control_values: dict[str, Any] = {}
    if spec["type"] == "filter_timegrain":
        targets = [{"datasetUuid": datasets_by_uuid[str(spec["dataset"])].uuid}]
    elif spec["type"] != "filter_time":
        dataset = datasets_by_uuid[str(spec["dataset"])]
        targets = [{"datasetUuid": dataset.uuid, "column": {"name": spec["column"]}}]
        control_values = {
            "enableEmptyFilter": False,
            "multiSelect": spec.get("multi_select", True),
            "searchAllOptions": False,
            "inverseSelection": False,
            "defaultToFirstItem": False,
            "sortAscending": True,
        }
    in_scope = {chart.uuid for chart in filter_scope(spec, charts, datasets_by_uuid)}
    return {
        "id": spec["id"],
        "name": spec["name"],
        "filterType": spec["type"],
        "type": "NATIVE_FILTER",
        "description": spec.get("description", ""),
        "targets": targets,
        "controlValues": control_values,
        "defaultDataMask": data_mask(spec, spec.get("default")),
        "cascadeParentIds": [],
        # Placeholder chart ids, remapped by the import like the position's (see dashboard_export).
        "scope": {
            "rootPath": ["ROOT_ID"],
            "excluded": [placeholder_ids[chart.uuid] for chart in charts if chart.uuid not in in_scope],
        },
    }


def _export_document(asset: Asset) -> dict[str, Any]:
    document = dict(asset.spec)
    if asset.kind == "charts" and isinstance(document.get("query_context"), dict):
        document["query_context"] = json.dumps(document["query_context"])
    return document


def build_bundle(assets: AssetSet, *, datasets: list[Asset], charts: list[Asset], dashboards: list[Asset]) -> bytes:
    """A ZIP for POST /api/v1/assets/import/ holding the given objects and every database they need."""
    datasets_by_uuid = {dataset.uuid: dataset for dataset in assets.datasets}
    files: dict[str, dict[str, Any]] = {
        "metadata.yaml": {"version": "1.0.0", "type": "assets", "timestamp": "2025-01-01T00:00:00+00:00"}
    }
    needed_databases = {dataset.spec["database_uuid"] for dataset in datasets}
    for database in assets.databases:
        if database.uuid in needed_databases:
            files[_database_file(database)] = _export_document(database)
    for dataset in datasets:
        files[f"datasets/{dataset.name}.yaml"] = _export_document(dataset)
    for chart in charts:
        files[f"charts/{chart.name}.yaml"] = _export_document(chart)
    for dashboard in dashboards:
        files[f"dashboards/{dashboard.name}.yaml"] = dashboard_export(dashboard, assets.charts_of(dashboard), datasets_by_uuid)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, document in files.items():
            bundle.writestr(f"{BUNDLE_ROOT}/{name}", yaml.safe_dump(document, sort_keys=False))
    return buffer.getvalue()


def database_password_field(assets: AssetSet, password: str) -> dict[str, str]:
    """The `passwords` form field of the import: bundle file of each database -> its password."""
    return {_database_file(database): password for database in assets.databases}
