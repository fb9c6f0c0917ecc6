"""What every kind of synced record has in common, and the hooks each kind fills in.

A kind (client, project, task) is one Notion database synced onto one Clockify entity.
Everything the sync must know about a kind lives on its `KindSpec`, so adding a kind is
adding a module, not hunting for `kind == ...` branches.

Pure: no Django. Database ids are read from a settings object the caller passes in, so a
future sync profile can pass its own instead of the global settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from syncapp.engine.fields import READABLE, Field, hours_to_duration


class SettingsLike(Protocol):
    """Anything with the NOTION_*_DATABASE_ID attributes (django.conf.settings, a profile)."""


class CreatedIncompletely(Exception):
    """The entity was created, but a follow-up write of some fields failed.

    Clockify sets some fields only through a second call after the POST (a project's
    estimate). The entity exists and must be kept and mapped, never created again; the
    named fields are simply not synced yet, so the next run writes them.
    """

    def __init__(self, entity: dict, fields: tuple[str, ...], error: Exception) -> None:
        super().__init__(str(error))
        self.entity = entity
        self.fields = fields
        self.error = error


@dataclass(frozen=True)
class KindSpec:
    name: str  # the stored value: EntityMapping.kind, ChangeRecord.kind, URLs
    label: str  # "Client"
    database_label: str  # "Clients": how people call its Notion database
    parent: str | None  # the kind it belongs to in Clockify, if any
    fields: tuple[Field, ...]
    name_limits: tuple[int, int]  # Clockify's limits (see ../shared notes)
    default_properties: dict[str, str]  # property names a fresh install expects
    default_closed_values: str
    # Clockify lists and addresses it only through its parent (tasks through projects).
    under_parent: bool = False
    entry_field: str | None = None  # the TimeEntry column pointing at it, if any
    # Clockify's field holding the parent id in a read or an update body.
    parent_field: str | None = None

    # -- Notion -----------------------------------------------------------------------------
    @property
    def setting(self) -> str:
        """The setting naming its Notion database: NOTION_CLIENTS_DATABASE_ID and so on,
        one naming rule for every kind."""
        return f"NOTION_{self.database_label.upper()}_DATABASE_ID"

    def database_id(self, config: SettingsLike) -> str:
        return getattr(config, self.setting, "") or ""

    def field_names(self, mapped: set[str]) -> list[str]:
        """The fields synced given which optional fields the mapping names."""
        return [f.name for f in self.fields if not f.optional or f.name in mapped]

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def suggested_type(self, key: str) -> str:
        """The Notion property type(s) to suggest for a mapped key of this kind."""
        field = self.field(key)
        if field is not None and field.suggest:
            return field.suggest
        readable = READABLE.get(key)
        return readable.usual if readable else "Text"

    def syncs(self, key: str) -> bool:
        """Whether a mapping key means something for this kind (a field, or the ID column)."""
        return key == "clockify_id" or self.field(key) is not None

    @property
    def feed_type(self) -> str:
        """Its `type` in Clockify's change feed (CLIENTS, PROJECTS, TASKS): the plural."""
        return self.database_label.upper()

    # -- canonical values <-> Clockify ------------------------------------------------------
    # The keys of a Clockify entity that from_clockify reads (a change-feed document is kept
    # only with these: a feed naming 30,000 entities must not hold 30,000 whole documents).
    clockify_reads: ClassVar[tuple[str, ...]] = ()

    def from_clockify(self, entity: dict) -> tuple[dict[str, Any], str | None]:
        """Canonical fields and the parent's Clockify id of one Clockify entity."""
        raise NotImplementedError

    def closed_body(self, closed: bool) -> dict[str, Any]:
        """How Clockify says closed or open for this kind."""
        return {"archived": bool(closed)}

    def to_clockify(self, values: dict[str, Any], parent_id: str | None) -> dict:
        """Canonical field values in Clockify's vocabulary (an update body)."""
        body: dict[str, Any] = {}
        for name, value in values.items():
            if name == "closed":
                body.update(self.closed_body(value))
            elif name == "parent":
                body[self.parent_field] = parent_id
            elif name == "estimate":
                body["estimate"] = hours_to_duration(value) or "PT0S"
            elif name == "color" and value is None:
                continue
            else:
                body[name] = value
        return body

    def create_body(self, values: dict[str, Any], parent_id: str | None) -> dict:
        body = self.to_clockify(values, parent_id)
        body.pop("archived", None)  # creates are never closed (closed records are skipped)
        if self.under_parent:
            body.pop(self.parent_field, None)  # the parent is in the URL
        return {k: v for k, v in body.items() if v is not None}

    # -- Clockify calls (`client` is a clients.clockify.ClockifyClient) ---------------------
    def list_all(self, client, parent_ids: Iterable[str] = ()) -> Iterator[dict]:
        """Every entity, streamed page by page: the caller keeps what it needs of each."""
        raise NotImplementedError

    def get(self, client, clockify_id: str, parent_id: str | None = None) -> dict:
        raise NotImplementedError

    def create(self, client, body: dict, parent_id: str | None = None) -> dict:
        raise NotImplementedError

    def update(self, client, clockify_id: str, changes: dict, parent_id: str | None = None,
               current: dict | None = None) -> dict:
        raise NotImplementedError

    def close(self, client, clockify_id: str, parent_id: str | None = None) -> dict:
        """Archive a client or project, mark a task done."""
        return self.update(client, clockify_id, self.closed_body(True), parent_id)

    def reopen(self, client, clockify_id: str, parent_id: str | None = None) -> dict:
        return self.update(client, clockify_id, self.closed_body(False), parent_id)

    # -- links ------------------------------------------------------------------------------
    def app_url(self, app: str, clockify_id: str, parent_id: str | None = None) -> str:
        """Where a person opens it in Clockify's web app (approximate: app URLs are not API)."""
        raise NotImplementedError
