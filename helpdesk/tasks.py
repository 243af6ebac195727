"""Celery adapters of the account core."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from . import services

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def purge_online_spans() -> None:
    deleted = services.agent_online_spans_purge(older_than=timedelta(days=settings.AGENT_ONLINE_SPANS_KEEP_DAYS))
    logger.info("Deleted %d records of when agents were online.", deleted)
