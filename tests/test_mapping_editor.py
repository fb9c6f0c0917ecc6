"""The mapping editor's page (issue 15): pickers from the live schema, preview, validation with
plain fixes (a wrong choice is refused, nothing saved), and saving the JSON mapping.

Through the views and the real Notion client into the emulator.
"""

# ruff: noqa: F811 - pytest fixtures imported by name
from __future__ import annotations

import json

import pytest
from django.test import Client

from syncapp.models import DatabaseMapping, EntityMapping
from syncapp.sandbox import ids
from tests.dashboard import STAFF_PASSWORD, fresh_cache, staff, staff_client  # noqa: F401
from tests.syncing import cid, clockify_entity, sync

pytestmark = pytest.mark.django_db
C, P, T = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID, ids.TASKS_DATA_SOURCE_ID
URL = "/mappings/edit/{}/"


def token(prop: str, value: str) -> str:
    return json.dumps([prop, value])


def project_form(**changes) -> dict:
    """The form as the page submits it for the default Projects mapping."""
    form = {"prop_parent": "Client", "prop_closed": "Status", "prop_billable": "Billable",
            "prop_note": "Note", "prop_color": "Color", "prop_clockify_id": "Clockify ID",
            "closed_values": [token("Status", "Done"), token("Status", "Obsolete")],
            "filter_property": "", "filter_values": [], "action": "save"}
    form.update(changes)
    return form


def selected(html: str, select_id: str) -> list[str]:
    """The option labels offered by one <select> (a crude read, enough for the pickers)."""
    start = html.index(f'id="{select_id}"')
    body = html[start:html.index("</select>", start)]
    return [part.split(">", 1)[1].split("<", 1)[0] for part in body.split("<option")[1:]]


def test_pickers_offer_only_fitting_properties_and_real_options(sandbox, staff_client):
    html = staff_client.get(URL.format("project")).content.decode()
    # closed reads a checkbox, status, select or formula: never the text or number properties
    assert selected(html, "prop-closed") == [
        "— choose —", "Billable (Checkbox)", "Color (Select)", "Status (Status)"]
    assert selected(html, "prop-parent") == ["— not synced —", "Client (Relation)"]
    assert "Estimate (h)" not in " ".join(selected(html, "prop-note"))
    assert selected(html, "filter-property") == [
        "— every page is synced —", "Billable (Checkbox) is ticked",
        "Color (Select) is one of…", "Status (Status) is one of…"]
    # the closed values are the Status property's options, the saved ones selected
    assert 'value="[&quot;Status&quot;, &quot;Obsolete&quot;]" selected' in html


def test_a_wrong_choice_is_refused_with_the_fix_and_nothing_is_saved(sandbox, staff_client):
    sync()  # stores the default mapping
    before = DatabaseMapping.objects.values().get(kind="project")
    cases = [
        ({"prop_closed": "Note"}, "“Note” is a Text property; Archived needs a Checkbox, "
                                  "Status, Select or Formula property",
         "Pick a Checkbox, Status, Select or Formula property for Archived"),
        ({"closed_values": []}, "No value of “Status” is chosen as Archived",
         "Pick the values of “Status” that mean closed"),
        ({"closed_values": [token("Status", "Finished")]}, "“Finished” is not an option",
         "Pick among its options: Not started, In progress, Done, Obsolete, Archived."),
        ({"prop_note": "Clockify ID"}, "“Clockify ID” is chosen for Note and Clockify ID",
         "Choose a different property for one of them"),
        ({"prop_closed": ""}, "No property is chosen for Archived",
         "This database has: “Billable”, “Color”, “Status”."),
        ({"filter_property": "Status"}, "No value of “Status” is chosen, so no page would be "
                                        "synced", "Pick the values of “Status” whose pages sync"),
        ({"filter_property": "Estimate (h)"}, "“Estimate (h)” is a Number property; the sync "
                                              "filter needs a Checkbox, Status or Select",
         "Pick a Checkbox, Status or Select property for the filter."),
        ({"prop_parent": "Gone"}, "The database has no property “Gone”",
         "Pick one of the properties offered for Client"),
    ]
    for change, message, fix in cases:
        response = staff_client.post(URL.format("project"), project_form(**change))
        html = response.content.decode()
        assert response.status_code == 400, change
        assert "Nothing was saved." in html
        assert message in html, (change, html[html.find("mapping-problems"):][:600])
        assert fix in html, change
        assert DatabaseMapping.objects.values().get(kind="project") == before


def test_a_relation_to_another_database_is_refused(sandbox, staff_client):
    sandbox.notion.add_property(T, "Also a client", ("relation", C))
    response = staff_client.post(URL.format("task"), {
        "prop_parent": "Also a client", "prop_closed": "Status",
        "closed_values": [token("Status", "Done")], "prop_clockify_id": "Clockify ID",
        "action": "save"})
    assert response.status_code == 400
    assert "“Also a client” links to another database, not the Projects database." in \
        response.content.decode()


