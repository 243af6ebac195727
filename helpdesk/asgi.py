"""ASGI entry point: HTTP through Django on a pool of threads (helpdesk.http_threads), websockets
through Channels (served by uvicorn)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

from helpdesk.http_threads import http_application

http_app = http_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from helpdesk.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

from helpdesk.celery import app as celery_app  # noqa: E402

if settings.CELERY_EMBEDDED_WORKER and not celery_app.conf.task_always_eager:
    from helpdesk.celery import start_embedded_worker

    start_embedded_worker()
