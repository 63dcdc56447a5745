"""The main job end to end on embedded defaults: `make demo`."""

from __future__ import annotations

import io
import logging
import time
from typing import Any

import requests
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from demo.embedded import SmtpSink, start_s3_emulator
from demo.receiver import Receiver
from demo.refresh_step import run_refresh_demo
from demo.schedule_step import run_scheduled_report
from demo.worker import in_process_worker
from media.clients import media_client
from media.signing import sign
from notifications.models import Delivery
from notifications.recipients import recipient_from_spec
from tasks.batches.issuing import create_batch
from tasks.batches.spec import BatchRequest
from tasks.events.export import csv_pieces, export_rows
from tasks.management.clitools import WaitStalled, wait_for
from tasks.models import Batch

NOT_UPLOADED = "shares/never-uploaded.txt"

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
        self.issue_batch(keys)
        run_refresh_demo(self.step)
        run_scheduled_report(self.step, self.wait_for)

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

    def issue_batch(self, keys: list[str]) -> None:
        """A batch through a real Celery worker (consumer, acks) on the in-memory broker,
        delivered to a verifying webhook receiver and to an SMTP sink."""
        for name in ("celery", "kombu", "mail.log"):  # chatter; the steps say what happens
            logging.getLogger(name).setLevel(logging.ERROR)
        with (
            Receiver(verify=True) as receiver,
            SmtpSink("127.0.0.1", settings.EMAIL_PORT) as sink,
            in_process_worker(),
        ):
            # The safe order (docs/webhooks.md): the endpoint first, its secret given to the
            # receiver, then a batch naming it; the first delivery is verified at once.
            secret = recipient_from_spec(None, {"webhook": receiver.url}).secret
            assert secret is not None  # a new endpoint's generated secret
            receiver.secret = secret
            self.step(f"webhook endpoint added first: the receiver holds {secret[:10]}…")
            request = BatchRequest(
                keys=[*keys, keys[0], NOT_UPLOADED],
                expires_in=600,
                check_existence=True,
                filename_from_key=True,
                recipients=[
                    {"webhook": receiver.url},
                    {"email": "finance@example.com", "timezone": "Europe/Paris"},
                ],
            )
            batch = create_batch(request).batch
            self.step(
                f"batch {batch.id}: {batch.total} distinct keys queued for a Celery worker "
                f"({settings.CELERY_BROKER_URL})"
            )
            batch = self.wait_for(batch)
            self.step(f"the worker signed {batch.signed} links; {batch.skipped} key had no object")
            self.stdout.write("".join(csv_pieces(export_rows(batch))), ending="")
            for link in batch.links.all():
                if requests.get(link.url, timeout=10).content != SAMPLES[link.key]:
                    raise CommandError(f"the batch link for {link.key!r} did not download")
            self.step(f"all {batch.signed} batch links download their objects")
            self.wait_for_deliveries(str(batch.id))
            self.report_deliveries(receiver, sink)

    def wait_for_deliveries(self, subject: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        unfinished = [Delivery.Status.PENDING, Delivery.Status.SENDING]
        while time.monotonic() < deadline:
            deliveries = Delivery.objects.filter(subject=subject)
            if deliveries.exists() and not deliveries.filter(status__in=unfinished).exists():
                return
            time.sleep(0.2)
        raise CommandError(f"deliveries of batch {subject} did not finish in {timeout:g} s")

    def report_deliveries(self, receiver: Receiver, sink: SmtpSink) -> None:
        if not receiver.verified or len(receiver.requests) != len(receiver.verified):
            raise CommandError("the webhook receiver did not verify every request it got")
        for message in receiver.verified:
            data = message["payload"]["data"]
            self.step(
                f"webhook {message['payload']['type']} {message['id']} verified by the receiver "
                f"with its secret: {len(data['links'])} links, part {data['part']}/{data['parts']}"
            )
            for link in data["links"]:
                if requests.get(link["url"], timeout=10).content != SAMPLES[link["key"]]:
                    raise CommandError(f"the delivered link for {link['key']!r} did not download")
        for mail in sink.messages:
            kinds = [part.get_content_type() for part in mail.walk() if not part.is_multipart()]
            self.step(f"email to {mail['To']}: {mail['Subject']!r} ({', '.join(kinds)})")
        if not sink.messages:
            raise CommandError("the SMTP sink received no email")

    @staticmethod
    def wait_for(batch: Batch) -> Batch:
        try:  # the share_links command's wait, its progress bar kept out of the demo's output
            batch = wait_for(batch, stall_timeout=60, stream=io.StringIO())
        except WaitStalled as error:
            raise CommandError(str(error)) from None
        if batch.status == Batch.Status.FAILED:
            raise CommandError(f"the batch failed: {batch.error}")
        return batch
