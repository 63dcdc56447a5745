from django.apps import AppConfig
from django.core import checks


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Link jobs"

    def ready(self) -> None:
        from tasks.checks import check_media_signing
        from tasks.refresh.lease import check_lease
        from tasks.refresh.margin import check_margin

        checks.register(check_media_signing)
        checks.register(check_margin, "tasks")
        checks.register(check_lease, "tasks")
