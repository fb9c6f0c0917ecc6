"""The planner as pure functions: one test per rule of the README's "How a sync works".

No database, no emulator: each test builds Notion records, Clockify records, the stored
mappings (Known), the parents and the policy by hand, and reads the Changes `plan` returns.
"""

from __future__ import annotations

from syncapp.engine.plan import Known, Parents, Snapshot, hold_mass_archives, plan
from syncapp.engine.policy import (
    ALWAYS_REVIEW,
    CLOCKIFY_WINS,
    NEVER_LINK,
    NOTION_WINS,
    Policy,
)
from syncapp.engine.records import ClockifyRecord, NotionRecord

CLIENT_FIELDS = ["name", "closed", "note"]
PROJECT_FIELDS = ["name", "parent", "closed"]
TASK_FIELDS = ["name", "parent", "closed"]


def page(page_id, name, *, kind="client", closed=False, parent=None, clockify_id=None,
         **fields):
    values = {"name": name, "closed": closed, **fields}
    if kind != "client":
        values["parent"] = parent
    return NotionRecord(kind=kind, page_id=page_id, fields=values, clockify_id=clockify_id)


def entity(entity_id, name, *, kind="client", closed=False, parent=None, **fields):
    return ClockifyRecord(kind=kind, id=entity_id, fields={"name": name, "closed": closed,
                                                           **fields}, parent_id=parent)


def mapped(page_id, clockify_id, **baseline):
    """A mapping whose last sync saw the same `baseline` values on both sides."""
    return Known(page_id=page_id, clockify_id=clockify_id, state="synced",
                 baseline={"notion": dict(baseline), "clockify": dict(baseline)})


def snapshot(notion=(), clockify=(), known=(), *, kind="client", fields=None, parents=None,
             policy=None, unreachable=(), claimed_elsewhere=()):
    default_fields = {"client": CLIENT_FIELDS, "project": PROJECT_FIELDS, "task": TASK_FIELDS}
    return Snapshot(kind=kind, fields=fields or default_fields[kind],
                    notion={r.page_id: r for r in notion},
                    clockify={e.id: e for e in clockify},
                    known={k.page_id: k for k in known},
                    parents=parents or Parents(), policy=policy or Policy(),
                    unreachable=set(unreachable), claimed_elsewhere=set(claimed_elsewhere))


def only(changes):
    assert len(changes) == 1, changes
    return changes[0]


def by_page(changes):
    return {c.page_id: c for c in changes}


# Step 2: matching ---------------------------------------------------------------------------


def test_a_mapped_record_is_matched_by_its_stored_clockify_id_not_by_name():
    record = page("p1", "Acme", clockify_id="c1", note="Hello")
    snap = snapshot([record],
                    [entity("c1", "Acme", note="Hello"), entity("c2", "Acme", note="Hello")],
                    [mapped("p1", "c1", name="Acme", closed=False, note="Hello")])
    change = only(plan(snap))
    assert change.action == "update"
    assert change.clockify_id == "c1"
    assert change.verdict == ""
    assert change.to_clockify == {} and change.to_notion == {} and change.conflicts == {}
    assert change.writes is False


def test_a_mapped_record_whose_clockify_entity_is_gone_is_created_again():
    record = page("p1", "Acme", clockify_id="c1")
    snap = snapshot([record], [], [mapped("p1", "c1", name="Acme", closed=False)])
    change = only(plan(snap))
    assert (change.action, change.reason, change.verdict) == ("create", "missing_in_clockify", "")
    assert change.to_clockify == {"name": "Acme", "closed": False}
    assert change.write_clockify_id is True


def test_a_clockify_id_found_in_the_page_links_the_record_recovery_after_a_lost_database():
    record = page("p1", "Acme Ltd", clockify_id="c7")
    snap = snapshot([record], [entity("c7", "Acme"), entity("c8", "Acme Ltd")])
    change = only(plan(snap))
    assert (change.action, change.reason, change.verdict) == ("link", "clockify_id_property", "")
    assert change.clockify_id == "c7"
    # without a baseline Notion's values win
    assert change.to_clockify == {"name": "Acme Ltd"}
    assert change.to_notion == {}


