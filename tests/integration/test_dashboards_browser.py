"""A person's view of the dashboards: Debian's chromium driven by Playwright logs in through the form,
opens each dashboard by its slug, waits until every chart has drawn, fails on any chart error or empty
chart, picks a value in a native filter, applies it and checks that the charts it scopes draw again
with other numbers. Full-page screenshots go to a pytest tmp dir and, when ECOM_SCREENSHOTS_DIR is
set, there too.

Playwright must not download a browser here: the test drives /usr/bin/chromium (`make browser`
installs it) and fails, not skips, without it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from ecom_superset.bundle import filter_scope, load_assets, with_dbt_definitions
from ecom_superset.validate import DEFAULT_MANIFEST

pytestmark = pytest.mark.integration

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}
CHART_TIMEOUT = 120  # seconds for every chart of a dashboard to draw (2 cores, other work running)

# Per chart: drawn (canvas, table rows or a big number), still loading, an error, or the empty state.
CHART_STATES = """() => [...document.querySelectorAll('[data-test="chart-grid-component"]')].map(chart => {
  const body = chart.querySelector('.dashboard-chart') || chart;
  return {
    name: chart.getAttribute('data-test-chart-name'),
    viz: chart.getAttribute('data-test-viz-type'),
    loading: !!chart.querySelector('[data-test="loading-indicator"], .loading'),
    error: chart.querySelector('[role="alert"], .ant-alert-error') ? body.innerText.slice(0, 300) : null,
    empty: !!chart.querySelector('.ant-empty, [data-test="empty-state"]') || /No results/i.test(body.innerText),
    drawn: !!chart.querySelector(
      '[data-test="chart-container"] canvas, [data-test="chart-container"] tbody tr, [data-test="chart-container"] .header-line'),
    text: body.innerText,
  };
})"""


def _chromium() -> str:
    chromium = shutil.which("chromium")
    if not chromium:
        pytest.fail(
            "chromium is not installed: the browser test drives Debian's chromium (`make browser`, or "
            "`apt-get install chromium`); it never lets Playwright download a browser"
        )
    return chromium


@pytest.fixture(scope="module")
def screenshot_dirs(tmp_path_factory) -> list[Path]:
    dirs = [tmp_path_factory.mktemp("dashboard-screenshots")]
    if os.environ.get("ECOM_SCREENSHOTS_DIR"):
        extra = Path(os.environ["ECOM_SCREENSHOTS_DIR"])
        extra.mkdir(parents=True, exist_ok=True)
        dirs.append(extra)
    return dirs


def test_chromium_is_installed():
    assert _chromium()


@pytest.fixture(scope="module")
def page(stack, tmp_path_factory):
    chromium = shutil.which("chromium")
    if not chromium:
        yield None  # the test itself fails with the reason
        return
    from playwright.sync_api import sync_playwright

    settings = stack.settings
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a fresh user-data-dir
            executable_path=chromium,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
        )
        context.set_default_timeout(60_000)
        page = context.new_page()
        page.goto(f"{settings.superset_url}/login/")
        page.fill("#username", settings.superset_admin_user)
        page.fill("#password", settings.superset_admin_password)
        page.click('[data-test="login-button"]')
        page.wait_for_url(lambda url: "/login" not in url)
        yield page
        context.close()


def wait_for_charts(page, expected: int, timeout: float = CHART_TIMEOUT) -> list[dict]:
    """Until every chart of the dashboard has drawn; fails at once on an error or an empty chart."""
    deadline = time.monotonic() + timeout
    states: list[dict] = []
    while time.monotonic() < deadline:
        states = page.evaluate(CHART_STATES)
        errors = [f"{s['name']}: {s['error']}" for s in states if s["error"]]
        assert not errors, f"chart errors: {errors}"
        empty = [s["name"] for s in states if s["empty"] and not s["loading"]]
        assert not empty, f"charts without data: {empty}"
        if len(states) == expected and all(s["drawn"] and not s["loading"] for s in states):
            return states
        time.sleep(0.5)
    waiting = [s["name"] for s in states if not s["drawn"] or s["loading"]]
    pytest.fail(f"{len(states)} of {expected} charts on the page after {timeout:.0f} s; not drawn: {waiting}")


def screenshot(page, name: str, dirs: list[Path]) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    time.sleep(1.5)  # let the scroll and the last animations settle
    assert all(state["drawn"] for state in page.evaluate(CHART_STATES)), "a chart disappeared before the screenshot"
    first = dirs[0] / f"{name}.png"
    page.screenshot(path=str(first), full_page=True)
    for directory in dirs[1:]:
        shutil.copyfile(first, directory / f"{name}.png")


def open_dashboard(page, stack, slug: str) -> None:
    """Open a dashboard, then make the window as tall as the dashboard: every chart is in view, and
    the full-page screenshot needs no resize (a resize makes every chart draw again)."""
    page.set_viewport_size(VIEWPORT)
    page.goto(f"{stack.settings.superset_url}/superset/dashboard/{slug}/")
    page.wait_for_selector('[data-test="dashboard-header-container"]')
    page.wait_for_selector('[data-test="chart-grid-component"]')
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], height)})


def choose_first_option(page, filter_id: str) -> str:
    """Open a native select filter in the filter bar and pick its first value; returns the value."""
    page.locator(f'[data-test="{filter_id}"] .ant-select-selector').click()
    option = page.locator(".ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option").first
    option.wait_for()
    value = option.get_attribute("title") or option.inner_text()
    option.click()
    page.keyboard.press("Escape")
    return value.strip()


def watched_text(page, name: str) -> str | None:
    return next((state["text"] for state in page.evaluate(CHART_STATES) if state["name"] == name), None)


ASSETS = load_assets()


@pytest.mark.parametrize("dashboard", ASSETS.dashboards, ids=[d.name for d in ASSETS.dashboards])
def test_a_person_opens_the_dashboard_and_filters_it(stack, page, screenshot_dirs, dashboard):
    if page is None:
        _chromium()
    charts = ASSETS.charts_of(dashboard)
    # The datasets' columns, which decide a filter's scope, are the dbt models' (the stack parsed them).
    published = with_dbt_definitions(ASSETS, json.loads(DEFAULT_MANIFEST.read_text()))
    datasets = {dataset.uuid: dataset for dataset in published.datasets}
    open_dashboard(page, stack, dashboard.spec["slug"])
    before = {state["name"]: state["text"] for state in wait_for_charts(page, len(charts))}
    assert set(before) == {chart.spec["slice_name"] for chart in charts}
    screenshot(page, dashboard.name, screenshot_dirs)

    # The filter a person reaches for first: country where the dashboard has one, else the first select.
    selects = [f for f in dashboard.spec["filters"] if f["type"] == "filter_select"]
    chosen = next((f for f in selects if f["column"] == "country_code"), selects[0])
    scoped = filter_scope(chosen, charts, datasets)
    watched = next(c.spec["slice_name"] for c in scoped if c.spec["viz_type"] == "big_number_total")

    data_responses: list[int] = []

    def on_response(response) -> None:
        if "/api/v1/chart/data" in response.url and response.request.method == "POST":
            data_responses.append(response.status)

    page.on("response", on_response)
    try:
        value = choose_first_option(page, chosen["id"])
        page.click('[data-test="filter-bar__apply-button"]')
        deadline = time.monotonic() + CHART_TIMEOUT
        while len(data_responses) < len(scoped) and time.monotonic() < deadline:
            page.wait_for_timeout(250)
        while watched_text(page, watched) == before[watched] and time.monotonic() < deadline:
            page.wait_for_timeout(250)
        after = {state["name"]: state["text"] for state in wait_for_charts(page, len(charts))}
    finally:
        page.remove_listener("response", on_response)
    assert len(data_responses) >= len(scoped), f"{len(data_responses)} chart queries after Apply, {len(scoped)} charts in scope"
    assert all(status == 200 for status in data_responses), data_responses
    assert after[watched] != before[watched], f"{watched} shows the same after filtering {chosen['name']} = {value}"
    unscoped = [c.spec["slice_name"] for c in charts if c not in scoped and c.spec["viz_type"].startswith("big_number")]
    for name in unscoped:
        assert after[name] == before[name], f"{name} is not in the scope of {chosen['name']} but changed"
    screenshot(page, f"{dashboard.name}-filtered-{chosen['column']}", screenshot_dirs)
