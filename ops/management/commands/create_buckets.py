"""Create the media and static buckets when missing (the compose stack's one-shot `buckets`)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create DJANGO_AWS_STORAGE_BUCKET_NAME and DJANGO_AWS_STATIC_BUCKET_NAME if missing."

    def handle(self, *args: Any, **options: Any) -> None:
        from media.clients import media_client

        client = media_client()
        for name in (settings.AWS_STORAGE_BUCKET_NAME, settings.AWS_STATIC_BUCKET_NAME):
            if not name:
                continue
            try:
                client.head_bucket(Bucket=name)
                self.stdout.write(f"{name}: exists")
            except ClientError:
                region = settings.AWS_S3_REGION_NAME
                where = {} if region == "us-east-1" else {"LocationConstraint": region}
                client.create_bucket(
                    Bucket=name, **({"CreateBucketConfiguration": where} if where else {})
                )
                self.stdout.write(f"{name}: created")
