# The branches built side by side each added a migration after 0011; this joins them.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("syncapp", "0012_change_feed"),
        ("syncapp", "0013_clockify_budget"),
        ("syncapp", "0015_dashboard_indexes"),
        ("syncapp", "0016_time_backfill"),
        ("syncapp", "0017_databasemapping_sync_filter"),
        ("syncapp", "0018_undo_run"),
    ]

    operations = []
