"""Selective sync: an optional filter per database mapping (stored as JSON, {} = no filter)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("syncapp", "0011_merge_review_console"),
    ]

    operations = [
        migrations.AddField(
            model_name="databasemapping",
            name="sync_filter",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text=(
                    "Selective sync: only pages inside this filter are synced. "
                    '{"property": "Sync to Clockify"} (a checkbox that must be ticked) or '
                    '{"property": "Status", "values": ["In progress", "Planned"]} (a status '
                    "or select with one of these values). {} syncs every page. A synced page "
                    "that leaves the filter is archived in Clockify like a close, never "
                    "deleted. Easiest set in the mapping editor, which offers only the "
                    "database's real properties and options."
                ),
            ),
        ),
    ]