def test_saving_writes_the_json_mapping_and_the_next_sync_uses_it(sandbox, staff_client):
    sandbox.notion.add_property(P, "Phase", ("select", ["Idea", "Active", "Closed"]))
    client = sandbox.notion.create_page(C, {"Name": "Acme"})
    live = sandbox.notion.create_page(P, {"Name": "Live", "Client": [client], "Phase": "Active"})
    idea = sandbox.notion.create_page(P, {"Name": "Idea only", "Phase": "Idea"})
    response = staff_client.post(URL.format("project"), project_form(
        prop_closed="Phase", closed_values=[token("Phase", "Closed"), token("Status", "Done")],
        prop_color="", filter_property="Phase",
        filter_values=[token("Phase", "Active"), token("Phase", "Closed")]))
    assert response.status_code == 302
    mapping = DatabaseMapping.objects.get(kind="project")
    assert mapping.properties == {"parent": "Client", "closed": "Phase", "billable": "Billable",
                                  "note": "Note", "clockify_id": "Clockify ID"}
    assert mapping.closed_values == "Closed"  # the Status value belonged to another property
    assert mapping.sync_filter == {"property": "Phase", "values": ["Active", "Closed"]}
    assert "is saved" in staff_client.get(response["Location"]).content.decode()

    sync()
    assert [p["name"] for p in sandbox.clockify.projects()] == ["Live"]
    assert not EntityMapping.objects.filter(notion_page_id=idea).exists()  # outside the filter
    sandbox.notion.update_page(live, {"Phase": "Closed"})
    sync()
    assert clockify_entity(sandbox, "project", cid(live))["archived"] is True


def test_preview_shows_three_real_pages_without_saving(sandbox, staff_client):
    sandbox.notion.add_property(P, TICK := "Sync to Clockify", "checkbox")
    for name, ticked in (("Alpha", True), ("Beta", False), ("Gamma", True), ("Delta", True)):
        sandbox.notion.create_page(P, {"Name": name, "Status": "Done" if name == "Gamma"
                                       else "In progress", "Billable": name == "Alpha",
                                       TICK: ticked})
    response = staff_client.post(URL.format("project"), project_form(
        action="preview", filter_property=TICK))
    html = response.content.decode()
    assert response.status_code == 200 and "Nothing was saved" not in html
    table = html[html.index('id="mapping-preview-table"'):]
    assert "<th>Alpha</th><th>Beta</th><th>Gamma</th>" in table and "Delta" not in table
    assert '<tr data-row="Synced"><td>Synced</td><td class="small muted hide-narrow">filter: ' \
           '“Sync to Clockify” is ticked</td><td>yes</td><td>no — outside the filter</td>' \
           '<td>yes</td></tr>' in table
    assert '<tr data-row="archived"><td>archived</td><td class="small muted hide-narrow">' \
           'Status</td><td>no</td><td>yes</td><td>yes</td></tr>' in table
    assert '<td>billable</td><td class="small muted hide-narrow">Billable</td><td>yes</td>' \
           '<td>no</td><td>no</td>' in table
    assert DatabaseMapping.objects.filter(kind="project").count() == 0  # nothing saved


def test_staff_only_and_csrf(sandbox, staff, django_user_model):
    anonymous = Client()
    assert anonymous.get(URL.format("client")).status_code == 302
    django_user_model.objects.create_user("visitor", password=STAFF_PASSWORD)
    visitor = Client()
    visitor.login(username="visitor", password=STAFF_PASSWORD)
    assert visitor.get(URL.format("client")).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff)
    assert strict.post(URL.format("client"), {"action": "save"}).status_code == 403
    assert strict.get(URL.format("nothing")).status_code == 404
    assert not DatabaseMapping.objects.exists()


def test_an_unreadable_schema_says_so(sandbox, staff_client):
    sandbox.notion.revoke_access(ids.CLIENTS_DATABASE_ID)
    response = staff_client.get(URL.format("client"))
    assert response.status_code == 502
    assert "Could not read the Clients database from Notion" in response.content.decode()


def test_linked_from_the_mappings_and_settings_pages_and_the_admin(sandbox, staff_client,
                                                                   admin_client):
    for page in ("/mappings/", "/settings/"):
        assert 'href="/mappings/edit/client/"' in staff_client.get(page).content.decode()
    sync()
    mapping = DatabaseMapping.objects.get(kind="task")
    html = admin_client.get(f"/admin/syncapp/databasemapping/{mapping.pk}/change/").content
    assert b'href="/mappings/edit/task/"' in html


def test_check_configuration_reports_a_filter_notion_cannot_answer(sandbox, staff_client):
    sync()
    DatabaseMapping.objects.filter(kind="project").update(
        sync_filter={"property": "Status", "values": ["Someday"]})
    html = staff_client.post("/settings/check/").content.decode()
    assert "Sync filter: “Someday” is not an option of “Status”." in html
    assert "Pick among its options: Not started, In progress, Done, Obsolete, Archived." in html
    assert "Change it in the mapping editor" in html


def test_the_rules_name_a_field_the_kind_does_not_have():
    from syncapp.engine import mapping_rules

    schema = {"Name": {"type": "title"}, "Archived": {"type": "checkbox"}}
    problems = mapping_rules.validate(
        "client", schema, mapping_rules.Proposal({"closed": "Archived", "parent": "Owner"}))
    assert [(p.field, p.message) for p in problems] == [
        ("parent", "“parent” is not a field the sync knows for a client.")]
    assert mapping_rules.validate("client", schema,
                                  mapping_rules.Proposal({"closed": "Archived"})) == []
