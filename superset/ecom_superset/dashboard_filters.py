"""A choice of dashboard filters (a date range and values of columns) as Superset applies it: the
native filters' state for a dashboard URL, and the same filters added to a chart's query context.

Built from the filters a dashboard's YAML declares (superset/assets/dashboards/*.yaml): a date range
goes to its `filter_time` filter, a value to each `filter_select` filter on that column; a dashboard
without such a filter gets nothing for it. The browser test opens dashboards this way and the chart
benchmark times charts with the same filters, so both follow the dashboards as filters are added.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote

from ecom_superset.bundle import Asset, data_mask, filter_scope


@dataclass(frozen=True)
class FilterChoice:
    """Days from `start` up to, not including, `end`, and one value for each column named."""

    start: date | None = None
    end: date | None = None
    values: Mapping[str, str] = field(default_factory=dict)

    @property
    def time_range(self) -> str | None:
        # Superset's time range syntax; the end is exclusive, as in Superset.
        return f"{self.start.isoformat()} : {self.end.isoformat()}" if self.start and self.end else None


def chosen_filters(dashboard_spec: Mapping[str, Any], choice: FilterChoice) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each declared filter the choice sets, with its data mask."""
    chosen = []
    for spec in dashboard_spec.get("filters", []):
        if spec["type"] == "filter_time":
            value = choice.time_range
        elif spec["type"] == "filter_select":
            value = choice.values.get(spec["column"])
        else:
            value = None
        if value is not None:
            chosen.append((spec, {"id": spec["id"], **data_mask(spec, value)}))
    return chosen


def native_filters_parameter(dashboard_spec: Mapping[str, Any], choice: FilterChoice) -> str:
    """The dashboard URL's `native_filters` parameter (rison), URL-encoded: Superset opens the
    dashboard with these filters already applied."""
    state = {spec["id"]: mask for spec, mask in chosen_filters(dashboard_spec, choice)}
    return quote(rison(state), safe="")


def dashboard_path(dashboard_spec: Mapping[str, Any], choice: FilterChoice) -> str:
    return f"/superset/dashboard/{dashboard_spec['slug']}/?native_filters={native_filters_parameter(dashboard_spec, choice)}"


def chart_filters(
    dashboard: Asset, chart: Asset, charts: list[Asset], datasets_by_uuid: dict[str, Asset], choice: FilterChoice
) -> list[dict[str, Any]]:
    """The extra form data of each chosen filter whose scope takes in `chart`."""
    return [
        mask["extraFormData"]
        for spec, mask in chosen_filters(dashboard.spec, choice)
        if chart.uuid in {scoped.uuid for scoped in filter_scope(spec, charts, datasets_by_uuid)}
    ]


def filtered_query_context(query_context: Mapping[str, Any], extra_form_data: list[Mapping[str, Any]]) -> dict[str, Any]:
    """A chart's query context with the filters applied as Superset applies a dashboard's: the filters'
    conditions join the query's, and a time range replaces the range of its time filter."""
    filtered = copy.deepcopy(dict(query_context))
    for query in filtered["queries"]:
        for extra in extra_form_data:
            query["filters"] = list(query.get("filters", [])) + list(extra.get("filters", []))
            if "time_range" in extra:
                query["time_range"] = extra["time_range"]
                for condition in query["filters"]:
                    if condition.get("op") == "TEMPORAL_RANGE":
                        condition["val"] = extra["time_range"]
    return filtered


_RISON_ID = re.compile(r"[A-Za-z_./~][A-Za-z0-9_./~-]*")


def rison(value: Any) -> str:
    """`value` in Rison, the URL-friendly JSON that Superset reads its rison URL parameters with."""
    if value is True:
        return "!t"
    if value is False:
        return "!f"
    if value is None:
        return "!n"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        if _RISON_ID.fullmatch(value):
            return value
        return "'" + value.replace("!", "!!").replace("'", "!'") + "'"
    if isinstance(value, Mapping):
        return "(" + ",".join(f"{rison(str(key))}:{rison(item)}" for key, item in value.items()) + ")"
    if isinstance(value, (list, tuple)):
        return "!(" + ",".join(rison(item) for item in value) + ")"
    raise TypeError(f"no Rison form for {type(value).__name__}")
