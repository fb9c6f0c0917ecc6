"""The Clockify request budget: its slots, a waiting run status, and the follow-up schedule.

The schedule is created here once, by name, inactive (repeats=0); a run that waits for the
budget only moves it (services/budget.schedule_resume).
"""

from django.db import migrations, models
from django.utils import timezone

RESUME = "Resume after the Clockify budget"
RESUME_FUNC = "syncapp.tasks.resume_after_budget"


def create_schedule(apps, schema_editor=None):
    Schedule = apps.get_model("django_q", "Schedule")
    if not Schedule.objects.filter(name=RESUME).exists():
        Schedule.objects.create(name=RESUME, func=RESUME_FUNC, schedule_type="O", repeats=0,
                                next_run=timezone.now())


def remove_schedule(apps, schema_editor=None):
    apps.get_model("django_q", "Schedule").objects.filter(name=RESUME, func=RESUME_FUNC).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('syncapp', '0011_merge_review_console'),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name='syncrun',
            name='resumes_at',
            field=models.DateTimeField(blank=True, help_text='A run waiting for the Clockify request budget: when a follow-up continues.', null=True),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='status',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('partial', 'Partial (some records failed or need review)'), ('failed', 'Failed'), ('held', 'Held for review'), ('waiting', 'Waiting for the Clockify budget')], default='running', max_length=10),
        ),
        migrations.CreateModel(
            name='RequestSlot',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('service', models.CharField(max_length=20)),
                ('slot', models.PositiveIntegerField()),
                ('used_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'ordering': ['service', 'slot'],
                'constraints': [models.UniqueConstraint(fields=('service', 'slot'), name='one_row_per_budget_slot')],
            },
        ),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
