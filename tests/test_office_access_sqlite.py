"""Office boundaries on every route, on SQLite (tests/office_access.py: the rule, the world and
the cells), and the registries that keep the generated cells complete."""

import pytest

from tests.office_access import (
    CELLS,
    ENDPOINT_KINDS,
    EXEMPT,
    KNOWN_GAPS,
    ROLES,
    RULES,
    check_cell,
    kind_of,
    world_fixture,
)

world = world_fixture("sqlite")


@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_office_access(world, cell):
    check_cell(world, cell)


def test_every_route_parameter_has_a_kind():
    missing = sorted(
        f"{rule.rule} ({rule.endpoint}): add {name!r} to PARAMS"
        for rule in RULES
        if rule.endpoint not in EXEMPT
        for name in rule.arguments
        if kind_of(rule.endpoint, name) is None
    )
    assert not missing, "\n".join(missing)


def test_every_route_has_roles():
    missing = sorted({r.endpoint for r in RULES if r.endpoint not in ROLES | EXEMPT})
    assert not missing, "add to ROLES (or EXEMPT, with the reason): " + ", ".join(missing)


def test_the_registries_name_only_real_routes():
    endpoints = {r.endpoint for r in RULES}
    stale = sorted((set(ROLES) | set(EXEMPT) | {e for e, _ in ENDPOINT_KINDS}) - endpoints)
    assert not stale, f"no such route any more: {stale}"
    assert {c.endpoint for c in CELLS} >= endpoints - set(EXEMPT)
    stale_gaps = sorted(KNOWN_GAPS - {c.key for c in CELLS})
    assert not stale_gaps, f"KNOWN_GAPS names cells that are not generated: {stale_gaps}"