def test_an_exact_unique_name_match_under_the_same_parent_links_instead_of_creating():
    parents = Parents(to_clockify={"client-a": "ca", "client-b": "cb"},
                      to_notion={"ca": "client-a", "cb": "client-b"})
    record = page("p1", "Website", kind="project", parent="client-a")
    snap = snapshot([record], [entity("e-b", "Website", kind="project", parent="cb"),
                               entity("e-a", "Website", kind="project", parent="ca")],
                    kind="project", parents=parents)
    change = only(plan(snap))
    assert (change.action, change.reason, change.verdict) == ("link", "name_match", "")
    assert change.clockify_id == "e-a"
    assert change.to_clockify == {} and change.to_notion == {}
    assert change.write_clockify_id is True


def test_a_name_match_under_another_parent_is_not_a_candidate_and_the_record_is_created():
    parents = Parents(to_clockify={"client-a": "ca", "client-b": "cb"},
                      to_notion={"ca": "client-a", "cb": "client-b"})
    record = page("p1", "Website", kind="project", parent="client-a")
    snap = snapshot([record], [entity("e-b", "Website", kind="project", parent="cb")],
                    kind="project", parents=parents)
    change = only(plan(snap))
    assert (change.action, change.reason, change.verdict) == ("create", "new", "")
    assert change.parent_clockify_id == "ca"
    assert change.to_clockify == {"name": "Website", "parent": "client-a", "closed": False}


def test_several_exact_candidates_are_flagged_ambiguous_and_never_guessed():
    record = page("p1", "Acme")
    snap = snapshot([record], [entity("c1", "Acme"), entity("c2", "Acme")])
    change = only(plan(snap))
    assert (change.action, change.verdict, change.reason) == ("link", "flag", "ambiguous_match")
    assert change.clockify_id is None
    assert change.candidates == [{"id": "c1", "name": "Acme"}, {"id": "c2", "name": "Acme"}]
    assert change.error.startswith("Several or only approximate Clockify matches")
    assert change.writes is False


def test_a_match_differing_only_in_case_or_accents_is_flagged_ambiguous_and_never_guessed():
    record = page("p1", "Café Müller")
    snap = snapshot([record], [entity("c1", "cafe  MULLER")])
    change = only(plan(snap))
    assert (change.action, change.verdict, change.reason) == ("link", "flag", "ambiguous_match")
    assert change.clockify_id is None
    assert change.candidates == [{"id": "c1", "name": "cafe  MULLER"}]
    assert change.to_clockify == {}


def test_policy_never_link_creates_even_when_an_exact_unique_match_exists():
    record = page("p1", "Acme")
    snap = snapshot([record], [entity("c1", "Acme")], policy=Policy(name_matching=NEVER_LINK))
    change = only(plan(snap))
    assert (change.action, change.reason, change.verdict) == ("create", "new", "")
    assert change.clockify_id is None
    assert change.to_clockify == {"name": "Acme", "closed": False}


def test_policy_always_review_flags_an_exact_unique_match_instead_of_linking():
    record = page("p1", "Acme")
    snap = snapshot([record], [entity("c1", "Acme")], policy=Policy(name_matching=ALWAYS_REVIEW))
    change = only(plan(snap))
    assert (change.verdict, change.reason) == ("flag", "ambiguous_match")
    assert change.candidates == [{"id": "c1", "name": "Acme"}]
    assert change.error.startswith("The policy asks for review of every name match")


def test_one_clockify_entity_is_linked_to_one_page_only():
    snap = snapshot([page("p1", "Acme"), page("p2", "Acme")], [entity("c1", "Acme")])
    changes = by_page(plan(snap))
    assert (changes["p1"].action, changes["p1"].clockify_id) == ("link", "c1")
    assert (changes["p2"].action, changes["p2"].reason) == ("create", "new")


def test_an_incremental_snapshots_claimed_elsewhere_ids_are_never_linked():
    by_name = page("p1", "Acme")
    by_property = page("p2", "Beta", clockify_id="c2")
    snap = snapshot([by_name, by_property], [entity("c1", "Acme"), entity("c2", "Beta")],
                    claimed_elsewhere={"c1", "c2"})
    changes = by_page(plan(snap))
    for page_id in ("p1", "p2"):
        assert (changes[page_id].action, changes[page_id].reason) == ("create", "new")
        assert changes[page_id].clockify_id is None
        assert changes[page_id].candidates == []


# Step 3: three-way diff ---------------------------------------------------------------------


