"""The Redis bus of deployments: API replicas and workers in other processes or hosts.

Plain pub/sub suffices because messages are only wake-ups: a subscriber that was not
listening when a message went out finds the rows in the database on its next read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

DEFAULT_PREFIX = "retrospect:"


class _RedisSubscription:
    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub

    async def wait(self, timeout_s: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:  # one look even at timeout 0: a wake-up may already be waiting
            remaining = max(deadline - loop.time(), 0.0)
            message = await self._pubsub.get_message(
                ignore_subscribe_messages=True, timeout=remaining
            )
            if message is not None:
                await self._drain()
                return True
            if remaining <= 0:
                return False

    async def _drain(self) -> None:
        # Several wake-ups in a row mean one re-read; swallow those already queued.
        while await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0):
            pass

    async def close(self) -> None:
        # redis-py typed `aclose` only in later releases: a typed alias type-checks under both.
        aclose: Callable[[], Awaitable[None]] = self._pubsub.aclose
        await aclose()


class RedisBus:
    """Channels are `prefix + channel`, so several deployments (or tests) share one Redis."""

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = Redis.from_url(url)
        self._prefix = prefix

    async def publish(self, channel: str) -> None:
        """Wake every subscriber of `channel`, in any process."""
        await self._redis.publish(self._prefix + channel, b"1")

    async def subscribe(self, channel: str) -> _RedisSubscription:
        """Start listening; returns once Redis confirmed the subscription."""
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self._prefix + channel)
        # The confirmation arrives as the first message; waiting for it closes the window in
        # which a publish would reach Redis before the subscription does.
        await pubsub.get_message(timeout=5.0)
        return _RedisSubscription(pubsub)

    async def ping(self) -> bool:
        """Whether Redis answers (readiness)."""
        return bool(await self._redis.ping())

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
