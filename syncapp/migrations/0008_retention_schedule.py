"""A daily schedule that prunes idle poll runs and old webhook deliveries (created once)."""

from datetime import timedelta

from django.db import migrations
from django.utils import timezone

NAME = "Prune idle polls and old deliveries"
FUNC = "syncapp.tasks.prune"


def create(apps, schema_editor=None):
    Schedule = apps.get_model("django_q", "Schedule")
    if not Schedule.objects.filter(name=NAME).exists():
        Schedule.objects.create(name=NAME, func=FUNC, schedule_type="D", repeats=-1,
                                next_run=timezone.now() + timedelta(hours=1))


def remove(apps, schema_editor=None):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME, func=FUNC).delete()


class Migration(migrations.Migration):

    dependencies = [("syncapp", "0007_webhook_schedules")]

    operations = [migrations.RunPython(create, remove)]
