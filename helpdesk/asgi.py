"""ASGI entry point: HTTP through Django on a pool of threads (helpdesk.http_threads), websockets
through Channels (served by uvicorn)."""

import gc
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

# Garbage collection walks every object a process holds. With Python's defaults a young collection ran
# every 700 allocations and promoted the objects of messages in flight, so full collections came every
# few seconds under load and each stopped the event loop, every socket of the process, for 150-200 ms
# (a process holding 1,200 chat boxes). What start-up built lives as long as the process: frozen, no
# collection walks it again. A young collection every 10,000 allocations lets a message's objects die by
# reference counting first, so little is promoted and full collections are rare.
gc.freeze()
gc.set_threshold(10_000, 10, 10)
