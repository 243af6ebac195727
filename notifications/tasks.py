"""Sending notifications in the background, with retries, and the sweep for lost checks."""

from celery import shared_task

from . import services


@shared_task(bind=True, max_retries=services.MAX_ATTEMPTS, acks_late=True, ignore_result=True)
def send_notification(self, episode_id: int) -> None:
    """Check one episode when due and email it; a no-op when not due, settled, or held by another sender."""
    try:
        services.notification_send(episode_id=episode_id)
    except Exception as error:
        from .models import Episode

        attempts = Episode.objects.filter(pk=episode_id).values_list("attempts", flat=True).first() or 1
        raise self.retry(exc=error, countdown=services.retry_delay(attempts)) from error


@shared_task(ignore_result=True)
def settle_notifications() -> None:
    """Periodic (Celery beat): checks whose task was lost are run again."""
    for episode_id in services.notification_settle_lost():
        send_notification.delay(episode_id)
