from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from helpdesk.events import subscribe

        from . import webhook_services
        from .models import WebhookEndpoint
        from .subscribers import on_event

        # Signals, not the services: the admin, fixtures and tests change endpoints too.
        post_save.connect(webhook_services.webhook_endpoints_changed, sender=WebhookEndpoint)
        post_delete.connect(webhook_services.webhook_endpoints_changed, sender=WebhookEndpoint)

        subscribe(webhook_services.webhook_event_heard)
        subscribe(on_event)
