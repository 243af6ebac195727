from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self):
        from helpdesk import events as hub

        from . import services

        hub.subscribe(services.webhook_event_heard)
