"""A person's view of the dashboards: Debian's chromium driven by Playwright logs in through the form,
opens each dashboard by its slug, waits until every chart has drawn and fails on any chart error or
empty chart. Then it opens the dashboard again from a link that chooses a period, a country and a
category (the `native_filters` URL state of ecom_superset.dashboard_filters, from the filters the
dashboard declares) and checks that every chart those filters scope got them and shows other numbers,
that the others show the same, and that each filtered key figure equals SQL over its mart. Full-page
screenshots, 1400 px wide (unfiltered and filtered) and 390 px wide (filtered), go to a pytest tmp dir
and, when ECOM_SCREENSHOTS_DIR is set, there too.

Playwright must not download a browser here: the test drives /usr/bin/chromium (`make browser`
installs it) and fails, not skips, without it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ecom_superset.bundle import load_assets, with_dbt_definitions
from ecom_superset.dashboard_filters import FilterChoice, chart_filters, dashboard_path
from ecom_superset.semantic import counted_distinct
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
    // A period-over-period card (pop_kpi) is plain text: drawn once its container shows a figure.
    drawn: !!chart.querySelector(
      '[data-test="chart-container"] canvas, [data-test="chart-container"] tbody tr, [data-test="chart-container"] .header-line')
      || (chart.getAttribute('data-test-viz-type') === 'pop_kpi'
          && /[0-9]/.test((chart.querySelector('[data-test="chart-container"]') || {innerText: ''}).innerText)),
    text: body.innerText,
  };
})"""


KEY_FIGURE_VIZ_TYPES = ("pop_kpi", "big_number_total", "big_number")
MIN_FIGURE_FONT_PX = 16
MIN_TEXT_FONT_PX = 12  # the title, the subtitle and the comparisons

# Per key-figure card: its title, its figure and its other lines (subtitle, comparisons), each with its
# text, computed font size, box, lines drawn, and whether it or a box around it (up to the card) cuts
# it off (content wider than the box that holds it). The figure of a big number is its .header-line;
# pop_kpi has no class names of its own: its figure is the line in the largest font of its box.
KEY_FIGURES = """(vizTypes) => {
  const cutOff = (element, card) => {
    for (let box = element; box && box !== card.parentElement; box = box.parentElement) {
      if (box.scrollWidth > box.clientWidth + 1) return box.className || box.tagName;
    }
    return null;
  };
  const describe = (element, card) => {
    const box = element.getBoundingClientRect();
    const range = document.createRange();
    range.selectNodeContents(element);
    const lineTops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
    return {text: element.innerText.trim(), font: parseFloat(getComputedStyle(element).fontSize), left: box.left,
            right: box.right, width: box.width, lines: lineTops.size, cutOff: cutOff(element, card)};
  };
  return [...document.querySelectorAll('[data-test="chart-grid-component"]')]
    .filter(card => vizTypes.includes(card.getAttribute('data-test-viz-type')))
    .map(card => {
      const viz = card.getAttribute('data-test-viz-type');
      let figure, others;
      if (viz === 'pop_kpi') {
        const lines = [...card.querySelectorAll('.pop_kpi > div > div > div')];
        figure = lines.reduce((a, b) => parseFloat(getComputedStyle(b).fontSize) > parseFloat(getComputedStyle(a).fontSize) ? b : a);
        others = [...card.querySelectorAll('.pop_kpi > div > div > div:last-child > div')]
          .concat(lines.filter(line => line !== figure && !line.querySelector('div')));
      } else {
        figure = card.querySelector('.header-line');
        others = [...card.querySelectorAll('.subtitle-line, .subheader-line')];
      }
      const title = card.querySelector('.header-title');
      return {name: card.getAttribute('data-test-chart-name'), viz, viewport: document.documentElement.clientWidth,
              title: title && describe(title, card), figure: figure && describe(figure, card),
              others: others.filter(line => line.innerText.trim()).map(line => describe(line, card))};
    });
}"""


