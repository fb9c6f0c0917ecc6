# The review console: resolved items, readable admin names.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('syncapp', '0008_retention_schedule'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='fieldpolicy',
            options={'ordering': ['kind', 'field'], 'verbose_name': 'field policy', 'verbose_name_plural': 'field policies'},
        ),
        migrations.AlterModelOptions(
            name='pendingchange',
            options={'ordering': ['-created_at', '-id'], 'verbose_name': 'review item'},
        ),
        migrations.AddField(
            model_name='pendingchange',
            name='resolved_by',
            field=models.ForeignKey(blank=True, help_text='The later run that found the difference gone (pages restored, sides agree).', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='resolved_reviews', to='syncapp.syncrun'),
        ),
        migrations.AlterField(
            model_name='pendingchange',
            name='status',
            field=models.CharField(choices=[('pending', 'Pending'), ('approved', 'Approved'), ('rejected', 'Rejected'), ('applied', 'Applied'), ('failed', 'Failed'), ('superseded', 'Superseded'), ('resolved', 'Resolved by a later run')], default='pending', max_length=12),
        ),
    ]
