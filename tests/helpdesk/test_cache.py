from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache as StockRedisCache

from helpdesk.cache import RedisCache, count


def test_every_cache_object_of_a_process_shares_one_redis_client_and_pool(redis_url):
    """Django makes a cache object per request under ASGI: they must not each connect to Redis again."""
    first, second = RedisCache(redis_url, {}), RedisCache(redis_url, {})

    first.set("shared-pool", 1, timeout=5)

    assert second.get("shared-pool") == 1
    assert first._cache.get_client(write=True) is second._cache.get_client()
    stock = StockRedisCache(redis_url, {})
    assert first._cache.get_client().connection_pool is not stock._cache.get_client().connection_pool


def _counts_then_starts_again(key: str):
    cache.delete_many([key, f"{key}-other"])
    assert [count(key, 60)[0] for _ in range(3)] == [1, 2, 3]
    _total, seconds_left = count(key, 60)
    assert 0 < seconds_left <= 60
    assert count(f"{key}-other", 60)[0] == 1
    cache.delete(key)
    assert count(key, 60)[0] == 1


def test_a_counter_counts_within_its_lifetime_and_says_how_long_it_has_left(settings):
    """The API's rate limit: a counter per key, living from its first count (the embedded cache)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    _counts_then_starts_again("counter-embedded")


def test_a_counter_on_redis_counts_the_same_way(settings, redis_url):
    settings.CACHES = {"default": {"BACKEND": "helpdesk.cache.RedisCache", "LOCATION": redis_url}}
    _counts_then_starts_again("counter-redis")
