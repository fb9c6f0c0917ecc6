"""The registry of synced kinds, in hierarchical order (parents before children).

One module per kind (client.py, project.py, task.py) holds everything specific to it;
the rest of the code asks the registry (`get(kind)`) instead of branching on a kind name.
"""

from __future__ import annotations

from syncapp.engine.kinds.base import KindSpec, SettingsLike
from syncapp.engine.kinds.client import CLIENT
from syncapp.engine.kinds.project import PROJECT
from syncapp.engine.kinds.task import TASK

KINDS: tuple[KindSpec, ...] = (CLIENT, PROJECT, TASK)
_BY_NAME = {spec.name: spec for spec in KINDS}
KIND_NAMES: tuple[str, ...] = tuple(_BY_NAME)


def get(kind: str) -> KindSpec:
    """The spec of a kind name; KeyError for anything else (a bug or hostile input)."""
    return _BY_NAME[kind]


def find(kind: str) -> KindSpec | None:
    """The spec of a kind name, or None: for values read back from storage or a URL."""
    return _BY_NAME.get(kind)


def children_first() -> tuple[KindSpec, ...]:
    """Kinds with a parent, deepest first (a task brings its project, which brings its client)."""
    return tuple(spec for spec in reversed(KINDS) if spec.parent)


def database_settings() -> tuple[str, ...]:
    """The settings naming the Notion databases, in kind order."""
    return tuple(spec.setting for spec in KINDS)


def database_ids(config: SettingsLike) -> dict[str, str]:
    """Each kind's Notion database id, read from `config` (settings or a sync profile)."""
    return {spec.name: spec.database_id(config) for spec in KINDS}


def name_problem(kind: str, name: str | None) -> str | None:
    """A plain-words reason Clockify would refuse this name, or None."""
    low, high = get(kind).name_limits
    length = len((name or "").strip())
    if length == 0:
        return f"The {kind} has no name in Notion; give the page a title."
    if length < low or length > high:
        return (f"The name is {length} characters long; Clockify accepts {low}–{high} for a "
                f"{kind}. Change the title in Notion.")
    return None


def direction(kind: str, field: str) -> str:
    return get(kind).field(field).direction


__all__ = ["KINDS", "KIND_NAMES", "KindSpec", "children_first", "database_ids",
           "database_settings", "direction", "find", "get", "name_problem"]
