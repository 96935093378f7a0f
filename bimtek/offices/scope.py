"""Who sees and changes what: the one rule every list and every object lookup goes through.

An office sees what lies in its subtree (itself and the offices below it) and changes only what
it owns; KPU RI sees everything. A participant belongs to the kabupaten/kota office of their
kecamatan. Shared things — modules and banks, province courses — flow the other way: an office
uses what its ancestors share. A single-office database has one office and notices none of it.

    stmt = scope.visible(select(User), User.office_id)   # every list
    session = scope.get_visible_or_404(TrainingSession, session_id)
    scope.require_owner(session)                           # every write: else 403
"""

import time
from dataclasses import dataclass

from flask import abort, current_app, g, has_app_context, has_request_context
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, or_, select, true

from bimtek.extensions import db
from bimtek.offices.models import FIRST_OFFICE_ID, Office


@dataclass(frozen=True)
class OfficeTree:
    """Every office's parent, read once per request (a country has about 550 offices)."""

    parent: dict[int, int | None]

    def children(self) -> dict[int, list[int]]:
        result: dict[int, list[int]] = {}
        for office_id, parent_id in self.parent.items():
            if parent_id is not None:
                result.setdefault(parent_id, []).append(office_id)
        return result

    def subtree(self, office_id: int) -> frozenset[int]:
        children = self.children()
        found, todo = set(), [office_id]
        while todo:
            node = todo.pop()
            if node in found:
                continue
            found.add(node)
            todo.extend(children.get(node, ()))
        return frozenset(found)

    def ancestors(self, office_id: int) -> tuple[int, ...]:
        """The office's parent, its parent's parent, … up to the root (not the office itself)."""
        chain, node, seen = [], self.parent.get(office_id), {office_id}
        while node is not None and node not in seen:
            chain.append(node)
            seen.add(node)
            node = self.parent.get(node)
        return tuple(chain)


def load_tree() -> OfficeTree:
    rows = db.session.execute(select(Office.id, Office.parent_id)).all()
    return OfficeTree({row.id: row.parent_id for row in rows})


# The tree changes when an office is added or moved (a handful of times in a deployment's life);
# every participant request that checks a shared course needs it. Each process keeps it for a
# short while: another node's new office is seen within TREE_TTL seconds (a new office owns
# nothing yet), and this process's own change is seen at once (forget()).
TREE_TTL = 30.0
_process_tree: tuple[float, str, OfficeTree] | None = None


def office_tree() -> OfficeTree:
    global _process_tree
    if not has_request_context():
        return load_tree()
    tree = g.get("_bimtek_office_tree")
    if tree is not None:
        return tree
    database = f"{id(current_app._get_current_object())}:{db.engine.url}"
    now = time.monotonic()
    if _process_tree is not None and _process_tree[1] == database and now < _process_tree[0]:
        tree = _process_tree[2]
    else:
        tree = load_tree()
        _process_tree = (now + TREE_TTL, database, tree)
    g._bimtek_office_tree = tree
    return tree


@dataclass(frozen=True)
class Reach:
    """What one office may see (its subtree) and change (what it owns)."""

    office_id: int
    ids: frozenset[int]  # the office and every office below it
    shared_ids: frozenset[int]  # the office and every office above it (shared content)
    everything: bool  # the subtree is every office there is

    def sees(self, office_id: int | None) -> bool:
        return self.everything or (office_id or FIRST_OFFICE_ID) in self.ids

    def owns(self, office_id: int | None) -> bool:
        return (office_id or FIRST_OFFICE_ID) == self.office_id

    def uses(self, office_id: int | None) -> bool:
        """Shared content (modules, banks, courses offered down): own or an ancestor's."""
        return (office_id or FIRST_OFFICE_ID) in self.shared_ids

    def where(self, column) -> ColumnElement[bool]:
        """The SQL condition "this row's office lies in my subtree" for any office_id column."""
        return _in(column, self.ids, everything=self.everything)

    def where_shared(self, column) -> ColumnElement[bool]:
        return _in(column, self.shared_ids)


def _in(column, ids: frozenset[int], *, everything: bool = False) -> ColumnElement[bool]:
    if everything:
        return true()
    condition = column.in_(sorted(ids))
    # A row written by a bulk INSERT that named no office belongs to the first office.
    return or_(condition, column.is_(None)) if FIRST_OFFICE_ID in ids else condition


def reach_of_office(office_id: int, tree: OfficeTree | None = None) -> Reach:
    tree = tree or office_tree()
    ids = tree.subtree(office_id)
    return Reach(
        office_id=office_id,
        ids=ids,
        shared_ids=frozenset((office_id, *tree.ancestors(office_id))),
        everything=ids >= set(tree.parent),
    )


def office_id_of(user) -> int:
    return getattr(user, "office_id", None) or FIRST_OFFICE_ID


def acting_office_id() -> int:
    """Whose office this work speaks for: an office chosen for it (`use_office`: a certificate is
    printed by its participant's office), else the signed-in user's, else the first office."""
    if not has_app_context():
        return FIRST_OFFICE_ID
    chosen = g.get("_bimtek_office_id")
    if chosen is not None:
        return chosen
    if has_request_context():
        return office_id_of(current_user)
    return FIRST_OFFICE_ID


def reach_of(user) -> Reach:
    return reach_of_office(office_id_of(user))


def current_reach() -> Reach:
    """The signed-in user's reach, once per request."""
    reach = g.get("_bimtek_reach")
    if reach is None or reach.office_id != office_id_of(current_user):
        reach = g._bimtek_reach = reach_of(current_user)
    return reach


def visible(stmt: Select, column, reach: Reach | None = None) -> Select:
    """`stmt` narrowed to the rows whose office (`column`) the user may see."""
    return stmt.where((reach or current_reach()).where(column))


def get_visible_or_404(model, ident, *, reach: Reach | None = None):
    """The object, if its office lies in the user's subtree; a foreign one is 404 as a missing
    one is, so an id tells an outsider nothing."""
    obj = db.session.get(model, ident)
    if obj is None or not (reach or current_reach()).sees(office_of(obj)):
        abort(404)
    return obj


def require_owner(obj, *, reach: Reach | None = None) -> None:
    """A change to a visible object its own office does not own (a province looking at a
    kabupaten's session): 403."""
    if not (reach or current_reach()).owns(office_of(obj)):
        abort(403)


def office_of(obj) -> int:
    """The office an object belongs to: its own office_id column, or for a row that belongs
    to another (a quiz to its course, an attempt to its participant) the `owner_office_id` it
    declares. Anything else is a programming error, never "the first office" by default."""
    unwrap = getattr(obj, "_get_current_object", None)  # flask_login's current_user
    if unwrap is not None:
        obj = unwrap()
    mapper_columns = getattr(type(obj), "__table__", None)
    if mapper_columns is not None and "office_id" in mapper_columns.c:
        return obj.office_id or FIRST_OFFICE_ID
    owner = getattr(obj, "owner_office_id", None)
    if owner is None:
        raise TypeError(f"{type(obj).__name__} has no office: give it owner_office_id")
    return owner or FIRST_OFFICE_ID


def forget_process_tree() -> None:
    global _process_tree
    _process_tree = None


def forget() -> None:
    """After the tree changed (an office added or moved)."""
    forget_process_tree()
    g.pop("_bimtek_office_tree", None)
    g.pop("_bimtek_reach", None)
    g.pop("_bimtek_region_offices", None)
