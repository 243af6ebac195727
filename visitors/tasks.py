from celery import shared_task

from . import services
from .presence import presence


@shared_task(ignore_result=True)
def settle_departure(visitor_id: int) -> None:
    """Run a grace period after a visitor's last chat box closed."""
    services.visitor_settle_departure(visitor_id=visitor_id)


@shared_task(ignore_result=True)
def settle_departures() -> None:
    """Periodic: visitors whose delayed check was lost, or whose server process died, are settled too."""
    import time

    from django.conf import settings

    for visitor_id in presence().departed(before=time.time() - settings.VISITOR_LEFT_GRACE):
        services.visitor_settle_departure(visitor_id=visitor_id)


@shared_task(ignore_result=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def finalise_recording(recording_id: int) -> None:
    """After the visitor left: join the recording's batches into one file (retried if storage fails)."""
    from .recordings import recording_finalise

    recording_finalise(recording_id=recording_id)


@shared_task(ignore_result=True)
def purge_recordings() -> None:
    """Nightly: recordings older than the account keeps them go, files included."""
    from .recordings import recordings_purge

    recordings_purge()
