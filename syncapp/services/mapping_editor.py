"""The mapping editor: the live Notion schema as pickers, a preview of real pages, and saving.

DatabaseMapping (its JSON) stays the storage; this is how people change it without typing
property names. What may be chosen is the READABLE table (engine/fields.py) through
engine/mapping_rules.py; a proposal with problems is refused whole, nothing saved.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import QueryDict

from syncapp.clients.errors import ApiError
from syncapp.clients.formats import compact_id
from syncapp.clients.notion import NotionClient
from syncapp.clients.notion_values import title_property
from syncapp.engine import kinds, mapping_rules
from syncapp.engine.fields import FILTER, READABLE
from syncapp.engine.mapping_rules import Problem, Proposal
from syncapp.engine.records import MappingConfig, NotionRecord, SyncFilter, notion_record
from syncapp.models import DEFAULT_CLOSED_VALUES, DatabaseMapping, EntityMapping
from syncapp.models import default_properties as defaults_of

log = logging.getLogger(__name__)
PREVIEW_PAGES = 3


@dataclass
class ValuePicker:
    """The options of one status/select property, as a multi-select (value = a token)."""

    property: str
    options: list[tuple[str, str, bool]]  # (token, option name, selected)


@dataclass
class FieldRow:
    key: str
    label: str
    role: str
    required: bool
    choices: list[tuple[str, str]]  # (property name, type in words)
    selected: str
    stale: bool  # the selected property is not among the fitting ones (missing, wrong type)
    pickers: list[ValuePicker] = field(default_factory=list)  # closed values per property


@dataclass
class Editor:
    kind: str
    rows: list[FieldRow]
    title: str | None
    filter_choices: list[tuple[str, str]]
    filter_selected: str
    filter_pickers: list[ValuePicker]
    problems: list[Problem] = field(default_factory=list)


def token(prop: str, value: str) -> str:
    """A picked option, tied to its property: a form holds the options of several."""
    return json.dumps([prop, value])


def _picked(post: QueryDict, name: str, prop: str) -> list[str]:
    values = []
    for raw in post.getlist(name):
        try:
            owner, value = json.loads(raw)
        except (ValueError, TypeError):
            continue
        if owner == prop and isinstance(value, str):
            values.append(value)
    return values


# -- reading ------------------------------------------------------------------------------------
def database_id(kind: str) -> str:
    return kinds.get(kind).database_id(settings)


def read_schema(notion: NotionClient, kind: str) -> dict[str, dict]:
    return notion.schema(database_id(kind))


def parent_targets(notion: NotionClient, kind: str) -> set[str] | None:
    """The parent database and its data sources (compact ids), or None when unknown."""
    parent = kinds.get(kind).parent
    if parent is None:
        return None
    parent_db = kinds.get(parent).database_id(settings)
    try:
        sources = notion.data_source_ids(parent_db)
    except ApiError:
        return None
    return {compact_id(i) for i in (parent_db, *sources)}


def saved(kind: str) -> DatabaseMapping:
    """The stored mapping, or the defaults a first sync would store (nothing is written)."""
    return DatabaseMapping.objects.filter(kind=kind).first() or DatabaseMapping(
        kind=kind, properties=defaults_of(kind), closed_values=DEFAULT_CLOSED_VALUES[kind])


def current(kind: str) -> Proposal:
    mapping = saved(kind)
    editable = set(mapping_rules.editable_fields(kind))
    return Proposal({k: v for k, v in (mapping.properties or {}).items() if k in editable},
                    mapping.closed_value_list, mapping.filter_rule)


def from_form(kind: str, post: QueryDict, schema: dict[str, dict]) -> Proposal:
    """The proposal a submitted form makes. Values count only for the property chosen."""
    properties = {key: post.get(f"prop_{key}", "").strip()
                  for key in mapping_rules.editable_fields(kind)}
    properties = {k: v for k, v in properties.items() if v}
    closed = properties.get("closed", "")
    closed_type = (schema.get(closed) or {}).get("type")
    if closed_type in mapping_rules.OPTION_TYPES:
        closed_values = _picked(post, "closed_values", closed)
    elif closed_type == "formula":  # no options to pick: its result is compared as before
        closed_values = saved(kind).closed_value_list
    else:
        closed_values = []
    rule = None
    prop = post.get("filter_property", "").strip()
    if prop:
        rule = SyncFilter(prop, tuple(_picked(post, "filter_values", prop)))
    return Proposal(properties, closed_values, rule)


def check(notion: NotionClient, kind: str, schema: dict[str, dict],
          proposal: Proposal) -> list[Problem]:
    return mapping_rules.validate(kind, schema, proposal, parent_targets(notion, kind))


# -- the form -----------------------------------------------------------------------------------
def editor(kind: str, schema: dict[str, dict], proposal: Proposal,
           problems: list[Problem] = ()) -> Editor:
    rows = []
    for key in mapping_rules.editable_fields(kind):
        choices = mapping_rules.fitting(schema, READABLE[key])
        selected = proposal.properties.get(key, "")
        row = FieldRow(key, mapping_rules.field_label(kind, key), READABLE[key].role,
                       mapping_rules.required(kind, key), choices, selected,
                       stale=bool(selected) and selected not in dict(choices))
        if key == "closed":
            row.pickers = _pickers(schema, choices, selected, proposal.closed_values)
        rows.append(row)
    rule = proposal.sync_filter
    filter_choices = mapping_rules.fitting(schema, FILTER)
    return Editor(
        kind=kind, rows=rows, title=title_property(schema),
        filter_choices=filter_choices, filter_selected=rule.property if rule else "",
        filter_pickers=_pickers(schema, filter_choices, rule.property if rule else "",
                                list(rule.values) if rule else []),
        problems=list(problems))


def _pickers(schema: dict[str, dict], choices: list[tuple[str, str]], selected: str,
             values: list[str]) -> list[ValuePicker]:
    pickers = []
    for name, _ in choices:
        options = mapping_rules.options(schema.get(name))
        if schema[name].get("type") in mapping_rules.OPTION_TYPES:
            chosen = values if name == selected else []
            pickers.append(ValuePicker(name, [(token(name, o), o, o in chosen)
                                              for o in options]))
    return pickers


# -- preview ------------------------------------------------------------------------------------
@dataclass
class Preview:
    pages: list[dict[str, Any]]  # {"id", "name", "status"}
    rows: list[tuple[str, str, list[str]]]  # (Clockify field, Notion property, value per page)


def preview(notion: NotionClient, kind: str, proposal: Proposal,
            count: int = PREVIEW_PAGES) -> Preview:
    """How the first `count` pages of the database would map, field by field."""
    config = MappingConfig(kind, dict(proposal.properties), list(proposal.closed_values),
                           proposal.sync_filter)
    pages = list(islice(notion.query(database_id(kind), page_size=count), count))
    records = [notion_record(config, page) for page in pages]
    parents = _parent_names(kind, records)
    spec = kinds.get(kind)
    rows: list[tuple[str, str, list[str]]] = [
        ("Synced", _filter_words(proposal.sync_filter), [_synced(r) for r in records]),
        ("name", "title", [r.name or "(no name)" for r in records])]
    for key in mapping_rules.editable_fields(kind):
        prop = proposal.properties.get(key)
        if not prop:
            continue
        if key == "clockify_id":
            rows.append(("Clockify ID", prop, [r.clockify_id or "—" for r in records]))
        elif key == "parent":
            rows.append((spec.parent_field or "parent", prop,
                         [parents.get(r.fields.get("parent"), "—") for r in records]))
        else:
            label = ", ".join(spec.to_clockify({key: None}, None)) or key
            rows.append((label, prop, [_clockify_words(spec, key, r) for r in records]))
    return Preview([{"id": r.page_id, "name": r.name} for r in records], rows)


def _filter_words(rule: SyncFilter | None) -> str:
    return f"filter: {rule.describe()}" if rule else "no filter: every page"


def _synced(record: NotionRecord) -> str:
    if record.errors or record.invalid:
        return "no — " + " ".join((record.errors + record.invalid)[:2])
    if record.excluded:
        return "no — outside the filter"
    return "yes"


def _clockify_words(spec, key: str, record: NotionRecord) -> str:
    if key not in record.fields:
        return "—"
    body = spec.to_clockify({key: record.fields[key]}, None)
    if not body:
        return "—"
    return ", ".join(_words(v) for v in body.values())


def _words(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "—" if value in (None, "") else str(value)


def _parent_names(kind: str, records: list[NotionRecord]) -> dict[str, str]:
    parent = kinds.get(kind).parent
    wanted = {r.fields.get("parent") for r in records} - {None}
    if not parent or not wanted:
        return {}
    names = dict(EntityMapping.objects.filter(kind=parent, notion_page_id__in=wanted)
                 .values_list("notion_page_id", "name"))
    return {page: names.get(page) or f"a page not synced yet ({page[:8]}…)" for page in wanted}


# -- saving ---------------------------------------------------------------------------------------
def save(kind: str, proposal: Proposal, who: str = "") -> list[Problem]:
    """Write the proposal into the JSON mapping; problems (nothing saved) if the model refuses.

    Fields the editor does not show (none today) are kept as they were."""
    mapping = DatabaseMapping.for_kind(kind)
    editable = set(mapping_rules.editable_fields(kind))
    kept = {k: v for k, v in (mapping.properties or {}).items() if k not in editable}
    mapping.properties = {**kept, **proposal.properties}
    mapping.closed_values = ", ".join(proposal.closed_values)
    mapping.sync_filter = proposal.sync_filter.to_json() if proposal.sync_filter else {}
    try:
        mapping.full_clean()
    except ValidationError as exc:
        return [Problem(name, " ".join(errors), "Fix it and save again.")
                for name, errors in exc.message_dict.items()]
    mapping.save()
    from syncapp.services import config_check  # the cached check described the old mapping

    cache.delete(config_check.CACHE_KEY)
    log.info("The %s database mapping was changed in the mapping editor by %s: %s, closed "
             "values %r, filter %r", kind, who or "someone", mapping.properties,
             mapping.closed_values, mapping.sync_filter)
    return []
