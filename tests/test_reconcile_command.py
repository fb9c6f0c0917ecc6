"""`manage.py reconcile_time`: sandbox time entries reach Notion's tracked hours."""

from io import StringIO

import pytest
from django.core.management import call_command

from syncapp.models import EntityMapping, TimeEntry
from syncapp.sandbox import ids
from syncapp.sandbox.demo import track_time
from tests.syncing import sync

pytestmark = pytest.mark.django_db


def test_tracked_time_reaches_notion(sandbox):
    project = sandbox.notion.create_page(ids.PROJECTS_DATA_SOURCE_ID, {"Name": "Website"})
    task = sandbox.notion.create_page(ids.TASKS_DATA_SOURCE_ID,
                                      {"Name": "Design", "Project": [project]})
    sync()
    assert track_time(sandbox, count=4) == 4
    out = StringIO()
    call_command("reconcile_time", stdout=out)
    assert TimeEntry.objects.count() == 4
    hours = sum(e.duration_seconds for e in TimeEntry.objects.all()) / 3600
    assert sandbox.notion.values(task)["Tracked (h)"] == pytest.approx(hours, abs=0.01)
    assert sandbox.notion.values(project)["Tracked (h)"] == pytest.approx(hours, abs=0.01)
    assert EntityMapping.objects.filter(kind="task").count() == 1
    assert "time entries" in out.getvalue()
