"""Is the configuration right? Plain-word findings, each with the fix.

Two depths:

* `quick_check()` — settings present, Notion and Clockify answer. A few cheap calls with a
  short timeout and no retries, run side by side, so the overview never waits on a slow API
  for long. The overview caches it (`cached_or_quick`).
* `full_check()` — the "Check configuration" button: also reads the three databases'
  schemas and compares them with the field mapping (DatabaseMapping rows): each missing
  property or wrong type, the closed property (checkbox vs status/select and its values),
  relation targets.

Findings never contain a token, key or other secret.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from syncapp import checks
from syncapp.clients.clockify import ClockifyClient
from syncapp.clients.errors import ApiError, AuthError, BudgetExhausted, NetworkError, NotFound
from syncapp.clients.formats import compact_id
from syncapp.clients.notion import NotionClient
from syncapp.clients.notion_values import title_property
from syncapp.engine import kinds, mapping_rules
from syncapp.engine.fields import READABLE
from syncapp.engine.mapping_rules import type_words
from syncapp.models import (
    DEFAULT_CLOSED_VALUES,
    KIND_ORDER,
    DatabaseMapping,
    default_properties,
)
from syncapp.services import budget, connections

CACHE_KEY = "syncapp:config-check"
OK, INFO, WARNING, ERROR = "ok", "info", "warning", "error"


@dataclass
class Finding:
    area: str
    level: str
    message: str
    fix: str = ""


@dataclass
class CheckResult:
    findings: list[Finding] = field(default_factory=list)
    full: bool = False  # True when the schemas were read (the button), not only reachability
    checked_at: datetime = field(default_factory=timezone.now)

    def add(self, area: str, level: str, message: str, fix: str = "") -> None:
        self.findings.append(Finding(area, level, message, fix))

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def level(self) -> str:
        return ERROR if self.errors else WARNING if self.warnings else OK

    def area_level(self, area: str) -> str:
        levels = {f.level for f in self.findings if f.area == area}
        for level in (ERROR, WARNING, OK, INFO):
            if level in levels:
                return level
        return ""

    @property
    def areas(self) -> list[tuple[str, str, list[Finding]]]:
        """(area, worst level, findings) in first-seen order, for the templates."""
        order: dict[str, list[Finding]] = {}
        for finding in self.findings:
            order.setdefault(finding.area, []).append(finding)
        return [(area, self.area_level(area), found) for area, found in order.items()]


# -- building clients with short timeouts ---------------------------------------------------------
def _clients(retries: int) -> tuple[NotionClient, ClockifyClient]:
    timeout = min(settings.CONFIG_CHECK_TIMEOUT, settings.HTTP_TIMEOUT)
    notion = connections.notion_client(timeout=timeout, max_retries=retries)
    clockify = connections.clockify_client(timeout=timeout, max_retries=retries)
    clockify.page_size = 1  # the workspace check lists one client at most
    return notion, clockify


def _explain(service: str, exc: ApiError, *, what: str, fix_auth: str,
             fix_missing: str) -> tuple[str, str]:
    if isinstance(exc, AuthError):
        return f"{service} refused the credentials ({what}).", fix_auth
    if isinstance(exc, NotFound):
        return f"{service} cannot find {what}.", fix_missing
    if isinstance(exc, NetworkError):
        return (f"{service} did not answer within {settings.CONFIG_CHECK_TIMEOUT:g} s "
                f"({exc.message}).",
                f"Check the network path to {service} and the {service.upper()}_API_URL "
                "setting; try again in a minute.")
    status = f" (HTTP {exc.status})" if exc.status else ""
    return (f"{service} answered with an error{status}: {exc.message}",
            f"Try again later; if it persists, check {service}'s status page.")


# -- settings ------------------------------------------------------------------------------------
def _static(result: CheckResult) -> set[str]:
    """Missing or malformed settings (the system checks); returns services not to call."""
    skip = set()
    for service, found in (("Notion", checks.check_notion()),
                           ("Clockify", checks.check_clockify())):
        for error in found:
            result.add(service, ERROR, error.msg, error.hint or "Set it in .env or the "
                                                                "environment, then restart.")
            skip.add(service)
    return skip


# -- Notion ---------------------------------------------------------------------------------------
def _notion_reachable(result: CheckResult, notion: NotionClient) -> bool:
    try:
        notion.me()
    except ApiError as exc:
        message, fix = _explain(
            "Notion", exc, what="NOTION_TOKEN",
            fix_auth="Copy the integration's secret again from notion.so/profile/integrations "
                     "into NOTION_TOKEN.",
            fix_missing="Check NOTION_API_URL.")
        result.add("Notion", ERROR, message, fix)
        return False
    result.add("Notion", OK, "Notion answers and accepts the token.")
    return True


def _mappings() -> dict[str, DatabaseMapping]:
    found = {m.kind: m for m in DatabaseMapping.objects.all()}
    return {kind: found.get(kind) or DatabaseMapping(
        kind=kind, properties=default_properties(kind),
        closed_values=DEFAULT_CLOSED_VALUES[kind]) for kind in KIND_ORDER}


def _check_schemas(result: CheckResult, notion: NotionClient) -> None:
    mappings = _mappings()
    schemas: dict[str, dict | None] = {}
    for kind in KIND_ORDER:
        spec = kinds.get(kind)
        area = f"{spec.database_label} database"
        setting = spec.setting
        database_id = spec.database_id(settings)
        try:
            schemas[kind] = notion.schema(database_id)
        except ApiError as exc:
            schemas[kind] = None
            message, fix = _explain(
                "Notion", exc, what=f"the {spec.database_label} database ({setting})",
                fix_auth="Check NOTION_TOKEN.",
                fix_missing=f"Share the database with the integration (••• menu → "
                            f"Connections → add it) or correct {setting}.")
            result.add(area, ERROR, message, fix)
            continue
        _check_database(result, area, kind, schemas[kind], mappings[kind], notion)


def _check_database(result: CheckResult, area: str, kind: str, schema: dict,
                    mapping: DatabaseMapping, notion: NotionClient) -> None:
    before = len(result.findings)
    spec = kinds.get(kind)
    label = spec.database_label
    fix_mapping = f"or change the {label} database mapping in the admin (Database mappings)."
    if title_property(schema) is None:
        result.add(area, ERROR, f"The {label} database has no title property.",
                   "Every Notion database has one; check the database ID.")
    names = dict(mapping.properties or {})
    parent = spec.field("parent")
    if parent and not parent.optional and "parent" not in names:
        result.add(area, ERROR, f"No property is mapped to the {kind}'s {spec.parent}.",
                   f'Map "parent" to the Relation that links each {kind} to its {spec.parent}.')
    for key, warning in (("closed", "closing a record in Notion will not archive it"),
                         ("clockify_id", "the Clockify ID is not written back to Notion")):
        if key not in names:
            result.add(area, WARNING, f'No property is mapped to "{key}": {warning}.',
                       f'Add "{key}" to the {label} database mapping in the admin.')
    for key, prop_name in names.items():
        if key not in READABLE or not spec.syncs(key):
            unknown = "an unknown field" if key not in READABLE else \
                f"a field {spec.label.lower()}s do not sync,"
            result.add(area, WARNING, f'The mapping names {unknown} "{key}"; it is '
                       "ignored.", f"Remove it from the {label} database mapping.")
            continue
        readable = READABLE[key]
        types, expected, role = readable.types, readable.words, readable.role
        wanted, options = _wanted_type(spec, key, mapping)
        prop = schema.get(prop_name)
        if prop is None:
            result.add(area, ERROR,
                       f"The {label} database has no property “{prop_name}” (it {role}).",
                       f"Add a {wanted} property named “{prop_name}”{options} in Notion, "
                       + fix_mapping)
            continue
        actual = prop.get("type", "")
        if actual not in types:
            result.add(area, ERROR,
                       f"“{prop_name}” is a {type_words(actual)} property; it must be "
                       f"{expected} (it {role}).",
                       f"Change the property's type to {wanted}{options} in Notion, "
                       + fix_mapping)
            continue
        if key == "closed":
            _check_closed(result, area, label, prop_name, prop, mapping)
        if key == "parent":
            _check_relation(result, area, kind, prop_name, prop, notion)
    _check_filter(result, area, schema, mapping)
    if len(result.findings) == before:
        result.add(area, OK, f"The {label} database has every mapped property, "
                             "with the right types.")


def _wanted_type(spec: kinds.KindSpec, key: str, mapping: DatabaseMapping) -> tuple[str, str]:
    """The type(s) to suggest for a missing or mistyped property, the kind's own (a
    project's Status, a client's Archived checkbox), and the closed values as its options."""
    wanted = spec.suggested_type(key)
    values = mapping.closed_value_list
    if key == "closed" and values and wanted != "Checkbox":
        return wanted, f" with the options {', '.join(values)}"
    return wanted, ""


def _check_closed(result: CheckResult, area: str, label: str, prop_name: str, prop: dict,
                  mapping: DatabaseMapping) -> None:
    kind = prop["type"]
    values = mapping.closed_value_list
    if kind == "checkbox":
        if values:
            result.add(area, INFO, f"“{prop_name}” is a checkbox, so the closed values "
                       f"({', '.join(values)}) are ignored: ticked means closed.")
        return
    options = [o.get("name") for o in (prop.get(kind) or {}).get("options", [])]
    if not values:
        result.add(area, WARNING, f"“{prop_name}” is a {type_words(kind)} property but no "
                   "closed values are set, so nothing is ever archived.",
                   f"Set closed values in the {label} database mapping, e.g. Done.")
        return
    if kind == "formula":  # no options to compare with: the sync matches its result
        return
    for value in values:
        if value not in options:
            result.add(area, WARNING, f"“{value}” is not an option of “{prop_name}”; pages "
                       "can never be closed with it.",
                       f"Options are: {', '.join(options) or 'none'}. Fix the closed values "
                       f"of the {label} database mapping or add the option in Notion.")


def _check_relation(result: CheckResult, area: str, kind: str, prop_name: str, prop: dict,
                    notion: NotionClient) -> None:
    parent_kind = kinds.get(kind).parent
    if parent_kind is None:
        return
    parent_label = kinds.get(parent_kind).database_label
    parent_db = kinds.get(parent_kind).database_id(settings)
    config = prop.get("relation") or {}
    targets = {compact_id(config.get(key)) for key in ("data_source_id", "database_id")} - {""}
    wanted = {compact_id(db) for db in (parent_db, *notion.cached_data_sources(parent_db))}
    if targets and not targets & wanted:
        result.add(area, ERROR, f"“{prop_name}” links to another database, not the "
                   f"{parent_label} database.",
                   f"Point the relation at the {parent_label} database in Notion, or map "
                   f'"parent" to the property that does.')


def _check_filter(result: CheckResult, area: str, schema: dict,
                  mapping: DatabaseMapping) -> None:
    """Selective sync: a filter Notion cannot answer would fail every page of the database."""
    rule = mapping.filter_rule
    if rule is None:
        return
    for problem in mapping_rules.filter_problems(schema, rule):
        result.add(area, ERROR, f"Sync filter: {problem.message}",
                   f"{problem.fix} Change it in the mapping editor (Mappings).")


# -- Clockify -------------------------------------------------------------------------------------
def _clockify(result: CheckResult, clockify: ClockifyClient) -> None:
    try:
        _clockify_calls(result, clockify)
    except BudgetExhausted as exc:
        result.add("Clockify", WARNING, f"Not checked: {budget.waiting_message(exc.resumes_at)}"
                   " (CLOCKIFY_REQUESTS_PER_HOUR).", "Check again then.")


def _clockify_calls(result: CheckResult, clockify: ClockifyClient) -> None:
    try:
        clockify.current_user()
    except ApiError as exc:
        message, fix = _explain(
            "Clockify", exc, what="CLOCKIFY_API_KEY",
            fix_auth="Create a new key in Clockify (Profile settings → Advanced → Manage API "
                     "keys) and set CLOCKIFY_API_KEY.",
            fix_missing="Check CLOCKIFY_API_URL (regional workspaces have their own host).")
        result.add("Clockify", ERROR, message, fix)
        return
    try:
        next(iter(clockify.clients()), None)
    except ApiError as exc:
        message, fix = _explain(
            "Clockify", exc, what="the workspace CLOCKIFY_WORKSPACE_ID",
            fix_auth="Check CLOCKIFY_WORKSPACE_ID (it is in the workspace settings URL); the "
                     "key's user must be a member of that workspace.",
            fix_missing="Correct CLOCKIFY_WORKSPACE_ID (it is in the workspace settings URL).")
        result.add("Clockify", ERROR, message, fix)
        return
    result.add("Clockify", OK, "Clockify answers, accepts the key and finds the workspace.")


# -- the two depths ---------------------------------------------------------------------------
def _run(jobs: list[Callable[[], None]]) -> None:
    """Run the services' checks side by side: the slowest bounds the wait, not the sum."""
    if len(jobs) <= 1:
        for job in jobs:
            job()
        return
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()


