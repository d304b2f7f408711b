"""Great Expectations' Data Docs without the internet.

GX's page templates load bootstrap, jquery, font-awesome, bootstrap-table, datepicker and vega from
public CDNs, and its logo from an S3 bucket (with a data-context id in the query string). Opened
offline, from a laptop on a train or a locked-down server, those pages lose their layout, tables and
charts. The exact files those URLs serve are vendored under expectations/data_docs_assets/ (from the
npm registry, each package with its licence); `make_offline` copies them into the built site and
points every page and stylesheet at them by a relative path, so the site opens from disk. It also
recomputes GX's own links to the site's static folder, one of which misses a level.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path, PurePosixPath

ASSETS_DIR = Path(__file__).with_name("data_docs_assets")
# Where the vendored files go inside the built site, beside GX's own static/images and static/styles.
SITE_VENDOR_DIR = PurePosixPath("static/vendor")
GX_ASSETS_BUCKET = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"

# Each URL GX's templates and stylesheets load -> the file that replaces it, relative to the site's root.
# The CDN's unversioned ranges (vega@5, vega-lite@5, vega-embed@6) are pinned to the release the CDN
# served for them when vendored.
_VENDORED = {
    "https://cdn.jsdelivr.net/npm/vega@5": "vega@5.33.1/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite@5.23.0/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed@6.29.0/build/vega-embed.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "@fortawesome/fontawesome-free@6.6.0/css/all.min.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery@3.7.1/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js@1.12.9/dist/umd/popper.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap@4.3.1/dist/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap@4.3.1/dist/js/bootstrap.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table@1.19.1/dist/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table@1.19.1/dist/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        "bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        "bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker@1.9.0/dist/css/bootstrap-datepicker.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker@1.9.0/dist/js/bootstrap-datepicker.min.js"
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css"
    ),
}
SITE_FILES: dict[str, PurePosixPath] = {url: SITE_VENDOR_DIR / path for url, path in _VENDORED.items()} | {
    # GX ships the logo in the site's static/images; the bucket only adds tracking. It has no dark
    # variant of the logo: the dark theme shows the same one.
    GX_ASSETS_BUCKET + "logo-long.png": PurePosixPath("static/images/logo-long.png"),
    GX_ASSETS_BUCKET + "full_logo_dark.png": PurePosixPath("static/images/logo-long.png"),
}

# A tag that loads something (script, stylesheet, icon, image) and the attribute holding its URL.
_LOADING_TAG = re.compile(r"<(?:script|link|img)\b[^>]*>", re.IGNORECASE | re.DOTALL)
_URL_ATTRIBUTE = re.compile(r"""\b(src|href)\s*=\s*(["'])([^"']*)\2""", re.IGNORECASE)
# A site-relative path to GX's static folder, as its templates write it: "../../static/images/x.png".
_STATIC_PATH = re.compile(r"^(?:\./|\.\./)*(static/[^?#]+)$")
# Subresource integrity needs a CORS fetch, which browsers refuse for file:// pages: the vendored
# files are checked against these hashes by the unit tests instead.
_CORS_ATTRIBUTES = re.compile(r"""\s+(?:integrity|crossorigin)\s*=\s*(["'])[^"']*\1""", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*(["']?)(https?://[^"')]*)\1\s*\)""", re.IGNORECASE)


def _without_query(url: str) -> str:
    # The logo's URL carries a timestamp and the data context's id as a query: dropped with the URL.
    return url.split("?", 1)[0]


def local_url(url: str, from_dir: PurePosixPath) -> str | None:
    """The relative URL of the local copy of `url`, seen from `from_dir` (a folder of the site,
    relative to its root), or None if it has no local copy."""
    site_file = SITE_FILES.get(_without_query(url))
    if site_file is None:
        return None
    return PurePosixPath(os.path.relpath(site_file, from_dir)).as_posix()


def _offline_tag(tag: str, from_dir: PurePosixPath) -> str:
    match = _URL_ATTRIBUTE.search(tag)
    if match is None:
        return tag
    url = match.group(3)
    static = _STATIC_PATH.match(url)
    if static:
        # GX counts the folders of a validation page one short for its favicon (../ x4 for a page five
        # folders deep): every link to the static folder is recomputed from the page's real place.
        return _with_url(tag, match, PurePosixPath(os.path.relpath(static.group(1), from_dir)).as_posix())
    local = local_url(url, from_dir)
    if local is None:
        return tag
    return _CORS_ATTRIBUTES.sub("", _with_url(tag, match, local))


def _with_url(tag: str, match: re.Match, url: str) -> str:
    return tag[: match.start(3)] + url + tag[match.end(3) :]


def offline_html(html: str, from_dir: PurePosixPath) -> str:
    """The page with every CDN asset it loads pointed at its local copy."""
    return _LOADING_TAG.sub(lambda tag: _offline_tag(tag.group(0), from_dir), html)


def offline_css(css: str, from_dir: PurePosixPath) -> str:
    def replace(match: re.Match) -> str:
        local = local_url(match.group(2), from_dir)
        return match.group(0) if local is None else f"url('{local}')"

    return _CSS_URL.sub(replace, css)


def _copy_vendored_assets(site_dir: Path) -> None:
    """The vendored files (and their licences) into the site, copying only what is missing or changed:
    the site is rebuilt after every validation run."""
    for source in ASSETS_DIR.rglob("*"):
        if source.is_dir():
            continue
        target = site_dir / SITE_VENDOR_DIR / source.relative_to(ASSETS_DIR)
        if not target.exists() or target.stat().st_size != source.stat().st_size:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


def _rewrite(path: Path, site_dir: Path, rewrite) -> None:
    text = path.read_text(encoding="utf-8")
    offline = rewrite(text, PurePosixPath(path.parent.relative_to(site_dir).as_posix()))
    if offline != text:
        path.write_text(offline, encoding="utf-8")


def make_offline(site_dir: Path) -> None:
    """Make the built Data Docs site at `site_dir` open without the internet. Idempotent: pages
    already rewritten by an earlier run are left as they are."""
    _copy_vendored_assets(site_dir)
    for page in site_dir.rglob("*.html"):
        _rewrite(page, site_dir, offline_html)
    for stylesheet in (site_dir / "static" / "styles").glob("*.css"):
        _rewrite(stylesheet, site_dir, offline_css)
