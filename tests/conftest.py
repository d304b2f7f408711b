import pytest


def pytest_collection_modifyitems(items):
    # Unit tests first: they fail fast, before the throw-away stack is started.
    items.sort(key=lambda item: "integration" in item.nodeid)