def test_a_field_changed_only_in_notion_goes_to_clockify():
    snap = snapshot([page("p1", "Acme", clockify_id="c1", note="New")],
                    [entity("c1", "Acme", note="Old")],
                    [mapped("p1", "c1", name="Acme", closed=False, note="Old")])
    change = only(plan(snap))
    assert (change.action, change.verdict) == ("update", "")
    assert change.to_clockify == {"note": "New"}
    assert change.to_notion == {}
    assert change.diff == {"note": {"before": "Old", "after": "New", "side": "clockify"}}


def test_a_two_way_field_changed_only_in_clockify_is_written_to_notion():
    snap = snapshot([page("p1", "Acme", clockify_id="c1")],
                    [entity("c1", "Acme", closed=True)],
                    [mapped("p1", "c1", name="Acme", closed=False)])
    change = only(plan(snap))
    assert (change.action, change.verdict) == ("write_back", "")
    assert change.to_notion == {"closed": True}
    assert change.to_clockify == {}
    assert change.diff == {"closed": {"before": False, "after": True, "side": "notion"}}


def test_a_notion_to_clockify_field_changed_only_in_clockify_is_restored_from_notion():
    snap = snapshot([page("p1", "Acme", clockify_id="c1")],
                    [entity("c1", "Acme Renamed")],
                    [mapped("p1", "c1", name="Acme", closed=False)])
    change = only(plan(snap))
    assert (change.action, change.verdict) == ("update", "")
    assert change.to_clockify == {"name": "Acme"}
    assert change.to_notion == {}
    assert change.diff["name"] == {"before": "Acme Renamed", "after": "Acme", "side": "clockify",
                                   "note": "changed in Clockify; restored from Notion"}


def test_a_field_changed_on_both_sides_is_a_conflict_and_nothing_is_applied_for_it():
    snap = snapshot([page("p1", "Site (Notion)", clockify_id="c1", note="New")],
                    [entity("c1", "Site (Clockify)", note="Old")],
                    [mapped("p1", "c1", name="Website", closed=False, note="Old")])
    change = only(plan(snap))
    assert change.conflicts == {"name": {"baseline": "Website", "notion": "Site (Notion)",
                                         "clockify": "Site (Clockify)"}}
    assert "name" not in change.to_clockify and "name" not in change.to_notion
    # the other field, changed on one side only, still goes through
    assert change.to_clockify == {"note": "New"}
    assert (change.action, change.verdict) == ("update", "")


def test_a_conflict_with_policy_notion_wins_sends_notions_value_to_clockify():
    policy = Policy(conflicts={("client", "name"): NOTION_WINS})
    snap = snapshot([page("p1", "Site (Notion)", clockify_id="c1")],
                    [entity("c1", "Site (Clockify)")],
                    [mapped("p1", "c1", name="Website", closed=False)], policy=policy)
    change = only(plan(snap))
    assert change.conflicts == {}
    assert change.to_clockify == {"name": "Site (Notion)"}
    assert change.to_notion == {}
    assert change.diff["name"]["note"] == "conflict: Notion wins by policy"


def test_a_conflict_with_policy_clockify_wins_writes_clockifys_value_to_notion():
    policy = Policy(conflicts={("client", "name"): CLOCKIFY_WINS})
    snap = snapshot([page("p1", "Site (Notion)", clockify_id="c1")],
                    [entity("c1", "Site (Clockify)")],
                    [mapped("p1", "c1", name="Website", closed=False)], policy=policy)
    change = only(plan(snap))
    assert change.conflicts == {}
    assert change.to_notion == {"name": "Site (Clockify)"}
    assert change.to_clockify == {}
    assert change.action == "write_back"
    assert change.diff["name"]["note"] == "conflict: Clockify wins by policy"


# Step 4: apply order, failures and validation -----------------------------------------------


def test_a_closed_notion_record_not_in_clockify_is_skipped():
    snap = snapshot([page("p1", "Old client", closed=True)], [])
    change = only(plan(snap))
    assert (change.action, change.verdict, change.reason) == ("skip", "skip", "closed")
    assert change.to_clockify == {}


