"""The django-q2 schedules: a daily full sync and the every-minute incremental poll.

Created here, once, by name (never in AppConfig.ready, which runs in every process).
Running it again, or on a database that already has them, changes nothing; edits made
in the admin (Task queue → Scheduled tasks) are kept.
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import migrations
from django.utils import timezone

DAILY = "Daily full sync"
POLL = "Incremental poll (every minute)"
DAILY_FUNC = "syncapp.tasks.daily_full_sync"
POLL_FUNC = "syncapp.tasks.poll"


def next_daily_run(now=None):
    """The next DAILY_SYNC_TIME (HH:MM) in TIME_ZONE, as an aware datetime."""
    zone = ZoneInfo(settings.TIME_ZONE)
    hour, minute = (int(part) for part in settings.DAILY_SYNC_TIME.split(":"))
    local_now = (now or timezone.now()).astimezone(zone)
    candidate = datetime.combine(local_now.date(), time(hour, minute), tzinfo=zone)
    if candidate <= local_now:
        candidate = datetime.combine(local_now.date() + timedelta(days=1), time(hour, minute),
                                     tzinfo=zone)
    return candidate


def create_schedules(apps, schema_editor=None):
    Schedule = apps.get_model("django_q", "Schedule")
    if not Schedule.objects.filter(name=DAILY).exists():
        Schedule.objects.create(name=DAILY, func=DAILY_FUNC, schedule_type="D", repeats=-1,
                                next_run=next_daily_run())
    if not Schedule.objects.filter(name=POLL).exists():
        Schedule.objects.create(name=POLL, func=POLL_FUNC, schedule_type="I", minutes=1,
                                repeats=-1, next_run=timezone.now() + timedelta(minutes=1))


def remove_schedules(apps, schema_editor=None):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name__in=[DAILY, POLL], func__in=[DAILY_FUNC, POLL_FUNC]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("syncapp", "0004_trigger_review"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.RunPython(create_schedules, remove_schedules),
    ]
