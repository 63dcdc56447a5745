"""Helpers of `make dev` (scripts/dev.sh), each a sub-command; settings from the environment.

devstack.py ports PORT...   exit 1 naming each port that is taken on 127.0.0.1
devstack.py database        create DATABASE_URL's database when it does not exist
devstack.py s3-ready        exit 0 when DJANGO_AWS_S3_ENDPOINT_URL answers as LocalStack's S3
devstack.py samples         put a few objects under reports/ when the bucket has none
devstack.py banner          print where the API, admin, API docs and mail are
"""

from __future__ import annotations

import json
import os
import socket
import sys
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

SAMPLES = {
    "reports/2026/q1.csv": b"quarter,revenue\nq1,1250000\n",
    "reports/2026/q2.csv": b"quarter,revenue\nq2,1310000\n",
    "reports/finance/2026-11 revenue.csv": b"month,revenue\n2026-11,1250000\n",
}


def taken(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((os.environ.get("GUNICORN_HOST", "127.0.0.1"), port))
        except OSError:
            return True
    return False


def ports(*given: str) -> int:
    busy = [port for port in given if taken(int(port))]
    for port in busy:
        print(
            f"make dev: port {port} is taken on 127.0.0.1; stop what holds it or choose another "
            "(PORT=8001 make dev; EMAIL_URL=smtp://127.0.0.1:1026 make dev for the mail sink)",
            file=sys.stderr,
        )
    return 1 if busy else 0


def database() -> int:
    import psycopg

    url = urlsplit(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    server = urlunsplit(url._replace(path="/postgres"))
    with psycopg.connect(server, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"make dev: created database {name}")
    return 0


def s3_ready() -> int:
    endpoint = os.environ["DJANGO_AWS_S3_ENDPOINT_URL"].rstrip("/")
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=2) as answer:  # noqa: S310
            health = json.load(answer)
    except (OSError, ValueError):
        return 1
    return 0 if health.get("services", {}).get("s3") in {"available", "running"} else 1


def samples() -> int:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=os.environ["DJANGO_AWS_S3_ENDPOINT_URL"],
        region_name=os.environ.get("DJANGO_AWS_S3_REGION_NAME", "us-east-1"),
        aws_access_key_id=os.environ["DJANGO_AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["DJANGO_AWS_SECRET_ACCESS_KEY"],
    )
    bucket = os.environ["DJANGO_AWS_STORAGE_BUCKET_NAME"]
    if client.list_objects_v2(Bucket=bucket, Prefix="reports/", MaxKeys=1).get("KeyCount"):
        return 0
    for key, body in SAMPLES.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)
    print(f"make dev: put {len(SAMPLES)} sample objects under reports/ in {bucket}")
    return 0


def banner() -> int:
    web = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
    s3 = os.environ["DJANGO_AWS_S3_ENDPOINT_URL"]
    bucket = os.environ["DJANGO_AWS_STORAGE_BUCKET_NAME"]
    print(f"""
make dev: starting web, the four worker pools and beat (Ctrl-C stops them all)
  API          {web}/api/            (Authorization: Token …, see the README's quickstart)
  API docs     {web}/api/docs/       (OpenAPI document: {web}/api/schema/)
  admin        {web}/admin/          (python manage.py createsuperuser)
  health       {web}/healthz
  S3           {s3}  bucket {bucket}
  mail         {os.environ["EMAIL_URL"]} → .dev/mail.log
  your shell   export DJANGO_ENV_FILE=dev.env API={web}
""")
    return 0


COMMANDS: dict[str, Callable[..., int]] = {
    "ports": ports,
    "database": database,
    "s3-ready": s3_ready,
    "samples": samples,
    "banner": banner,
}

if __name__ == "__main__":
    sys.exit(COMMANDS[sys.argv[1]](*sys.argv[2:]))
