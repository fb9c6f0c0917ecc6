"""Notion property schemas and values for the sandbox emulator.

Pure functions over plain (JSON-serialisable) dicts, no HTTP:

- a *schema property* is stored exactly as a data source shows it:
  ``{"id", "name", "description", "type", <type>: {config}}``;
- a *stored page* keeps one stored value per property id in ``page["values"]``
  (rich-text arrays, option ids, page ids, numbers...), plus its timestamps
  (epoch seconds, already floored to the minute) and author ids;
- helpers turn simple Python values and API request objects into stored
  values, stored values back into API property values, and compile query
  filters and sorts.

Problems in API input raise `Invalid` with Notion's wording; the emulator
answers it as 400 ``validation_error``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from copy import deepcopy
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from syncapp.sandbox import ids

TEXT_LIMIT = 2000  # characters per rich-text item
ARRAY_LIMIT = 100  # items per array in a request
INLINE_LIMIT = 25  # relation items shown inline on a page

PERSON_ID = "4f0c0000-0000-4000-8000-0000000000a1"
USERS = {
    PERSON_ID: {"object": "user", "id": PERSON_ID, "name": "Sandbox Person", "avatar_url": None,
                "type": "person", "person": {"email": "person@sandbox.test"}},
    ids.NOTION_BOT_ID: {"object": "user", "id": ids.NOTION_BOT_ID, "name": "Sandbox sync",
                        "avatar_url": None, "type": "bot", "bot": {}},
}

COLORS = ("default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red")
DEFAULT_ANNOTATIONS = {"bold": False, "italic": False, "strikethrough": False,
                       "underline": False, "code": False, "color": "default"}
TEXT_TYPES = ("title", "rich_text")
STRING_TYPES = ("url", "email", "phone_number")
LIST_TYPES = ("relation", "people", "files", "multi_select")
PAGINATED_TYPES = ("title", "rich_text", "relation", "people")
READ_ONLY_TYPES = ("created_time", "last_edited_time", "created_by", "last_edited_by",
                   "unique_id", "formula", "rollup")
PLAIN_TYPES = ("title", "rich_text", "number", "checkbox", "date", "url", "email",
               "phone_number", "people", "files", "created_time", "last_edited_time",
               "created_by", "last_edited_by")


class Invalid(Exception):
    """API input Notion would reject with 400 validation_error."""


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _invalid(path: str, expected: str, value: Any) -> Invalid:
    shown = "undefined" if value is ... else _dump(value)
    return Invalid(f"body failed validation: {path} should be {expected}, instead was `{shown}`.")


# -- ids, users, timestamps ----------------------------------------------------------
def normalize_uuid(value: Any) -> str | None:
    """Dashed lower-case form of a Notion id given with or without dashes."""
    if not isinstance(value, str):
        return None
    raw = value.replace("-", "").lower()
    if len(raw) != 32 or any(c not in "0123456789abcdef" for c in raw):
        return None
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def user_object(user_id: str) -> dict:
    return deepcopy(USERS.get(user_id, {"object": "user", "id": user_id}))


def minute(epoch: float) -> int:
    return int(epoch // 60 * 60)


def iso_minute(epoch: float) -> str:
    return datetime.fromtimestamp(minute(epoch), UTC).strftime("%Y-%m-%dT%H:%M:00.000Z")


def iso_millis(epoch: float) -> str:
    """The ms-precision form the recorded 2025-09-03 database object uses."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def parse_instant(value: Any, path: str) -> tuple[float, float]:
    """[start, end) of an ISO date (a whole UTC day) or date-time (one millisecond)."""
    if not isinstance(value, str):
        raise _invalid(path, "a valid ISO 8601 date string", value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _invalid(path, "a valid ISO 8601 date string", value) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    start = parsed.timestamp()
    return (start, start + 86400) if len(value) == 10 else (start, start + 0.001)


# -- schema ---------------------------------------------------------------------------
def rich_text(content: str, link: dict | None = None, annotations: dict | None = None) -> dict:
    return {"type": "text", "text": {"content": content, "link": link},
            "annotations": {**DEFAULT_ANNOTATIONS, **(annotations or {})},
            "plain_text": content, "href": link["url"] if link else None}


def plain_text(items: list | None) -> str:
    return "".join(item.get("plain_text", "") for item in items or [])


def new_option(name: str, index: int, new_id: Callable[[], str], color: str | None = None) -> dict:
    return {"id": new_id(), "name": name, "color": color or COLORS[index % len(COLORS)],
            "description": None}


GROUP_COLORS = {"To-do": "gray", "In progress": "blue", "Complete": "green"}
OPTION_COLORS = {"To-do": "default", "In progress": "blue", "Complete": "green"}


def _status_group(index: int, count: int) -> str:
    """First option is To-do, the last Complete, the rest In progress."""
    return "To-do" if index == 0 else "Complete" if index == count - 1 else "In progress"


def _status_config(names: list[str], new_id: Callable[[], str]) -> dict:
    groups = [_status_group(i, len(names)) for i in range(len(names))]
    options = [new_option(name, i, new_id, OPTION_COLORS[group])
               for i, (name, group) in enumerate(zip(names, groups, strict=True))]
    return {"options": options, "groups": [
        {"id": new_id(), "name": name, "color": color,
         "option_ids": [o["id"] for o, g in zip(options, groups, strict=True) if g == name]}
        for name, color in GROUP_COLORS.items()]}


def _config(kind: str, arg: Any, new_id: Callable[[], str]) -> dict:
    if kind in ("select", "multi_select"):
        return {"options": [new_option(n, i, new_id) for i, n in enumerate(arg or [])]}
    if kind == "status":
        return _status_config(list(arg or ["Not started", "In progress", "Done"]), new_id)
    if kind == "relation":
        target = normalize_uuid(arg)
        if target is None:
            raise ValueError(f"relation needs a target data source id, got {arg!r}")
        return {"database_id": None, "data_source_id": target,
                "type": "single_property", "single_property": {}}
    if kind == "number":
        return {"format": arg or "number"}
    if kind == "unique_id":
        return {"prefix": arg}
    if kind in PLAIN_TYPES:
        return {}
    raise ValueError(f"unsupported property type: {kind!r}")


def build_property(name: str, spec: Any, prop_id: str, new_id: Callable[[], str]) -> dict:
    """A schema property from ``"type"`` or ``("type", argument)``."""
    kind, arg = (spec, None) if isinstance(spec, str) else tuple(spec)
    return {"id": "title" if kind == "title" else prop_id, "name": name, "description": None,
            "type": kind, kind: _config(kind, arg, new_id)}


def find_property(properties: dict[str, dict], key: Any) -> dict | None:
    """A schema property by name or id (ids compare url-decoded)."""
    if not isinstance(key, str):
        return None
    if key in properties:
        return properties[key]
    wanted = unquote(key)
    for prop in properties.values():
        if prop["id"] == key or unquote(prop["id"]) == wanted or prop["name"] == wanted:
            return prop
    return None


def _option(prop: dict, option_id: str | None) -> dict | None:
    for option in prop[prop["type"]]["options"]:
        if option["id"] == option_id:
            return option
    return None


def _option_named(prop: dict, name: str) -> dict | None:
    for option in prop[prop["type"]]["options"]:
        if option["name"] == name:
            return option
    return None


# -- stored values ---------------------------------------------------------------------
def default_value(prop: dict) -> Any:
    kind = prop["type"]
    if kind in TEXT_TYPES or kind in LIST_TYPES:
        return []
    return False if kind == "checkbox" else None


def _stored(prop: dict, page: dict) -> Any:
    value = page["values"].get(prop["id"])
    return default_value(prop) if value is None else value


def _option_value(prop: dict, option_id: str | None) -> dict | None:
    option = _option(prop, option_id)
    return {k: option[k] for k in ("id", "name", "color")} if option else None


def _render_stored(prop: dict, page: dict) -> Any:
    kind, stored = prop["type"], _stored(prop, page)
    if kind in ("select", "status"):
        return _option_value(prop, stored)
    if kind == "multi_select":
        return [_option_value(prop, option_id) for option_id in stored]
    if kind == "people":
        return [user_object(user_id) for user_id in stored]
    if kind in ("created_time", "last_edited_time"):
        return iso_minute(page[kind])
    if kind in ("created_by", "last_edited_by"):
        return user_object(page[kind])
    if kind == "unique_id":
        return {"prefix": prop["unique_id"]["prefix"], "number": stored}
    return deepcopy(stored)


def render_value(prop: dict, page: dict) -> dict:
    """A page property value; relations cut at 25 items with ``has_more``."""
    out: dict[str, Any] = {"id": prop["id"], "type": prop["type"]}
    if prop["type"] == "relation":
        related = _stored(prop, page)
        out["relation"] = [{"id": page_id} for page_id in related[:INLINE_LIMIT]]
        out["has_more"] = len(related) > INLINE_LIMIT
    else:
        out[prop["type"]] = _render_stored(prop, page)
    return out


def property_items(prop: dict, page: dict) -> list[dict]:
    """The items of a paginated property (title, rich_text, relation, people)."""
    kind, stored = prop["type"], _stored(prop, page)
    if kind == "relation":
        values = [{"id": page_id} for page_id in stored]
    elif kind == "people":
        values = [user_object(user_id) for user_id in stored]
    else:
        values = deepcopy(stored)
    return [{"object": "property_item", "type": kind, "id": prop["id"], kind: value}
            for value in values]


def property_item(prop: dict, page: dict) -> dict:
    value = render_value(prop, page)
    return {"object": "property_item", "id": prop["id"], "type": prop["type"],
            prop["type"]: value[prop["type"]]}


def to_simple(prop: dict, page: dict) -> Any:
    """The simple Python value of a property (inverse of `from_simple`)."""
    kind, stored = prop["type"], _stored(prop, page)
    if kind in TEXT_TYPES:
        return plain_text(stored)
    if kind in ("select", "status"):
        option = _option(prop, stored)
        return option["name"] if option else None
    if kind == "multi_select":
        return [_option(prop, option_id)["name"] for option_id in stored]
    if kind == "date":
        return stored["start"] if stored else None
    if kind == "files":
        return [item.get("external", item.get("file", {})).get("url") for item in stored]
    if kind in ("created_time", "last_edited_time"):
        return iso_minute(page[kind])
    if kind in ("created_by", "last_edited_by"):
        return page[kind]
    return deepcopy(stored)


def _simple_option(prop: dict, name: Any, new_id: Callable[[], str]) -> str:
    option = _option_named(prop, name)
    if option is None:
        if prop["type"] == "status":
            raise ValueError(f"{prop['name']}: no status option {name!r}")
        options = prop[prop["type"]]["options"]
        option = new_option(str(name), len(options), new_id)
        options.append(option)
    return option["id"]


def from_simple(prop: dict, value: Any, new_id: Callable[[], str]) -> Any:
    """A stored value from a simple Python value (str, bool, number, list, ISO date)."""
    kind = prop["type"]
    if kind in READ_ONLY_TYPES:
        raise ValueError(f"{prop['name']} is read-only ({kind})")
    if kind in TEXT_TYPES:
        return [rich_text(str(value))] if value else []
    if kind in ("select", "status"):
        return None if value is None else _simple_option(prop, value, new_id)
    if kind == "multi_select":
        return [_simple_option(prop, name, new_id) for name in value or []]
    if kind == "date":
        if value is None or isinstance(value, dict):
            return deepcopy(value)
        return {"start": str(value), "end": None, "time_zone": None}
    if kind in ("relation", "people"):
        return [_required_uuid(item) for item in value or []]
    if kind == "files":
        return [{"name": url, "type": "external", "external": {"url": url}} for url in value or []]
    if kind == "checkbox":
        return bool(value)
    return value


def _required_uuid(value: Any) -> str:
    normalized = normalize_uuid(value)
    if normalized is None:
        raise ValueError(f"not a Notion id: {value!r}")
    return normalized


# -- request values (PATCH /pages, POST /pages) ---------------------------------------------
def _check_array(value: Any, path: str) -> list:
    if not isinstance(value, list):
        raise _invalid(path, "an array", value)
    if len(value) > ARRAY_LIMIT:
        raise Invalid(f"body failed validation: {path}.length should be ≤ `{ARRAY_LIMIT}`, "
                      f"instead was `{len(value)}`.")
    return value


def _parse_rich_item(item: Any, path: str) -> dict:
    if not isinstance(item, dict):
        raise _invalid(path, "an object", item)
    text = item.get("text", ...)
    if item.get("type", "text") != "text" or not isinstance(text, dict):
        raise _invalid(f"{path}.text", "defined", text)
    content = text.get("content", ...)
    if not isinstance(content, str):
        raise _invalid(f"{path}.text.content", "a string", content)
    if len(content) > TEXT_LIMIT:
        raise Invalid(f"body failed validation: {path}.text.content.length should be "
                      f"≤ `{TEXT_LIMIT}`, instead was `{len(content)}`.")
    link = text.get("link")
    if link is not None and not (isinstance(link, dict) and isinstance(link.get("url"), str)):
        raise _invalid(f"{path}.text.link.url", "a string", link)
    annotations = item.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise _invalid(f"{path}.annotations", "an object", annotations)
    return rich_text(content, {"url": link["url"]} if link else None, annotations)


def _parse_text(prop, value, path, new_id):
    if value is None:
        return []
    items = _check_array(value, path)
    return [_parse_rich_item(item, f"{path}[{i}]") for i, item in enumerate(items)]


def _parse_number(prop, value, path, new_id):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _invalid(path, "a number or `null`", value)
    return value


def _parse_checkbox(prop, value, path, new_id):
    if not isinstance(value, bool):
        raise _invalid(path, "a boolean", value)
    return value


def _parse_string(prop, value, path, new_id):
    if value is not None and not isinstance(value, str):
        raise _invalid(path, "a string or `null`", value)
    return value or None


def _option_ref(prop: dict, ref: Any, path: str, new_id) -> str:
    if not isinstance(ref, dict) or not ({"id", "name"} & ref.keys()):
        raise _invalid(f"{path}.name", "defined", ...)
    if "id" in ref:
        if _option(prop, ref["id"]) is None:
            raise Invalid(f"Invalid option id {ref['id']!r} for property {prop['name']}.")
        return ref["id"]
    name = ref["name"]
    if not isinstance(name, str) or not name:
        raise _invalid(f"{path}.name", "a non-empty string", name)
    if prop["type"] == "status" and _option_named(prop, name) is None:
        raise Invalid(f'Invalid status option. Status option "{name}" does not exist".')
    if "," in name:
        raise Invalid(f"Select option names cannot contain commas: {name!r}.")
    return _simple_option(prop, name, new_id)


def _parse_select(prop, value, path, new_id):
    return None if value is None else _option_ref(prop, value, path, new_id)


def _parse_multi_select(prop, value, path, new_id):
    items = _check_array(value, path)
    return [_option_ref(prop, ref, f"{path}[{i}]", new_id) for i, ref in enumerate(items)]


def _parse_date(prop, value, path, new_id):
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid(path, "an object or `null`", value)
    parse_instant(value.get("start", ...), f"{path}.start")
    if value.get("end") is not None:
        parse_instant(value["end"], f"{path}.end")
    time_zone = value.get("time_zone")
    if time_zone is not None and not isinstance(time_zone, str):
        raise _invalid(f"{path}.time_zone", "a string or `null`", time_zone)
    return {"start": value["start"], "end": value.get("end"), "time_zone": time_zone}


def _parse_references(prop, value, path, new_id):
    items = _check_array(value, path)
    found: list[str] = []
    for i, item in enumerate(items):
        ref = normalize_uuid(item.get("id", ...) if isinstance(item, dict) else item)
        if ref is None:
            raise _invalid(f"{path}[{i}].id", "a valid uuid", item)
        if ref not in found:
            found.append(ref)
    return found


def _parse_files(prop, value, path, new_id):
    items = _check_array(value, path)
    for i, item in enumerate(items):
        if not isinstance(item, dict) or item.get("type", "external") not in item:
            raise _invalid(f"{path}[{i}].external", "defined", ...)
    return deepcopy(items)


PARSERS: dict[str, Callable[..., Any]] = {
    "title": _parse_text, "rich_text": _parse_text, "number": _parse_number,
    "checkbox": _parse_checkbox, "url": _parse_string, "email": _parse_string,
    "phone_number": _parse_string, "select": _parse_select, "status": _parse_select,
    "multi_select": _parse_multi_select, "date": _parse_date,
    "relation": _parse_references, "people": _parse_references, "files": _parse_files,
}


def parse_request_value(prop: dict, key: str, body: Any, new_id: Callable[[], str]) -> Any:
    """A stored value from a request's property value object, or `Invalid`."""
    kind = prop["type"]
    if kind in READ_ONLY_TYPES or kind not in PARSERS:
        raise Invalid(f"{prop['name']} is a {kind} property and cannot be updated.")
    if not isinstance(body, dict) or kind not in body or body.get("type", kind) != kind:
        raise Invalid(f"{prop['name']} is expected to be {kind}.")
    return PARSERS[kind](prop, body[kind], f"body.properties.{key}.{kind}", new_id)


# -- filters ----------------------------------------------------------------------------
Predicate = Callable[[dict], bool]
FILTER_KEYS = {  # filter condition key -> property types it applies to
    "title": ("title",), "rich_text": ("rich_text", "title", "url", "email", "phone_number"),
    "url": ("url",), "email": ("email",), "phone_number": ("phone_number",),
    "checkbox": ("checkbox",), "number": ("number",), "select": ("select",),
    "status": ("status",), "multi_select": ("multi_select",), "relation": ("relation",),
    "people": ("people", "created_by", "last_edited_by"), "date": ("date",),
    "created_time": ("created_time",), "last_edited_time": ("last_edited_time",),
    "created_by": ("created_by",), "last_edited_by": ("last_edited_by",),
    "unique_id": ("unique_id",),
}
RELATIVE = {"past_week": 7 * 86400, "past_month": 30 * 86400, "past_year": 365 * 86400}


def _single_condition(condition: Any, path: str) -> tuple[str, Any]:
    if not isinstance(condition, dict) or len(condition) != 1:
        raise _invalid(path, "an object with exactly one condition", condition)
    return next(iter(condition.items()))


def _text_test(op: str, arg: Any, path: str) -> Callable[[str], bool]:
    if op in ("is_empty", "is_not_empty"):
        return lambda v: (v == "") == (op == "is_empty")
    if not isinstance(arg, str):
        raise _invalid(f"{path}.{op}", "a string", arg)
    low = arg.lower()
    tests = {"equals": lambda v: v == arg, "does_not_equal": lambda v: v != arg,
             "contains": lambda v: low in v.lower(),
             "does_not_contain": lambda v: low not in v.lower(),
             "starts_with": lambda v: v.lower().startswith(low),
             "ends_with": lambda v: v.lower().endswith(low)}
    return _pick(tests, op, path)


def _pick(tests: dict, op: str, path: str):
    if op not in tests:
        raise Invalid(f"body failed validation: {path}.{op} should be not present.")
    return tests[op]


def _number_test(op: str, arg: Any, path: str) -> Callable[[Any], bool]:
    if op in ("is_empty", "is_not_empty"):
        return lambda v: (v is None) == (op == "is_empty")
    if isinstance(arg, bool) or not isinstance(arg, int | float):
        raise _invalid(f"{path}.{op}", "a number", arg)
    tests = {"equals": lambda v: v == arg, "does_not_equal": lambda v: v != arg,
             "greater_than": lambda v: v is not None and v > arg,
             "less_than": lambda v: v is not None and v < arg,
             "greater_than_or_equal_to": lambda v: v is not None and v >= arg,
             "less_than_or_equal_to": lambda v: v is not None and v <= arg}
    return _pick(tests, op, path)


def _option_test(op: str, arg: Any, path: str) -> Callable[[Any], bool]:
    if op in ("is_empty", "is_not_empty"):
        return lambda v: (v is None) == (op == "is_empty")
    names = arg if isinstance(arg, list) else [arg]
    if not all(isinstance(name, str) for name in names):
        raise _invalid(f"{path}.{op}", "a string", arg)
    tests = {"equals": lambda v: v in names, "does_not_equal": lambda v: v not in names}
    return _pick(tests, op, path)


def _contains_test(op: str, arg: Any, path: str, as_id: bool) -> Callable[[list], bool]:
    if op in ("is_empty", "is_not_empty"):
        return lambda v: (not v) == (op == "is_empty")
    wanted = normalize_uuid(arg) if as_id else arg
    if wanted is None or not isinstance(wanted, str):
        raise _invalid(f"{path}.{op}", "a valid uuid" if as_id else "a string", arg)
    tests = {"contains": lambda v: wanted in v, "does_not_contain": lambda v: wanted not in v}
    return _pick(tests, op, path)


def _date_test(op: str, arg: Any, path: str, now: float) -> Callable[[float | None], bool]:
    if op in ("is_empty", "is_not_empty"):
        return lambda t: (t is None) == (op == "is_empty")
    if op in RELATIVE:
        start = now - RELATIVE[op]
        return lambda t: t is not None and start <= t <= now
    lo, hi = parse_instant(arg, f"{path}.{op}")
    tests = {"equals": lambda t: lo <= t < hi, "before": lambda t: t < lo,
             "after": lambda t: t >= hi, "on_or_before": lambda t: t < hi,
             "on_or_after": lambda t: t >= lo}
    test = _pick(tests, op, path)
    return lambda t: t is not None and test(t)


def _date_of(prop: dict, page: dict) -> float | None:
    if prop["type"] in ("created_time", "last_edited_time"):
        return page[prop["type"]]
    stored = page["values"].get(prop["id"])
    return parse_instant(stored["start"], "date")[0] if stored else None


def _extractor(prop: dict) -> Callable[[dict], Any]:
    """The filterable/sortable value of a property on a stored page."""
    kind = prop["type"]
    if kind in TEXT_TYPES:
        return lambda page: plain_text(_stored(prop, page))
    if kind in STRING_TYPES:
        return lambda page: _stored(prop, page) or ""
    if kind in ("select", "status"):
        return lambda page: (_option(prop, _stored(prop, page)) or {}).get("name")
    if kind == "multi_select":
        return lambda page: [_option(prop, o)["name"] for o in _stored(prop, page)]
    if kind in ("date", "created_time", "last_edited_time"):
        return lambda page: _date_of(prop, page)
    if kind in ("created_by", "last_edited_by"):
        return lambda page: [page[kind]]
    return lambda page: _stored(prop, page)


def _property_test(prop: dict, op: str, arg: Any, path: str, now: float):
    kind = prop["type"]
    if kind in TEXT_TYPES or kind in STRING_TYPES:
        return _text_test(op, arg, path)
    if kind == "checkbox":
        if not isinstance(arg, bool):
            raise _invalid(f"{path}.{op}", "a boolean", arg)
        return _pick({"equals": lambda v: v is arg, "does_not_equal": lambda v: v is not arg},
                     op, path)
    if kind in ("number", "unique_id"):
        return _number_test(op, arg, path)
    if kind in ("select", "status"):
        return _option_test(op, arg, path)
    if kind in ("multi_select", "relation", "people", "created_by", "last_edited_by"):
        return _contains_test(op, arg, path, as_id=kind != "multi_select")
    if kind in ("date", "created_time", "last_edited_time"):
        return _date_test(op, arg, path, now)
    raise Invalid(f"Filtering on {kind} properties is not supported by the sandbox.")


def _property_filter(spec: dict, properties: dict, path: str, now: float) -> Predicate:
    prop = find_property(properties, spec.get("property"))
    if prop is None:
        raise Invalid(f"Could not find property with name or id: {spec.get('property')}")
    keys = [k for k in spec if k not in ("property", "type")]
    if len(keys) != 1 or keys[0] not in FILTER_KEYS:
        raise _invalid(path, "a property filter with one condition", spec)
    key = keys[0]
    if prop["type"] not in FILTER_KEYS[key]:
        raise Invalid(f"database property {prop['type']} does not match filter {key}")
    op, arg = _single_condition(spec[key], f"{path}.{key}")
    test, value_of = _property_test(prop, op, arg, f"{path}.{key}", now), _extractor(prop)
    return lambda page: test(value_of(page))


def compile_filter(spec: Any, properties: dict, now: float, path: str = "body.filter",
                   depth: int = 0) -> Predicate:
    """A predicate on stored pages from a query ``filter``; `Invalid` when malformed."""
    if not isinstance(spec, dict):
        raise _invalid(path, "an object", spec)
    for op in ("and", "or"):
        if op in spec:
            if depth >= 2:
                raise Invalid("body failed validation: filters may nest at most two levels.")
            items = _check_array(spec[op], f"{path}.{op}")
            parts = [compile_filter(item, properties, now, f"{path}.{op}[{i}]", depth + 1)
                     for i, item in enumerate(items)]
            combine = all if op == "and" else any
            return lambda page: combine(part(page) for part in parts)
    if "timestamp" in spec:
        return _timestamp_filter(spec, path, now)
    return _property_filter(spec, properties, path, now)


def _timestamp_filter(spec: dict, path: str, now: float) -> Predicate:
    field = spec["timestamp"]
    if field not in ("created_time", "last_edited_time"):
        raise _invalid(f"{path}.timestamp", '`"created_time"` or `"last_edited_time"`', field)
    if "property" in spec:
        raise Invalid(f"body failed validation: {path}.property should be not present.")
    op, arg = _single_condition(spec.get(field, ...), f"{path}.{field}")
    test = _date_test(op, arg, f"{path}.{field}", now)
    return lambda page: test(page[field])


# -- sorts ------------------------------------------------------------------------------
def _sort_key(entry: Any, properties: dict, path: str) -> tuple[Callable, bool]:
    if not isinstance(entry, dict):
        raise _invalid(path, "an object", entry)
    direction = entry.get("direction", "ascending")
    if direction not in ("ascending", "descending"):
        raise _invalid(f"{path}.direction", '`"ascending"` or `"descending"`', direction)
    if "timestamp" in entry:
        field = entry["timestamp"]
        if field not in ("created_time", "last_edited_time"):
            raise _invalid(f"{path}.timestamp", "a timestamp", field)
        return (lambda page: page[field]), direction == "descending"
    prop = find_property(properties, entry.get("property"))
    if prop is None:
        raise Invalid(f"Could not find sort property with name or id: {entry.get('property')}")
    return _sortable(prop), direction == "descending"


def _sortable(prop: dict) -> Callable[[dict], Any]:
    """Sort value, None when empty (empties always sort last)."""
    value_of, kind = _extractor(prop), prop["type"]
    if kind in ("select", "status"):
        names = [o["name"] for o in prop[kind]["options"]]
        return lambda page: names.index(value_of(page)) if value_of(page) in names else None
    if kind in TEXT_TYPES or kind in STRING_TYPES:
        return lambda page: value_of(page).lower() or None
    if kind in LIST_TYPES or kind in ("created_by", "last_edited_by"):
        return lambda page: ",".join(map(str, value_of(page))) or None
    return value_of


def sort_pages(pages: list[dict], sorts: Any, properties: dict) -> list[dict]:
    """Pages ordered by ``sorts`` (stable: ties keep creation order)."""
    entries = _check_array(sorts, "body.sorts")
    keys = [_sort_key(entry, properties, f"body.sorts[{i}]") for i, entry in enumerate(entries)]
    for key, descending in reversed(keys):
        filled = [page for page in pages if key(page) is not None]
        empty = [page for page in pages if key(page) is None]
        pages = sorted(filled, key=key, reverse=descending) + empty
    return pages
