"""Sync policy as plain values: who owns each field, what a conflict does, what needs review."""

from __future__ import annotations

from dataclasses import dataclass, field

from syncapp.engine.kinds import direction

CLOCKIFY_TO_NOTION = "c2n"
NOTION_WINS, CLOCKIFY_WINS, REVIEW = "notion", "clockify", "review"
LINK_EXACT, ALWAYS_REVIEW, NEVER_LINK = "link_exact", "review", "never"


@dataclass
class Policy:
    directions: dict[tuple[str, str], str] = field(default_factory=dict)
    conflicts: dict[tuple[str, str], str] = field(default_factory=dict)
    archives_need_review: bool = False
    name_matching: str = LINK_EXACT
    mass_change_percent: float = 20.0
    mass_change_count: int = 25
    # Below this many archives the share rule is ignored: closing 1 of 3 tasks is not "mass".
    mass_change_floor: int = 5

    def direction(self, kind: str, name: str) -> str:
        return self.directions.get((kind, name)) or direction(kind, name)

    def on_conflict(self, kind: str, name: str) -> str:
        return self.conflicts.get((kind, name), REVIEW)

    def is_mass_change(self, archives: int, population: int) -> bool:
        """More than the threshold share of a kind, or more than the threshold count."""
        if archives == 0:
            return False
        if archives > self.mass_change_count:
            return True
        share = 100.0 * archives / max(population, 1)
        return archives >= self.mass_change_floor and share > self.mass_change_percent