def quick_check() -> CheckResult:
    """Settings present, both services reachable. No database access, a handful of calls."""
    result = CheckResult(full=False)
    skip = _static(result)
    notion, clockify = _clients(retries=0)
    jobs = []
    notion_result, clockify_result = CheckResult(), CheckResult()
    if "Notion" not in skip:
        jobs.append(lambda: _notion_reachable(notion_result, notion))
    if "Clockify" not in skip and budget.hourly_limit():
        # Every overview view would spend the hourly budget the syncs need.
        clockify_result.add("Clockify", OK, "Not checked automatically: the workspace has an "
                            "hourly request budget (CLOCKIFY_REQUESTS_PER_HOUR). “Check "
                            "configuration” checks it with 2 requests.")
    elif "Clockify" not in skip:
        jobs.append(lambda: _clockify(clockify_result, clockify))
    _run(jobs)
    result.findings += notion_result.findings + clockify_result.findings
    return result


def full_check() -> CheckResult:
    """The "Check configuration" button: reachability plus every database's schema."""
    result = CheckResult(full=True)
    skip = _static(result)
    notion, clockify = _clients(retries=1)
    if "Notion" not in skip and _notion_reachable(result, notion):
        _check_schemas(result, notion)
    if "Clockify" not in skip:
        _clockify(result, clockify)
    remember(result)
    return result


# -- caching ----------------------------------------------------------------------------------
def remember(result: CheckResult) -> None:
    seconds = settings.CONFIG_CHECK_CACHE_SECONDS
    if not result.ok:
        seconds = min(seconds, 60)  # look again soon once someone fixed it
    if seconds > 0:
        cache.set(CACHE_KEY, result, seconds)


def cached() -> CheckResult | None:
    return cache.get(CACHE_KEY)


def cached_or_quick() -> CheckResult:
    """For the overview: the last result if recent, else a quick check (then cached)."""
    result = cached()
    if result is None:
        result = quick_check()
        remember(result)
    return result

