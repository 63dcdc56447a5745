"""The main job end to end on embedded defaults: `make demo`."""

from __future__ import annotations

from typing import Any

import requests
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from project.embedded import start_s3_emulator
from project.s3 import media_client
from project.signing import sign

SAMPLES = {
    "reports/finance/2026-11 revenue.csv": b"month,revenue\n2026-11,1250000\n",
    "reports/finance/2026-11 costs.csv": b"month,costs\n2026-11,730000\n",
    "shares/Été – brochure.txt": "Bonjour — a brochure with a non-ASCII name.\n".encode(),
}


class Command(BaseCommand):
    help = "Run the main job end to end on embedded defaults (SQLite, an embedded S3 emulator)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.AWS_S3_ENDPOINT_URL:
            raise CommandError("the demo needs DJANGO_AWS_S3_ENDPOINT_URL (make demo sets it)")
        start_s3_emulator(settings.AWS_S3_ENDPOINT_URL)
        self.step(f"S3 emulator at {settings.AWS_S3_ENDPOINT_URL}")
        call_command("migrate", verbosity=0)
        self.step(f"database ready ({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]})")
        self.create_buckets()
        keys = self.upload_samples()
        self.sign_and_download(keys)

    def step(self, text: str) -> None:
        self.stdout.write(self.style.SUCCESS("✓ ") + text)

    def create_buckets(self) -> None:
        client = media_client()
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        for bucket in (settings.AWS_STORAGE_BUCKET_NAME, settings.AWS_STATIC_BUCKET_NAME):
            if bucket and bucket not in existing:
                client.create_bucket(Bucket=bucket)
        self.step(f"private media bucket {settings.AWS_STORAGE_BUCKET_NAME!r}")

    def upload_samples(self) -> list[str]:
        keys = []
        for key, body in SAMPLES.items():
            if default_storage.exists(key):
                default_storage.delete(key)
            keys.append(default_storage.save(key, ContentFile(body)))
        self.step(f"uploaded {len(keys)} sample objects")
        return keys

    def sign_and_download(self, keys: list[str]) -> None:
        for key in keys:
            signed = sign(key, 600, filename=key.rsplit("/", 1)[-1])
            response = requests.get(signed.url, timeout=10)
            ok = response.status_code == 200 and response.content == SAMPLES[key]
            if not ok:
                raise CommandError(
                    f"downloading {key!r} through its link failed: HTTP {response.status_code}"
                )
            self.step(
                f"signed and downloaded {key!r} ({len(response.content)} bytes, "
                f"expires {signed.expires_at:%Y-%m-%d %H:%M:%S} UTC)"
            )
            self.stdout.write(f"    {signed.url[:110]}…")
