# Production image: uvicorn serving the ASGI app as a non-root user. The same image runs the Celery
# worker and beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DEBUG=0 \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings that pass the production checks; these values never reach runtime.
RUN SECRET_KEY=collectstatic ALLOWED_HOSTS=localhost python manage.py collectstatic --no-input \
    && useradd --system --uid 1000 --home /app helpdesk \
    && mkdir -p /app/media && chown -R helpdesk /app/media

USER helpdesk
EXPOSE 8000
CMD ["sh", "-c", "python manage.py migrate --no-input && exec uvicorn helpdesk.asgi:application --host 0.0.0.0 --port 8000 --workers ${WEB_WORKERS:-2} --proxy-headers --ws-per-message-deflate false"]
