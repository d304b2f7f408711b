"""Publish the dashboards-as-code bundle to a running Superset through its REST API.

superset-api-client (0.6, written for Superset 1.x/2.x) is used for what still works on 6.1: login,
the CSRF-protected session, and lookups. It has no route for the asset bundle import, no upsert by
uuid and no chart data call, so those go through the same authenticated session directly.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from ecom_superset.bundle import Asset, AssetSet, build_bundle, database_password_field


class PublishError(RuntimeError):
    pass


class _RetryingAdapter(HTTPAdapter):
    """Sends an idempotent request again when the connection drops before the answer. gunicorn
    closes an idle kept-alive connection after 2 s, and a request sent on it at that moment gets no
    answer at all; a pipeline run must not fail for that. POSTs are never repeated."""

    def __init__(self):
        retry = Retry(total=3, connect=3, read=3, status=0, backoff_factor=0.2, allowed_methods=Retry.DEFAULT_ALLOWED_METHODS)
        super().__init__(max_retries=retry)


@dataclass(frozen=True)
class PublishedChart:
    name: str
    chart_id: int
    rows: int


@dataclass(frozen=True)
class PublishedDashboard:
    title: str
    dashboard_id: int
    url: str
    charts: list[PublishedChart]


class Superset:
    def __init__(self, url: str, username: str, password: str):
        if url.startswith("http://"):
            # requests-oauthlib refuses plain http unless told this is deliberate (the local stack).
            os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
        from supersetapiclient.client import SupersetClient

        self.url = url.rstrip("/")
        self.client = SupersetClient(host=self.url, username=username, password=password)
        # The client mounts this adapter when it opens its session, on first use.
        self.client.http_adapter_cls = _RetryingAdapter

    def _api(self, path: str) -> str:
        return f"{self.url}/api/v1/{path.lstrip('/')}"

    def _checked(self, response, action: str) -> dict:
        if not response.ok:
            body = response.text if "json" in response.headers.get("content-type", "") else response.text[:300]
            raise PublishError(f"{action}: HTTP {response.status_code}: {body}")
        return response.json()

    def import_bundle(self, bundle: bytes, passwords: dict[str, str]) -> None:
        response = self.client.post(
            self._api("assets/import/"),
            files={"bundle": ("bundle.zip", bundle, "application/zip")},
            data={"passwords": json.dumps(passwords)},
        )
        self._checked(response, "importing the asset bundle")

    def id_by_uuid(self, resource: str, uuid: str) -> int:
        query = f"(filters:!((col:uuid,opr:eq,value:'{uuid}')))"
        result = self._checked(self.client.get(self._api(f"{resource}/"), params={"q": query}), f"finding {resource} {uuid}")
        if result["count"] != 1:
            raise PublishError(f"expected one {resource} with uuid {uuid}, found {result['count']}")
        return result["ids"][0] if "ids" in result else result["result"][0]["id"]

    def count(self, resource: str) -> int:
        return self._checked(self.client.get(self._api(f"{resource}/")), f"counting {resource}")["count"]

    def refresh_dataset_columns(self, dataset_id: int) -> None:
        """Sync the dataset's columns with its table, so a column a mart gains shows up."""
        self._checked(self.client.put(self._api(f"dataset/{dataset_id}/refresh")), f"refreshing dataset {dataset_id}")

    def chart_rows(self, chart_id: int, *, force: bool = False) -> int:
        params = {"force": "true"} if force else {}
        result = self._checked(self.client.get(self._api(f"chart/{chart_id}/data/"), params=params), f"chart {chart_id} data")
        return sum(query.get("rowcount", 0) for query in result["result"])


def publish_dataset(superset: Superset, assets: AssetSet, dataset: Asset, reader_password: str) -> int:
    """Import one dataset (and its database connection); returns its Superset id."""
    bundle = build_bundle(assets, datasets=[dataset], charts=[], dashboards=[])
    superset.import_bundle(bundle, database_password_field(assets, reader_password))
    dataset_id = superset.id_by_uuid("dataset", dataset.uuid)
    superset.refresh_dataset_columns(dataset_id)
    return dataset_id


def publish_dashboards(superset: Superset, assets: AssetSet, reader_password: str) -> list[PublishedDashboard]:
    """Import every chart and dashboard, then request each chart's data once so viewers hit a warm cache."""
    bundle = build_bundle(assets, datasets=assets.datasets, charts=assets.charts, dashboards=assets.dashboards)
    superset.import_bundle(bundle, database_password_field(assets, reader_password))
    for dataset in assets.datasets:
        superset.refresh_dataset_columns(superset.id_by_uuid("dataset", dataset.uuid))
    published = []
    for dashboard in assets.dashboards:
        charts = []
        for chart in assets.charts_of(dashboard):
            chart_id = superset.id_by_uuid("chart", chart.uuid)
            charts.append(PublishedChart(chart.spec["slice_name"], chart_id, superset.chart_rows(chart_id, force=True)))
        published.append(
            PublishedDashboard(
                title=dashboard.spec["dashboard_title"],
                dashboard_id=superset.id_by_uuid("dashboard", dashboard.uuid),
                url=f"{superset.url}/superset/dashboard/{dashboard.spec.get('slug') or dashboard.uuid}/",
                charts=charts,
            )
        )
    return published
