# Webhook hardening (issue 9): staff-confirmed Notion tokens, bounded refused deliveries.

from django.db import migrations, models


def unconfirm_auto_activated_tokens(apps, schema_editor):
    # Before 0009 the first handshake (unsigned: anyone could send it) became active by itself.
    # No staff member confirmed such a token, so it waits for one, like every new token.
    Subscription = apps.get_model("syncapp", "NotionWebhookSubscription")
    Subscription.objects.filter(active=True, activated_at__isnull=True).update(active=False)


class Migration(migrations.Migration):

    dependencies = [
        ('syncapp', '0008_retention_schedule'),
    ]

    operations = [
        migrations.CreateModel(
            name='DroppedDeliveries',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('source', models.CharField(choices=[('clockify', 'Clockify'), ('notion_trigger', 'Notion button / automation'), ('notion_events', 'Notion integration webhook')], max_length=20, unique=True)),
                ('dropped', models.PositiveBigIntegerField(default=0)),
                ('last_dropped_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'verbose_name_plural': 'dropped deliveries',
            },
        ),
        migrations.AddField(
            model_name='notionwebhooksubscription',
            name='activated_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='notionwebhooksubscription',
            name='activated_by',
            field=models.CharField(blank=True, max_length=150),
        ),
        migrations.AlterField(
            model_name='webhookdelivery',
            name='status',
            field=models.CharField(choices=[('received', 'Received'), ('invalid', 'Invalid signature or secret (401)'), ('malformed', 'Invalid body (400)'), ('too_large', 'Body too large (413)'), ('ignored', 'Ignored (irrelevant or our own echo)'), ('duplicate', 'Duplicate (already processed)'), ('processed', 'Processed'), ('failed', 'Processing failed (500)'), ('rate_limited', 'Rate limited (429)')], default='received', max_length=12),
        ),
        migrations.RunPython(unconfirm_auto_activated_tokens, migrations.RunPython.noop),
    ]
