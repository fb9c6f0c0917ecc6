"""Check configuration's fixes name the right property type for each kind's field (issue 15:
a missing Projects `Status` was told to be a Checkbox), and the estimate is checked."""

from __future__ import annotations

import pytest

from syncapp.models import DatabaseMapping
from syncapp.services import config_check

pytestmark = pytest.mark.django_db


def findings(area: str) -> list[config_check.Finding]:
    return [f for f in config_check.full_check().findings if f.area == area]


def remap(kind: str, **properties: str) -> None:
    mapping = DatabaseMapping.for_kind(kind)
    mapping.properties = {**mapping.properties, **properties}
    mapping.save()


@pytest.mark.parametrize(("kind", "area", "fix"), [
    ("client", "Clients database", "Add a Checkbox property named “Stage” in Notion"),
    ("project", "Projects database", "Add a Status or Select property named “Stage” with the "
                                     "options Done, Obsolete, Archived in Notion"),
    ("task", "Tasks database", "Add a Status or Select property named “Stage” with the "
                               "options Done in Notion"),
])
def test_a_missing_closed_property_is_fixed_with_the_kinds_own_type(sandbox, kind, area, fix):
    remap(kind, closed="Stage")
    found = [f for f in findings(area) if "“Stage”" in f.message]
    assert len(found) == 1 and found[0].level == config_check.ERROR
    assert found[0].fix.startswith(fix), found[0].fix
    assert "Checkbox" not in found[0].fix or kind == "client"


@pytest.mark.parametrize(("kind", "area", "key", "wanted"), [
    ("client", "Clients database", "email", "Email"),
    ("client", "Clients database", "note", "Text"),
    ("project", "Projects database", "parent", "Relation"),
    ("project", "Projects database", "billable", "Checkbox"),
    ("project", "Projects database", "color", "Select"),
    ("project", "Projects database", "estimate", "Number"),
    ("task", "Tasks database", "parent", "Relation"),
    ("task", "Tasks database", "estimate", "Number"),
])
def test_every_missing_property_is_fixed_with_a_type_that_field_reads(sandbox, kind, area,
                                                                      key, wanted):
    remap(kind, **{key: "Missing one"})
    found = [f for f in findings(area) if "“Missing one”" in f.message]
    assert [f.fix.split(" property named")[0] for f in found] == [f"Add a {wanted}"]


def test_a_mistyped_closed_property_is_told_which_type_to_become(sandbox):
    remap("project", closed="Note")  # a Text property
    remap("client", closed="Email")
    project = next(f for f in findings("Projects database") if "“Note”" in f.message)
    assert project.fix.startswith("Change the property's type to Status or Select with the "
                               "options Done, Obsolete, Archived in Notion")
    client = next(f for f in findings("Clients database") if "“Email”" in f.message)
    assert client.fix.startswith("Change the property's type to Checkbox in Notion")


def test_the_project_estimate_is_checked_and_a_field_a_kind_does_not_sync_is_named(sandbox):
    assert DatabaseMapping.for_kind("project").properties["estimate"] == "Estimate (h)"
    ok = findings("Projects database")
    assert [f.level for f in ok] == [config_check.OK], [f.message for f in ok]
    remap("project", estimate="Note")  # a Text property cannot be an estimate
    wrong = [f for f in findings("Projects database") if "“Note”" in f.message]
    assert wrong[0].message == ("“Note” is a Text property; it must be Number, Formula or "
                                "Rollup (it is the estimate in hours).")
    remap("client", estimate="Estimate (h)")
    ignored = [f for f in findings("Clients database") if '"estimate"' in f.message]
    assert ignored[0].level == config_check.WARNING
    assert 'a field clients do not sync, "estimate"' in ignored[0].message
