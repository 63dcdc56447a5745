from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from celery import signals

        from ops import heartbeat

        # Only a beat process sends beat_init: there the hook records each heartbeat it sends.
        signals.beat_init.connect(heartbeat.watch_beat_publishing, weak=False)