def assert_key_figures_readable(page, expected: int) -> None:
    """Every key-figure card shows its title, its whole figure on one line in a readable font and its
    other lines, all inside the window and none cut off by a box too narrow for it."""
    cards = page.evaluate(KEY_FIGURES, list(KEY_FIGURE_VIZ_TYPES))
    assert len(cards) == expected, f"{len(cards)} key-figure cards on the page, {expected} expected"
    problems = []
    for card in cards:
        name, width = card["name"], card["viewport"]
        lines = [("title", card["title"], MIN_TEXT_FONT_PX), ("figure", card["figure"], MIN_FIGURE_FONT_PX)]
        lines += [("line", other, MIN_TEXT_FONT_PX) for other in card["others"]]
        if not card["others"]:
            problems.append(f"{name}: shows no subtitle or comparison")
        for role, line, min_font in lines:
            if line is None:
                problems.append(f"{name}: no {role}")
                continue
            where = f"{name}: {role} {line['text']!r}"
            if line["font"] < min_font:
                problems.append(f"{where} is {line['font']} px, under {min_font} px")
            if line["left"] < 0 or line["right"] > width:
                problems.append(f"{where} spans {line['left']:.0f}-{line['right']:.0f} px, outside the {width} px window")
            if line["cutOff"]:
                problems.append(f"{where} is cut off by its box {line['cutOff']!r}")
        if card["figure"] and card["figure"]["lines"] != 1:
            problems.append(f"{name}: the figure {card['figure']['text']!r} wraps onto {card['figure']['lines']} lines")
    assert not problems, "key figures not readable at this width:\n" + "\n".join(problems)


def _chromium() -> str:
    chromium = shutil.which("chromium")
    if not chromium:
        pytest.fail(
            "chromium is not installed: the browser test drives Debian's chromium (`make browser`, or "
            "`apt-get install chromium`); it never lets Playwright download a browser"
        )
    return chromium


# Read when the module loads: the stack fixture leaves no ECOM_ variable of the caller in os.environ.
SCREENSHOTS_DIR = os.environ.get("ECOM_SCREENSHOTS_DIR")


@pytest.fixture(scope="module")
def screenshot_dirs(tmp_path_factory) -> list[Path]:
    dirs = [tmp_path_factory.mktemp("dashboard-screenshots")]
    if SCREENSHOTS_DIR:
        extra = Path(SCREENSHOTS_DIR).resolve()
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


def open_dashboard(page, stack, path: str, width: int = VIEWPORT["width"]) -> None:
    """Open a dashboard, then make the window as tall as the dashboard: every chart is in view, and
    the full-page screenshot needs no resize (a resize makes every chart draw again)."""
    page.set_viewport_size({"width": width, "height": VIEWPORT["height"]})
    page.goto(f"{stack.settings.superset_url}{path}")
    page.wait_for_selector('[data-test="dashboard-header-container"]')
    page.wait_for_selector('[data-test="chart-grid-component"]')
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": width, "height": max(VIEWPORT["height"], height)})


ASSETS = load_assets()
# The test stack's orders run from 2025-01-01 for 90 days: February is a whole month inside them.
PERIOD = (date(2025, 2, 1), date(2025, 3, 1))
# What the dashboard is compared with: all of the stack's days and no other filter (the dashboards'
# default period, the last complete month before today, has no orders on this data).
WHOLE_DATA = FilterChoice(start=date(2025, 1, 1), end=date(2025, 4, 2))
PHONE_WIDTH = 390
# Superset's time grains as PostgreSQL's date_trunc fields.
TIME_GRAINS = {"P1D": "day", "P1W": "week", "P1M": "month", "P3M": "quarter", "P1Y": "year"}
SIMPLE_OPERATORS = {"==": "=", "!=": "<>", ">": ">", "<": "<", ">=": ">=", "<=": "<="}


@pytest.fixture(scope="module")
def choice(stack) -> FilterChoice:
    """The period, and the country and category with the most lines in it (so filtered charts have
    data). A country filter on another column than the code (a name) gets the same country's value,
    read from the filter's own dataset."""
    with stack.warehouse() as conn:
        country_code, category = conn.execute(
            "select country_code, category from marts.fct_order_lines where order_date >= %s and order_date < %s"
            " group by 1, 2 order by count(*) desc, 1, 2 limit 1",
            PERIOD,
        ).fetchone()
        values = {"country_code": country_code, "category": category}
        published = with_dbt_definitions(ASSETS, json.loads(DEFAULT_MANIFEST.read_text()))
        datasets = {dataset.uuid: dataset for dataset in published.datasets}
        for dashboard in ASSETS.dashboards:
            for spec in dashboard.spec.get("filters", []):
                if spec["type"] != "filter_select" or not spec["column"].startswith("country") or spec["column"] in values:
                    continue
                dataset = datasets[str(spec["dataset"])].spec
                if "country_code" in {column["column_name"] for column in dataset["columns"]}:
                    row = conn.execute(
                        f'select "{spec["column"]}" from "{dataset["schema"]}"."{dataset["table_name"]}"'
                        " where country_code = %s limit 1",
                        (country_code,),
                    ).fetchone()
                    if row:
                        values[spec["column"]] = row[0]
    return FilterChoice(start=PERIOD[0], end=PERIOD[1], values=values)


