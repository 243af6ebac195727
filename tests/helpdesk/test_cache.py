from django.core.cache.backends.redis import RedisCache as StockRedisCache

from helpdesk.cache import RedisCache


def test_every_cache_object_of_a_process_shares_one_redis_client_and_pool(redis_url):
    """Django makes a cache object per request under ASGI: they must not each connect to Redis again."""
    first, second = RedisCache(redis_url, {}), RedisCache(redis_url, {})

    first.set("shared-pool", 1, timeout=5)

    assert second.get("shared-pool") == 1
    assert first._cache.get_client(write=True) is second._cache.get_client()
    stock = StockRedisCache(redis_url, {})
    assert first._cache.get_client().connection_pool is not stock._cache.get_client().connection_pool
