"""The lock records its holder's host and pid; whether a person has started syncing.

An install that already ran a real sync counts as started (nothing changes for it);
a fresh install waits until someone starts syncing.
"""

from django.db import migrations, models
from django.utils import timezone


def record_state(apps, schema_editor=None):
    SyncRun = apps.get_model("syncapp", "SyncRun")
    SyncingState = apps.get_model("syncapp", "SyncingState")
    already = SyncRun.objects.filter(dry_run=False).exists()
    SyncingState.objects.get_or_create(pk=1, defaults={
        "started": already, "changed_at": timezone.now() if already else None,
        "changed_by": "upgrade: this install had already synced" if already else ""})


class Migration(migrations.Migration):

    dependencies = [("syncapp", "0008_retention_schedule")]

    operations = [
        migrations.AddField(
            model_name="synclock", name="host",
            field=models.CharField(blank=True, help_text="Hostname of the holder.",
                                   max_length=255)),
        migrations.AddField(
            model_name="synclock", name="pid",
            field=models.PositiveIntegerField(blank=True, help_text="Process id of the holder.",
                                              null=True)),
        migrations.CreateModel(
            name="SyncingState",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("started", models.BooleanField(default=False)),
                ("changed_at", models.DateTimeField(blank=True, null=True)),
                ("changed_by", models.CharField(blank=True, max_length=200)),
            ],
        ),
        migrations.RunPython(record_state, migrations.RunPython.noop),
    ]
