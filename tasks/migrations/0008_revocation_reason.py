from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0007_batch_key_root"),
    ]

    operations = [
        migrations.AddField(
            model_name="revocation",
            name="reason",
            field=models.CharField(
                blank=True,
                help_text="Why, when no person asked (the owner's access ended); sent in "
                "links.revoked.",
                max_length=300,
            ),
        ),
    ]
