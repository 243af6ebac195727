"""Where a visitor is, from their IP address: the country offline (iptocc, no download), the city when
the owner configured a MaxMind City database (GEOIP_PATH)."""

import logging
from functools import cache

import iptocc
from django.conf import settings

logger = logging.getLogger(__name__)


def country_for_ip(ip_address: str | None) -> str:
    if not ip_address:
        return ""
    try:
        return iptocc.country_code(ip_address) or ""
    except ValueError:
        return ""


@cache
def _city_reader():
    if not settings.GEOIP_PATH:
        return None
    from django.contrib.gis.geoip2 import GeoIP2

    try:
        return GeoIP2(settings.GEOIP_PATH)
    except Exception:
        logger.exception("Cannot open the MaxMind database at GEOIP_PATH=%s; cities stay unknown.", settings.GEOIP_PATH)
        return None


def city_for_ip(ip_address: str | None) -> str:
    reader = _city_reader()
    if reader is None or not ip_address:
        return ""
    try:
        return reader.city(ip_address).get("city") or ""
    except Exception:  # addresses the database does not know (private ranges, new blocks)
        return ""
