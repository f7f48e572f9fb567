"""Make `--dist loadgroup` see the xdist_group marks again under pytest 9.2.

pytest-xdist 3.8 tells its scheduler a test's group by renaming the test on the worker
(`tests/test_x.py::test_y@group`, through the private `item._nodeid`), which pytest
9.2's structured node ids no longer honour (pytest-xdist#1386, open): every group was
silently ignored, and the tests of a "serial" group ran on three workers at once.
Until a release of xdist does it, the rename is made here, as xdist means it, after
xdist's own hook; where xdist's rename worked, this does nothing.
"""

from __future__ import annotations

import pytest

__all__ = ["GroupsInNodeIds", "NodeId", "group_suffix"]

try:  # pytest >= 9.2
    from _pytest.nodeid import NodeId
except ImportError:  # older pytest: xdist's own rename works
    NodeId = None  # type: ignore[assignment,misc]


def group_suffix(item: pytest.Item) -> str:
    """`@a_b` for a test in groups a and b (xdist's spelling), "" for none."""
    groups = {
        str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        for mark in item.iter_markers("xdist_group")
    }
    return "@" + "_".join(sorted(groups)) if groups else ""


class GroupsInNodeIds:
    """Registered by tests/conftest.py."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        on_worker = hasattr(config, "workerinput")
        if not on_worker or not getattr(config.option, "loadgroup", False) or NodeId is None:
            return  # not an xdist worker under loadgroup, or nothing to mend
        for item in items:
            suffix = group_suffix(item)
            if suffix and not item.nodeid.endswith(suffix):
                item._id = NodeId.parse(item.nodeid + suffix)