@pytest.fixture(scope="module")
def chart_ids(stack) -> dict[int, str]:
    """Superset's chart ids -> the charts' uuids."""
    from ecom_superset.publisher import Superset

    settings = stack.settings
    superset = Superset(settings.superset_url, settings.superset_admin_user, settings.superset_admin_password)
    return {superset.id_by_uuid("chart", chart.uuid): chart.uuid for chart in ASSETS.charts}


class ChartData:
    """The last chart data answer of each chart while it listens, by chart uuid."""

    def __init__(self, page, chart_ids: dict[int, str]):
        self.page, self.chart_ids = page, chart_ids
        self.responses: list = []

    def __enter__(self) -> ChartData:
        self.page.on("response", self._on_response)
        return self

    def __exit__(self, *exc) -> None:
        self.page.remove_listener("response", self._on_response)

    def _on_response(self, response) -> None:
        if "/api/v1/chart/data" in response.url and response.request.method == "POST":
            self.responses.append(response)

    def by_chart(self) -> dict[str, tuple[dict, dict]]:
        """uuid -> (the request's form data, the answer's first query result)."""
        answers = {}
        for response in self.responses:
            assert response.status == 200, f"{response.url}: HTTP {response.status} {response.text()[:300]}"
            form_data = response.request.post_data_json["form_data"]
            # The filter bar's select filters fetch their choices through the same endpoint, with no chart.
            if form_data.get("slice_id") is not None:
                answers[self.chart_ids[form_data["slice_id"]]] = (form_data, response.json()["result"][0])
        return answers


def _condition(column: str, operator: str, value) -> tuple[str, list]:
    """A chart's simple adhoc filter as SQL and its parameters."""
    quoted = f'"{column}"'
    if operator in SIMPLE_OPERATORS:
        return f"{quoted} {SIMPLE_OPERATORS[operator]} %s", [value]
    if operator in ("IN", "NOT IN"):
        return f"{quoted} {'<> all' if operator == 'NOT IN' else '= any'}(%s)", [list(value)]
    if operator in ("IS TRUE", "IS FALSE", "IS NULL", "IS NOT NULL"):
        return f"{quoted} {operator.lower()}", []
    raise AssertionError(f"the test does not know the filter operator {operator}")


def key_figure_from_marts(stack, chart, dataset, extras: list[dict]) -> list[tuple]:
    """What a big number chart must show, from SQL over its mart: its metric (the dataset's SQL, built
    from the dbt metric definitions) under the chart's own filters and the dashboard filters in
    `extras`, for the whole range (big_number_total) or per period of its time grain (big_number)."""
    params = chart.spec["params"]
    metric = next(m for m in dataset.spec["metrics"] if m["metric_name"] == params["metric"])
    # COUNT(DISTINCT ...), not the shortcut the dashboard's query may take (semantic.py, counted_once).
    expression = counted_distinct(metric["expression"])
    conditions, parameters = [], []
    time_range = next((extra["time_range"] for extra in extras if "time_range" in extra), None)
    for adhoc in params.get("adhoc_filters", []):
        if adhoc.get("expressionType") == "SQL":
            conditions.append(f"({adhoc['sqlExpression']})")
        elif adhoc["operator"] == "TEMPORAL_RANGE":
            if time_range:
                start, end = (part.strip() for part in time_range.split(" : "))
                conditions.append(f'"{adhoc["subject"]}" >= %s and "{adhoc["subject"]}" < %s')
                parameters += [start, end]
        else:
            sql, values = _condition(adhoc["subject"], adhoc["operator"], adhoc.get("comparator"))
            conditions.append(sql)
            parameters += values
    for extra in extras:
        for condition in extra.get("filters", []):
            sql, values = _condition(condition["col"], condition["op"], condition["val"])
            conditions.append(sql)
            parameters += values
    where = " and ".join(conditions) or "true"
    table = f'"{dataset.spec["schema"]}"."{dataset.spec["table_name"]}"'
    with stack.warehouse() as conn:
        if chart.spec["viz_type"] == "big_number_total":
            return conn.execute(f"select {expression} from {table} where {where}", parameters).fetchall()
        period = f"date_trunc('{TIME_GRAINS[params['time_grain_sqla']]}', \"{params['x_axis']}\")"
        return conn.execute(
            f"select {period}, {expression} from {table} where {where} group by 1 order by 1", parameters
        ).fetchall()


def _numbers_match(shown, expected) -> bool:
    if shown is None or expected is None:
        return shown is None and expected is None
    return math.isclose(float(shown), float(expected), rel_tol=1e-9, abs_tol=1e-6)


