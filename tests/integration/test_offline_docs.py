"""The documentation opens with no internet: the Great Expectations Data Docs the pipeline built for the
test stack, and the dbt docs page `ecom docs --no-serve` prints.

Each page is checked twice: its HTML (nothing it loads is on another host; every local file it loads
exists) and in Debian's chromium with every request that is not a local file refused, so a page that
still needs the internet shows as a refused request or a missing script.
"""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from expectations.gx_project import data_docs_index

pytestmark = pytest.mark.integration

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
LOCAL_HOSTS = {"127.0.0.1"}
FACT_MODEL = "model.ecommerce_analytics.fct_order_lines"
CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)""")


class _LoadedUrls(HTMLParser):
    """The URLs a page loads when it opens: scripts, stylesheets and icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        url = {"script": attributes.get("src"), "img": attributes.get("src"), "link": attributes.get("href")}.get(tag)
        if url:
            self.urls.append(url)


def loaded_urls(html: str) -> list[str]:
    parser = _LoadedUrls()
    parser.feed(html)
    return parser.urls


def offline_problems(page: Path) -> list[str]:
    """What in the page, or in a local stylesheet it loads, needs the internet or a file that is not there."""
    problems = []
    for url in loaded_urls(page.read_text(encoding="utf-8")):
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") or url.startswith("//"):
            if parts.hostname not in LOCAL_HOSTS:
                problems.append(f"{page.name} loads {url}")
            continue
        if parts.scheme == "data":
            continue
        local = (page.parent / unquote(parts.path)).resolve()
        if not local.is_file():
            problems.append(f"{page.name} loads {url}, which is missing")
        elif local.suffix == ".css":
            for css_url in CSS_URL.findall(local.read_text(encoding="utf-8")):
                if css_url.startswith("data:"):
                    continue
                if urlsplit(css_url).scheme in ("http", "https") or css_url.startswith("//"):
                    problems.append(f"{local.name} loads {css_url}")
                elif not (local.parent / unquote(urlsplit(css_url).path)).resolve().is_file():
                    problems.append(f"{local.name} loads {css_url}, which is missing")
    return problems


@pytest.fixture(scope="module")
def offline_browser(tmp_path_factory):
    """A chromium page that can only read local files: every other request is refused and recorded."""
    chromium = shutil.which("chromium")
    if not chromium:
        pytest.fail("chromium is not installed: `make browser` (or `apt-get install chromium`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-offline")), executable_path=chromium, args=CHROMIUM_ARGS
        )
        refused: list[str] = []

        def only_local_files(route) -> None:
            if route.request.url.startswith("file://"):
                route.continue_()
            else:
                refused.append(route.request.url)
                route.abort()

        context.route("**/*", only_local_files)
        page = context.new_page()
        failed: list[str] = []
        page.on("requestfailed", lambda request: failed.append(request.url))
        yield page, refused, failed
        context.close()


def open_offline(offline_browser, path: Path, fragment: str = "", missing_local_files_are_its_own: bool = False):
    """The page opened from disk. It may ask for nothing but local files, and each must be there unless
    `missing_local_files_are_its_own`: dbt's page asks for its unrendered templates' URLs
    (`{{ getIcon(...) }}`, `${require(...favicon.ico)}`) as files, a dbt bug that needs no internet."""
    page, refused, failed = offline_browser
    refused.clear()
    failed.clear()
    page.goto(path.as_uri() + fragment, wait_until="load")
    page.wait_for_timeout(1000)
    assert refused == [], f"{path.name} asked the network for {sorted(set(refused))}"
    missing = sorted({url for url in failed if not (missing_local_files_are_its_own and url.startswith("file://"))})
    assert missing == [], f"{path.name} could not load {missing}"
    return page


def _data_docs_pages(stack) -> dict[str, Path]:
    index = data_docs_index(stack.settings.gx_dir)
    site = index.parent
    return {
        "index": index,
        "expectation suite": next((site / "expectations").rglob("*.html")),
        "validation result": next((site / "validations").rglob("*.html")),
    }


def test_data_docs_pages_load_nothing_from_the_internet(stack):
    pages = _data_docs_pages(stack)
    assert all(page.is_file() for page in pages.values()), pages
    site = pages["index"].parent
    problems = [problem for page in site.rglob("*.html") for problem in offline_problems(page)]
    assert problems == []
    # The rewrite did happen: the pages load bootstrap and jquery, from the site's own copies.
    index_urls = loaded_urls(pages["index"].read_text(encoding="utf-8"))
    assert "static/vendor/jquery@3.7.1/dist/jquery.min.js" in index_urls
    assert "static/vendor/bootstrap@4.3.1/dist/css/bootstrap.min.css" in index_urls


def test_data_docs_render_in_a_browser_with_no_internet(stack, offline_browser):
    for kind, path in _data_docs_pages(stack).items():
        page = open_offline(offline_browser, path)
        scripts = page.evaluate(
            "() => ({jquery: typeof jQuery, table: typeof jQuery?.fn?.bootstrapTable, vega: typeof vegaEmbed})"
        )
        assert scripts == {"jquery": "function", "table": "function", "vega": "function"}, (kind, scripts)
        # Bootstrap's stylesheet applied: its navbar is a flex box.
        assert page.evaluate("getComputedStyle(document.querySelector('nav.navbar')).display") == "flex", kind
    index = open_offline(offline_browser, _data_docs_pages(stack)["index"])
    assert "marts.kpi_daily" in index.inner_text("body")


def test_ecom_docs_no_serve_prints_a_page_that_opens_from_disk(stack, offline_browser):
    built = stack.ecom("docs", "--no-serve", timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    printed = re.search(r"dbt docs written to (\S+)", built.stdout)
    assert printed, built.stdout[-2000:]
    static_page = Path(printed.group(1))
    assert static_page.name == "static_index.html" and static_page.is_file()
    html = static_page.read_text(encoding="utf-8")
    # The manifest and the warehouse's catalog are inside the page; usage tracking is off and its URL gone.
    assert f'"unique_id": "{FACT_MODEL}"' in html
    assert '"send_anonymous_usage_stats": false' in html
    assert "cloudfront.net" not in html
    assert "ecom docs" in built.stdout.split(str(static_page), 1)[1]
    # The model's page, drawn by the page's own scripts from the manifest inside it.
    page = open_offline(offline_browser, static_page, fragment=f"#!/model/{FACT_MODEL}", missing_local_files_are_its_own=True)
    page.wait_for_function("document.body.innerText.includes('fct_order_lines') && document.body.innerText.includes('Columns')")
