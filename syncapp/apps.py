from django.apps import AppConfig


class SyncAppConfig(AppConfig):
    name = "syncapp"
    verbose_name = "Notion → Clockify sync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers our system checks. Schedules are NOT created here (see the
        # data migration): ready() runs in every process, including tests.
        from syncapp import checks  # noqa: F401
