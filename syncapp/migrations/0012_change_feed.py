"""The Clockify change feed: each mapping's last known Clockify state, each run's way of
reading Clockify and the drift an audit found, and the weekly full audit schedule.

The schedule is created here, once, by name (never in AppConfig.ready); edits made in the
admin (Task queue → Scheduled tasks) are kept.
"""

from datetime import timedelta

from django.db import migrations, models
from django.utils import timezone

AUDIT = "Weekly full audit"
AUDIT_FUNC = "syncapp.tasks.full_audit"


def create_schedule(apps, schema_editor=None):
    Schedule = apps.get_model("django_q", "Schedule")
    if not Schedule.objects.filter(name=AUDIT).exists():
        Schedule.objects.create(name=AUDIT, func=AUDIT_FUNC, schedule_type="W", repeats=-1,
                                next_run=timezone.now() + timedelta(days=7))


def remove_schedule(apps, schema_editor=None):
    apps.get_model("django_q", "Schedule").objects.filter(name=AUDIT, func=AUDIT_FUNC).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("syncapp", "0011_merge_review_console"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="entitymapping",
            name="clockify_state",
            field=models.JSONField(
                blank=True, default=dict,
                help_text='Clockify\'s side as last read or written ({"fields": {...}, '
                          '"parent": id}): what a change-feed run assumes for an entity the '
                          "feed does not name. Empty: the next run reads the entity."),
        ),
        migrations.AddField(
            model_name="syncrun",
            name="clockify_read",
            field=models.CharField(
                blank=True, choices=[("feed", "Change feed"), ("complete", "Complete")],
                help_text="How a full run read Clockify: through the change feed, or "
                          "completely.", max_length=10),
        ),
        migrations.AddField(
            model_name="syncrun",
            name="feed_note",
            field=models.TextField(
                blank=True, help_text="Why the run read Clockify completely instead of through "
                                      "the change feed (the fallback), or what the feed said."),
        ),
        migrations.AddField(
            model_name="syncrun",
            name="clockify_state_at",
            field=models.DateTimeField(
                blank=True, null=True,
                help_text="Clockify's state was stored as of here: the next full run asks the "
                          "change feed for what changed since (minus "
                          "CLOCKIFY_FEED_OVERLAP_SECONDS)."),
        ),
        migrations.AddField(
            model_name="syncrun",
            name="drift",
            field=models.JSONField(
                blank=True, default=list,
                help_text="Full audit: entities whose Clockify state differed from what the "
                          "change feed let the sync assume (drift the feed missed)."),
        ),
        migrations.AlterField(
            model_name="syncrun",
            name="mode",
            field=models.CharField(
                choices=[("full", "Full"), ("incremental", "Incremental"),
                         ("audit", "Full audit")], default="full", max_length=12),
        ),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
