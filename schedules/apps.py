from django.apps import AppConfig


class SchedulesConfig(AppConfig):
    name = "schedules"
    label = "schedules"
    verbose_name = "Schedules"
    default_auto_field = "django.db.models.BigAutoField"
