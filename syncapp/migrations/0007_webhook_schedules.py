"""The django-q2 schedules of the webhook features, created once, by name.

- hourly: reconcile the last 7 days of Clockify time entries (repairs missed webhooks);
- every minute: flush tracked hours to Notion (one write per changed page);
- every minute: send due Salesforce Events (new, changed, deleted, retries).

Never in AppConfig.ready (it runs in every process). Running it again, or on a database
that already has them, changes nothing; edits made in the admin are kept.
"""

from datetime import timedelta

from django.db import migrations
from django.utils import timezone

SCHEDULES = [
    # name, func, schedule_type, minutes
    ("Reconcile Clockify time entries (hourly)",
     "syncapp.tasks_webhooks.reconcile_time_entries", "H", None),
    ("Write tracked hours to Notion (every minute)",
     "syncapp.tasks_webhooks.flush_rollups", "I", 1),
    ("Send Salesforce Events (every minute)",
     "syncapp.tasks_webhooks.push_salesforce_due", "I", 1),
]


def create_schedules(apps, schema_editor=None):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func, schedule_type, minutes in SCHEDULES:
        if not Schedule.objects.filter(name=name).exists():
            Schedule.objects.create(name=name, func=func, schedule_type=schedule_type,
                                    minutes=minutes, repeats=-1,
                                    next_run=timezone.now() + timedelta(minutes=1))


def remove_schedules(apps, schema_editor=None):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func, _type, _minutes in SCHEDULES:
        Schedule.objects.filter(name=name, func=func).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("syncapp", "0006_webhooks"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.RunPython(create_schedules, remove_schedules),
    ]
