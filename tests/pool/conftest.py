"""Fixtures of the pool tests: the Redis servers (see tests/_redis.py)."""

from __future__ import annotations

from tests._redis import private_redis, redis_url

__all__ = ["private_redis", "redis_url"]
