"""Test order and ids for parallel workers (`pytest -n N --dist loadgroup`, see Makefile):
real calls first, browser tests last in one group, every item an id of its own."""

from __future__ import annotations

import pytest

from tests.browser import uses_browser

# Files by how long they take, longest first, so parallel workers (`pytest -n N`) finish
# together: real calls first, then the API's and the units' quick files.
FOLDER_ORDER = ("integration", "api", "unit", "web")


def _rank(item: pytest.Item) -> int:
    parts = item.nodeid.split("/")
    folder = parts[1] if len(parts) > 2 else ""
    return FOLDER_ORDER.index(folder) if folder in FOLDER_ORDER else len(FOLDER_ORDER)


def _name_each_apart(items: list[pytest.Item]) -> None:
    """Items that share one id (schemathesis gives every API operation its function's id)
    get their own name as id: parallel workers are handed tests by id."""
    seen: dict[str, int] = {}
    for item in items:
        seen[item.nodeid] = seen.get(item.nodeid, 0) + 1
    for item in items:
        if seen[item.nodeid] > 1:
            _set_nodeid(item, f"{item.nodeid.rsplit('::', 1)[0]}::{item.name}")


def _set_nodeid(item: pytest.Item, nodeid: str) -> None:
    """pytest 9 keeps an item's id as a parsed NodeId (`_id`); earlier ones as `_nodeid`,
    which is also what pytest-xdist's own group suffix sets (lost on pytest 9)."""
    if hasattr(item, "_id"):
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(nodeid)
    item._nodeid = nodeid


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last, in one group: Playwright's sync API keeps an event loop in the
    main thread from the first browser test on, and the asyncio tests need that thread's loop
    free. In a parallel run (`--dist loadgroup`) the group is one unit of work, the last one
    handed out, so no worker runs an asyncio test after a browser test."""
    items.sort(key=lambda item: (uses_browser(item), _rank(item)))
    _name_each_apart(items)
    for item in items:
        if uses_browser(item):
            item.add_marker(pytest.mark.xdist_group("browser"))
        # A group (a module that restarts its platform with other settings, the browser
        # tests) is one unit of work: pytest-xdist's group is the id's @suffix.
        if (marker := item.get_closest_marker("xdist_group")) is not None:
            group = marker.args[0] if marker.args else marker.kwargs.get("name", "")
            if group and not item.nodeid.endswith(f"@{group}"):
                _set_nodeid(item, f"{item.nodeid}@{group}")
