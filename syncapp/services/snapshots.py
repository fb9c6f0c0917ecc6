"""Read both sides into canonical records (HTTP through the clients, no planning)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from syncapp.clients.clockify import ClockifyClient
from syncapp.clients.errors import NotFound
from syncapp.clients.formats import utc_stamp
from syncapp.clients.notion import NotionClient
from syncapp.engine import kinds
from syncapp.engine.records import (
    ClockifyRecord,
    MappingConfig,
    NotionRecord,
    clockify_record,
    notion_record,
)
from syncapp.models import EntityMapping

# Notion stamps last_edited_time to the minute: read a minute back, dedupe by page id.
INCREMENTAL_OVERLAP = timedelta(minutes=1)


def notion_records(client: NotionClient, config: MappingConfig, database_id: str,
                   since: datetime | None = None) -> dict[str, NotionRecord]:
    query_filter: dict[str, Any] | None = None
    if since is not None:
        start = utc_stamp(since - INCREMENTAL_OVERLAP)
        query_filter = {"timestamp": "last_edited_time",
                        "last_edited_time": {"on_or_after": start}}
    records: dict[str, NotionRecord] = {}
    for page in client.scan(database_id, filter=query_filter):
        if "parent" in config.properties:
            client.complete_relations(page)
        record = notion_record(config, page)
        records[record.page_id] = record  # dedupe across data sources and overlap
    return records


def look_up_missing(client: NotionClient, config: MappingConfig,
                    page_ids: list[str]) -> tuple[dict[str, NotionRecord], set[str]]:
    """Mapped pages a complete fetch did not return: trashed, or unreachable."""
    trashed: dict[str, NotionRecord] = {}
    unreachable: set[str] = set()
    for page_id in page_ids:
        try:
            page = client.retrieve_page(page_id)
        except NotFound:
            unreachable.add(page_id)
            continue
        record = notion_record(config, page)
        if record.trashed:
            trashed[page_id] = record
        else:  # live but outside our query: moved to another database
            unreachable.add(page_id)
    return trashed, unreachable


def fetch_raw_page(client: NotionClient, page_id: str) -> dict | None:
    try:
        return client.retrieve_page(page_id)
    except NotFound:
        return None


def to_record(client: NotionClient, config: MappingConfig, page: dict) -> NotionRecord:
    if "parent" in config.properties:
        client.complete_relations(page)
    return notion_record(config, page)


def clockify_all(client: ClockifyClient, kind: str,
                 project_ids: list[str] | None = None) -> dict[str, ClockifyRecord]:
    """Every entity of `kind` (archived too: they still own their names).

    Kinds Clockify lists under their parent (tasks) are listed for `project_ids` only.
    """
    entities = kinds.get(kind).list_all(client, project_ids or [])
    return {e["id"]: clockify_record(kind, e) for e in entities}


def clockify_one(client: ClockifyClient, kind: str, clockify_id: str,
                 project_id: str | None = None) -> ClockifyRecord | None:
    try:
        entity = kinds.get(kind).get(client, clockify_id, project_id)
    except NotFound:
        return None
    return clockify_record(kind, entity)


def excluded_pages(config: MappingConfig, excluded: set[str], read: set[str]) -> set[str]:
    """Pages of a kind outside its sync filter: the ones read this run (`excluded` of the
    `read` pages), and (for a poll that did not read them) the synced ones archived for
    leaving it. Their children are not created."""
    if config.sync_filter is None:
        return set()
    archived = set(EntityMapping.objects.filter(kind=config.kind,
                                                baseline__notion___excluded=True)
                   .values_list("notion_page_id", flat=True))
    return excluded | (archived - read)  # a page read this run says it itself
