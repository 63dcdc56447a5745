from django.apps import AppConfig
from django.core import checks


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Link jobs"

    def ready(self) -> None:
        from tasks.refresh.margin import check_margin

        checks.register(check_margin, "tasks")
