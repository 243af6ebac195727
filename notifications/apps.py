from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self):
        from helpdesk.events import subscribe

        from . import webhook_services
        from .subscribers import on_event

        subscribe(webhook_services.webhook_event_heard)
        subscribe(on_event)