def test_a_malformed_page_fails_alone_and_the_others_are_planned():
    broken = page("p1", "Broken")
    broken.errors.append("The page has no title property.")
    snap = snapshot([broken, page("p2", "Fine")], [])
    changes = by_page(plan(snap))
    assert (changes["p1"].action, changes["p1"].verdict, changes["p1"].reason) == \
        ("skip", "fail", "malformed")
    assert changes["p1"].error == "The page has no title property."
    assert changes["p1"].to_clockify == {} and changes["p1"].to_notion == {}
    assert (changes["p2"].action, changes["p2"].verdict) == ("create", "")


def test_a_relation_holding_several_parents_is_a_validation_item_with_the_fix():
    record = page("p1", "Website", kind="project", parent="client-a")
    record.invalid.append("“Client” links 2 pages, but a project has one client in Clockify. "
                          "Fix: keep one in “Client” in Notion.")
    parents = Parents(to_clockify={"client-a": "ca"}, to_notion={"ca": "client-a"})
    snap = snapshot([record], [], kind="project", parents=parents)
    change = only(plan(snap))
    assert (change.action, change.verdict, change.reason) == ("create", "fail", "validation")
    assert change.error == record.invalid[0]
    assert change.to_clockify == {}


def test_a_colour_that_is_no_colour_on_a_mapped_record_is_a_validation_item_not_an_update():
    record = page("p1", "Website", kind="project", parent="client-a", clockify_id="e1")
    record.invalid.append("“Color” is “sky-ish”, which is not a colour Clockify can show.")
    parents = Parents(to_clockify={"client-a": "ca"}, to_notion={"ca": "client-a"})
    snap = snapshot([record], [entity("e1", "Old name", kind="project", parent="ca")],
                    [mapped("p1", "e1", name="Old name", parent="client-a", closed=False)],
                    kind="project", parents=parents)
    change = only(plan(snap))
    assert (change.action, change.verdict, change.reason) == ("update", "fail", "validation")
    assert change.clockify_id == "e1"
    assert "not a colour" in change.error
    assert change.to_clockify == {}  # the rename waits until the colour is fixed


def test_a_new_name_clockify_would_refuse_for_its_length_is_a_validation_failure():
    long_name = "x" * 101
    snap = snapshot([page("p1", long_name)], [])
    change = only(plan(snap))
    assert (change.action, change.verdict, change.reason) == ("create", "fail", "validation")
    assert change.error.startswith("The name is 101 characters long; Clockify accepts 1–100")


def test_a_rename_clockify_would_refuse_for_its_length_is_a_validation_failure():
    snap = snapshot([page("p1", "W", kind="project", parent="client-a", clockify_id="e1")],
                    [entity("e1", "Website", kind="project", parent="ca")],
                    [mapped("p1", "e1", name="Website", parent="client-a", closed=False)],
                    kind="project",
                    parents=Parents(to_clockify={"client-a": "ca"}, to_notion={"ca": "client-a"}))
    change = only(plan(snap))
    assert (change.verdict, change.reason) == ("fail", "validation")
    assert change.error.startswith("The name is 1 characters long; Clockify accepts 2–250")


def test_a_child_of_a_failed_parent_fails_with_the_parents_reason():
    parents = Parents(failed={"client-a": "Clockify refused the name."})
    snap = snapshot([page("p1", "Website", kind="project", parent="client-a")], [],
                    kind="project", parents=parents)
    change = only(plan(snap))
    assert (change.action, change.verdict, change.reason) == ("create", "fail", "parent_failed")
    assert change.error == "Its parent was not synced: Clockify refused the name."


def test_a_child_of_a_skipped_closed_parent_is_skipped():
    parents = Parents(skipped={"client-a"})
    snap = snapshot([page("p1", "Website", kind="project", parent="client-a")], [],
                    kind="project", parents=parents)
    change = only(plan(snap))
    assert (change.verdict, change.reason) == ("skip", "parent_skipped")
    assert change.error == "Its parent is closed in Notion and not in Clockify."


def test_a_task_without_a_project_is_skipped():
    snap = snapshot([page("t1", "Design", kind="task", parent=None)], [], kind="task")
    change = only(plan(snap))
    assert (change.verdict, change.reason) == ("skip", "no_parent")
    assert change.error == "The task has no project in Notion; Clockify tasks need one."


