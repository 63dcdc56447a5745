"""Schedule names are unique per owner, not across all users (and among ownerless ones)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("schedules", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="schedule",
            name="crontab",
            field=models.ForeignKey(
                help_text=(
                    "When it runs: cron fields and their time zone, read as in crontab(5): with "
                    "both day-of-month and day-of-week restricted, a day runs when either matches."
                ),
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="django_celery_beat.crontabschedule",
            ),
        ),
        migrations.AlterField(
            model_name="schedule",
            name="name",
            field=models.SlugField(help_text="Unique among its owner's schedules.", max_length=100),
        ),
        migrations.AddConstraint(
            model_name="schedule",
            constraint=models.UniqueConstraint(
                condition=models.Q(("owner__isnull", False)),
                fields=("owner", "name"),
                name="schedule_name_unique_per_owner",
            ),
        ),
        migrations.AddConstraint(
            model_name="schedule",
            constraint=models.UniqueConstraint(
                condition=models.Q(("owner__isnull", True)),
                fields=("name",),
                name="schedule_name_unique_without_owner",
            ),
        ),
    ]
