"""Data Docs open offline: every CDN asset GX's installed templates and stylesheets load has a vendored
copy, the copy is the file the CDN serves (where GX pins a hash), and a built page is rewritten to it."""

import base64
import hashlib
import re
from pathlib import Path, PurePosixPath

import great_expectations
import pytest

from expectations.data_docs import ASSETS_DIR, GX_ASSETS_BUCKET, SITE_FILES, SITE_VENDOR_DIR, make_offline

GX_VIEW = Path(great_expectations.__file__).parent / "render" / "view"
TEMPLATES = sorted((GX_VIEW / "templates").glob("*.j2"))
STYLESHEETS = sorted((GX_VIEW / "static" / "styles").glob("*.css"))
URL = re.compile(r"""https?://[^\s"'<>)]+""")
# Links a reader follows (GX's website, its newsletter form; Markdown links) load nothing when the page opens.
NAVIGATION = re.compile(r"""(?:<(?:a|form)\b[^>]*?\b(?:href|action)\s*=\s*["']?|\]\()$""", re.IGNORECASE | re.DOTALL)


def _loaded_urls(text: str) -> set[str]:
    return {match.group(0) for match in URL.finditer(text) if not NAVIGATION.search(text[: match.start()][-400:])}


def test_the_installed_templates_are_the_ones_checked():
    assert any(template.name == "js_script_imports.j2" for template in TEMPLATES)
    assert any(stylesheet.name == "data_docs_default_styles.css" for stylesheet in STYLESHEETS)


@pytest.mark.parametrize("source", TEMPLATES + STYLESHEETS, ids=lambda path: path.name)
def test_every_asset_a_gx_template_loads_has_a_local_copy(source):
    for url in _loaded_urls(source.read_text(encoding="utf-8")):
        if url == GX_ASSETS_BUCKET:
            # top_navbar.j2 joins the bucket with a file name in Jinja: each such file is mapped on its own.
            assert GX_ASSETS_BUCKET + "logo-long.png" in SITE_FILES
            continue
        assert url in SITE_FILES, f"{source.name} loads {url}, which has no local copy in expectations/data_docs.py"


def test_every_vendored_file_exists_with_its_licence():
    for site_file in SITE_FILES.values():
        if site_file.is_relative_to(SITE_VENDOR_DIR):
            vendored = ASSETS_DIR / site_file.relative_to(SITE_VENDOR_DIR)
            assert vendored.is_file(), vendored
    for package in [*ASSETS_DIR.glob("[!@]*@*"), *ASSETS_DIR.glob("@*/*@*")]:
        has_licence_file = any(path.name.upper().startswith("LICENSE") for path in package.iterdir())
        assert has_licence_file or package.name in (ASSETS_DIR / "README.md").read_text(), package


def test_vendored_files_match_the_integrity_hashes_of_the_templates():
    pinned = re.compile(r"""src="(https://[^"]+)"\s+integrity="sha384-([^"]+)\"""")
    checked = 0
    for template in TEMPLATES:
        for url, digest in pinned.findall(template.read_text(encoding="utf-8")):
            vendored = ASSETS_DIR / SITE_FILES[url].relative_to(SITE_VENDOR_DIR)
            assert base64.b64encode(hashlib.sha384(vendored.read_bytes()).digest()).decode() == digest, url
            checked += 1
    assert checked >= 2


def test_a_built_page_is_pointed_at_the_local_copies(tmp_path):
    page_dir = tmp_path / "validations" / "marts" / "fct_orders" / "run" / "20250101T000000Z"
    page_dir.mkdir(parents=True)
    page = page_dir / "abc.html"
    page.write_text(
        '<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>\n'
        '<script src="https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js" integrity="sha384-x" '
        'crossorigin="anonymous"></script>\n'
        f'<img class="NO-CACHE" src="{GX_ASSETS_BUCKET}logo-long.png?d=20250101T000000.0Z&dataContextId=1" alt="GX"/>\n'
        '<a href="https://greatexpectations.io/">Great Expectations</a>\n'
        # GX 1.24 writes four levels up for the favicon of a page five folders deep.
        '<link rel="shortcut icon" href="../../../../static/images/favicon.ico" type="image/x-icon"/>\n'
    )
    styles = tmp_path / "static" / "styles"
    styles.mkdir(parents=True)
    (styles / "data_docs_default_styles.css").write_text(
        f".navbar-brand a {{ background: url('{GX_ASSETS_BUCKET}full_logo_dark.png') }}"
    )

    make_offline(tmp_path)
    make_offline(tmp_path)

    html = page.read_text()
    assert '<link rel="stylesheet" href="../../../../../static/vendor/bootstrap@4.3.1/dist/css/bootstrap.min.css"/>' in html
    assert '<script src="../../../../../static/vendor/bootstrap@4.3.1/dist/js/bootstrap.min.js"></script>' in html
    assert 'src="../../../../../static/images/logo-long.png" alt="GX"' in html
    assert '<a href="https://greatexpectations.io/">' in html
    assert 'href="../../../../../static/images/favicon.ico"' in html
    assert "url('../images/logo-long.png')" in (styles / "data_docs_default_styles.css").read_text()
    for loaded in re.findall(r'(?:src|href)="(\.\./[^"]+)"', html):
        if "vendor" in loaded:
            assert (page_dir / PurePosixPath(loaded)).resolve().is_file(), loaded