def test_a_parent_outside_the_parent_database_is_a_validation_failure_with_the_fix():
    record = page("t1", "Design", kind="task", parent="elsewhere")
    record.props["parent"] = ("Project", "relation")
    snap = snapshot([record], [], kind="task")
    change = only(plan(snap))
    assert (change.verdict, change.reason) == ("fail", "validation")
    assert "link a page of the Projects database in “Project” in Notion" in change.error


def test_a_new_parent_in_notion_reparents_the_clockify_entity():
    parents = Parents(to_clockify={"client-a": "ca", "client-b": "cb"},
                      to_notion={"ca": "client-a", "cb": "client-b"})
    snap = snapshot([page("p1", "Website", kind="project", parent="client-b", clockify_id="e1")],
                    [entity("e1", "Website", kind="project", parent="ca")],
                    [mapped("p1", "e1", name="Website", parent="client-a", closed=False)],
                    kind="project", parents=parents)
    change = only(plan(snap))
    assert (change.action, change.verdict) == ("reparent", "")
    assert change.to_clockify == {"parent": "client-b"}
    assert change.parent_clockify_id == "cb"
    assert change.diff["parent"] == {"before": "client-a", "after": "client-b",
                                     "side": "clockify"}


# Step 6: archives and unreachable pages -----------------------------------------------------


def test_an_unreachable_mapped_page_is_flagged_not_archived():
    known = mapped("p1", "c1", name="Acme", closed=False)
    snap = snapshot([], [entity("c1", "Acme")], [known], unreachable={"p1"})
    change = only(plan(snap))
    assert (change.action, change.verdict, change.reason) == ("archive", "flag", "unreachable")
    assert (change.clockify_id, change.name) == ("c1", "Acme")
    assert "nothing was archived" in change.error
    assert change.writes is False


def test_a_record_closed_in_notion_is_archived_in_clockify():
    snap = snapshot([page("p1", "Acme", closed=True, clockify_id="c1")], [entity("c1", "Acme")],
                    [mapped("p1", "c1", name="Acme", closed=False)])
    change = only(plan(snap))
    assert (change.action, change.verdict) == ("archive", "")
    assert change.to_clockify == {"closed": True}


def test_archives_need_review_when_the_policy_says_so():
    snap = snapshot([page("p1", "Acme", closed=True, clockify_id="c1")], [entity("c1", "Acme")],
                    [mapped("p1", "c1", name="Acme", closed=False)],
                    policy=Policy(archives_need_review=True))
    change = only(plan(snap))
    assert (change.action, change.verdict, change.reason) == ("archive", "flag", "destructive")
    assert change.to_clockify == {"closed": True}
    assert change.writes is False


def _archiving(closing: int, population: int):
    """A snapshot of `population` mapped clients of which the first `closing` are closed."""
    notion, clockify, known = [], [], []
    for i in range(population):
        notion.append(page(f"p{i}", f"Client {i:02}", closed=i < closing, clockify_id=f"c{i}"))
        clockify.append(entity(f"c{i}", f"Client {i:02}"))
        known.append(mapped(f"p{i}", f"c{i}", name=f"Client {i:02}", closed=False))
    return snapshot(notion, clockify, known)


def test_a_mass_change_above_the_threshold_flags_every_archive_as_mass_change():
    snap = _archiving(5, 10)  # 50% of 10, from the floor of 5 up
    changes = plan(snap)
    assert hold_mass_archives(snap, changes, population=10) is True
    archives = [c for c in changes if c.action == "archive"]
    assert len(archives) == 5
    assert {(c.verdict, c.reason) for c in archives} == {("flag", "mass_change")}
    assert archives[0].error == "This run would archive 5 of 10 clients: held for review."
    assert [c.verdict for c in changes if c.action != "archive"] == [""] * 5


def test_archives_below_the_mass_change_threshold_are_not_held():
    for closing, population in ((4, 10), (5, 30)):  # under the floor; 17% is under 20%
        snap = _archiving(closing, population)
        changes = plan(snap)
        assert hold_mass_archives(snap, changes, population=population) is False
        archives = [c for c in changes if c.action == "archive"]
        assert len(archives) == closing
        assert {(c.verdict, c.reason) for c in archives} == {("", "")}


def test_more_archives_than_the_count_threshold_is_a_mass_change_whatever_the_share():
    snap = _archiving(26, 1000)
    changes = plan(snap)
    assert hold_mass_archives(snap, changes, population=1000) is True
    assert sum(c.reason == "mass_change" for c in changes) == 26
