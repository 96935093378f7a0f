"""Office boundaries on every route, on PostgreSQL (tests/office_access.py: the rule, the world
and the cells)."""

import pytest

from tests.office_access import CELLS, check_cell, world_fixture

world = world_fixture("postgresql")


@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_office_access(world, cell):
    check_cell(world, cell)
