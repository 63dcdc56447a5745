from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("notifications", "0005_message_body_once")]

    operations = [
        migrations.AddField(
            model_name="recipient",
            name="consecutive_failures",
            field=models.PositiveIntegerField(
                default=0, help_text="timeouts and errors in a row since the last success"
            ),
        ),
        migrations.AddField(
            model_name="recipient",
            name="breaker_open_until",
            field=models.DateTimeField(
                blank=True, null=True, help_text="no attempts before then (the breaker is open)"
            ),
        ),
        migrations.AddField(
            model_name="recipient",
            name="breaker_trips",
            field=models.PositiveIntegerField(
                default=0, help_text="times the breaker opened since the last success"
            ),
        ),
        migrations.AddField(
            model_name="delivery",
            name="lease_until",
            field=models.DateTimeField(
                blank=True, null=True, help_text="a claim not renewed by then is a lost worker's"
            ),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(status="sending"),
                fields=["lease_until"],
                name="delivery_lease_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(status="pending"),
                fields=["recipient", "next_attempt_at"],
                name="delivery_lane_due_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(status="sending"),
                fields=["recipient", "claim_token"],
                name="delivery_lane_sending_idx",
            ),
        ),
    ]