def assert_key_figure_equals_the_marts(stack, chart, dataset, result: dict, extras: list[dict]) -> None:
    expected = key_figure_from_marts(stack, chart, dataset, extras)
    label = chart.spec["params"]["metric"]
    name = chart.spec["slice_name"]
    if chart.spec["viz_type"] == "big_number_total":
        shown = result["data"][0][label]
        assert _numbers_match(shown, expected[0][0]), f"{name}: the dashboard shows {shown}, the marts give {expected[0][0]}"
        return
    x_axis = chart.spec["params"]["x_axis"]
    shown_series = {
        datetime.fromtimestamp(row[x_axis] / 1000, tz=UTC).date(): row[label] for row in result["data"] if row[label] is not None
    }
    expected_series = {
        moment.date() if isinstance(moment, datetime) else moment: value for moment, value in expected if value is not None
    }
    assert shown_series.keys() == expected_series.keys(), f"{name}: periods {sorted(shown_series)} != {sorted(expected_series)}"
    mismatched = {
        day: (shown_series[day], expected_series[day])
        for day in shown_series
        if not _numbers_match(shown_series[day], expected_series[day])
    }
    assert not mismatched, f"{name}: dashboard vs marts per period: {mismatched}"


@pytest.mark.parametrize("dashboard", ASSETS.dashboards, ids=[d.name for d in ASSETS.dashboards])
def test_a_person_opens_the_dashboard_filtered_by_period_country_and_category(
    stack, page, screenshot_dirs, choice, chart_ids, dashboard
):
    if page is None:
        _chromium()
    charts = ASSETS.charts_of(dashboard)
    # The datasets' columns, which decide a filter's scope, are the dbt models' (the stack parsed them).
    published = with_dbt_definitions(ASSETS, json.loads(DEFAULT_MANIFEST.read_text()))
    datasets = {dataset.uuid: dataset for dataset in published.datasets}

    with ChartData(page, chart_ids) as chart_data:
        open_dashboard(page, stack, dashboard_path(dashboard.spec, WHOLE_DATA))
        before = {state["name"]: state["text"] for state in wait_for_charts(page, len(charts))}
        unfiltered = chart_data.by_chart()
    assert set(before) == {chart.spec["slice_name"] for chart in charts}
    screenshot(page, dashboard.name, screenshot_dirs)

    # The same dashboard opened from a link with the period, country and category already chosen.
    with ChartData(page, chart_ids) as chart_data:
        open_dashboard(page, stack, dashboard_path(dashboard.spec, choice))
        after = {state["name"]: state["text"] for state in wait_for_charts(page, len(charts))}
        filtered = chart_data.by_chart()
    screenshot(page, f"{dashboard.name}-filtered", screenshot_dirs)

    extras = {chart.uuid: chart_filters(dashboard, chart, charts, datasets, choice) for chart in charts}
    for chart in charts:
        name, big_number = chart.spec["slice_name"], chart.spec["viz_type"].startswith("big_number")
        applied = filtered[chart.uuid][0].get("extra_form_data", {})
        for extra in extras[chart.uuid]:
            for condition in extra.get("filters", []):
                assert condition in applied.get("filters", []), f"{name}: {condition} not applied from the URL: {applied}"
            if "time_range" in extra:
                assert applied.get("time_range") == extra["time_range"], f"{name}: the period is not applied: {applied}"
        # The numbers the chart drew (a canvas has no text to compare), and a big number's text.
        numbers_before, numbers_after = unfiltered[chart.uuid][1]["data"], filtered[chart.uuid][1]["data"]
        if extras[chart.uuid]:
            assert numbers_after != numbers_before, f"{name} got the same numbers with the filters {choice} as without"
            if big_number:
                assert after[name] != before[name], f"{name} shows the same with the filters {choice} as without"
        else:
            assert numbers_after == numbers_before, f"{name} is in the scope of none of the filters but its numbers changed"
        if chart.spec["viz_type"] in ("big_number_total", "big_number") and extras[chart.uuid]:
            assert_key_figure_equals_the_marts(
                stack, chart, datasets[str(chart.spec["dataset_uuid"])], filtered[chart.uuid][1], extras[chart.uuid]
            )

    # A phone: the same filtered dashboard 390 px wide.
    open_dashboard(page, stack, dashboard_path(dashboard.spec, choice), width=PHONE_WIDTH)
    wait_for_charts(page, len(charts))
    key_figures = [chart for chart in charts if chart.spec["viz_type"] in KEY_FIGURE_VIZ_TYPES]
    assert key_figures, f"{dashboard.name} has no key figures"
    assert_key_figures_readable(page, len(key_figures))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH, "the page is wider than the phone"
    screenshot(page, f"{dashboard.name}-filtered-{PHONE_WIDTH}px", screenshot_dirs)
