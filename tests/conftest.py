def pytest_collection_modifyitems(items):
    # Unit tests first: they fail fast, before the throw-away stack is started. Fault injection
    # (killing servers under the shared stack) last, so that no other test runs on a stack recovering.
    items.sort(key=lambda item: ("integration" in item.nodeid, item.get_closest_marker("faults") is not None))
