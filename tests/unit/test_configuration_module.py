"""Environment variables are read in one module, orchestration/settings.py; the stages get values."""

import re

import pytest

from orchestration.settings import REPO_ROOT

# Reading a variable: os.environ.get / os.getenv / os.environ["X"]. Writes are no reads: os.environ["X"] = ...,
# os.environ.update(...), or setdefault for a library's own switch (ecom_superset/publisher.py).
READ = re.compile(r"os\.getenv\(|os\.environ\.get\(|os\.environ\[[^\]]+\](?!\s*=[^=])")
# Superset's server configuration is Superset's own process's; it reads its environment itself.
OWN_PROCESS_CONFIG = {REPO_ROOT / "superset" / "superset_config.py", REPO_ROOT / "orchestration" / "settings.py"}


def modules():
    for folder in ("orchestration", "ingestion", "expectations", "superset/ecom_superset"):
        yield from (path for path in (REPO_ROOT / folder).rglob("*.py") if path not in OWN_PROCESS_CONFIG)


def test_the_pattern_finds_reads_and_leaves_writes():
    assert READ.search('x = os.environ.get("A", "")') and READ.search('os.environ["A"]') and READ.search("os.getenv('A')")
    assert not READ.search('os.environ["A"] = "1"') and not READ.search("os.environ.update(env)")


@pytest.mark.parametrize("path", sorted(modules()), ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_no_module_but_settings_reads_the_environment(path):
    reads = [line.strip() for line in path.read_text().splitlines() if READ.search(line)]
    assert not reads, f"{path.relative_to(REPO_ROOT)} reads the environment: {reads}"
