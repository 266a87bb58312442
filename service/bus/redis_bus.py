"""The Redis bus of deployments: API replicas and workers in other processes or hosts.

Plain pub/sub suffices because messages are only wake-ups: a subscriber that was not
listening when a message went out finds the rows in the database on its next read.

One process holds one Redis subscription, whatever its number of streams: a listener task
pattern-subscribes to the deployment's prefix on one connection and fans each wake-up out in
memory (`MemoryBus`) to the local subscribers of its channel. Publishes share a small
blocking pool. So a process holds at most `max_publish_connections + 1` Redis connections,
however many SSE streams and WebSockets it serves.

The bus is never on a caller's commit path: a publish that Redis refuses is logged and
counted, not raised (the waiters re-read on their timeout), and while Redis is gone the
listener reconnects with a capped backoff, waking every local subscriber when it loses and
when it regains the connection, so each re-reads the database at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from service.bus.memory import MemoryBus, MemorySubscription

logger = logging.getLogger(__name__)
DEFAULT_PREFIX = "retrospect:"
MAX_PUBLISH_CONNECTIONS = 4
PUBLISH_WAIT_S = 2.0  # how long a publish waits for a pooled connection, or for Redis
CONNECT_TIMEOUT_S = 2.0
RECONNECT_MIN_S = 0.2
RECONNECT_MAX_S = 5.0
_DOWN = (RedisError, OSError)


class RedisBus:
    """Channels are `prefix + channel`, so several deployments (or tests) share one Redis.

    Every connection is named `client_name` (default: the prefix + `bus`), so an operator
    (or a test) finds this deployment's connections in `CLIENT LIST`."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        max_publish_connections: int = MAX_PUBLISH_CONNECTIONS,
        client_name: str | None = None,
    ) -> None:
        self._url, self._prefix = url, prefix
        self._client_name = client_name or f"{prefix}bus"
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_publish_connections,
            timeout=PUBLISH_WAIT_S,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=PUBLISH_WAIT_S,
            client_name=self._client_name,
        )
        self._redis = Redis.from_pool(pool)
        self._local = MemoryBus()
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()  # set while the pattern subscription is confirmed
        self._down = False  # the listener's last try failed: a subscribe waits for nothing
        self.failed_publishes = 0

    async def publish(self, channel: str) -> None:
        """Wake every subscriber of `channel`, in any process; best-effort (see the module)."""
        try:
            await self._redis.publish(self._prefix + channel, b"1")
        except _DOWN as exc:
            self.failed_publishes += 1
            logger.warning(
                "bus publish on %s failed (%r); waiters re-read on timeout", channel, exc
            )

    async def subscribe(self, channel: str) -> MemorySubscription:
        """Start listening; returns once the process's Redis subscription is confirmed, or at
        once while Redis is gone (the subscriber then re-reads on its timeout)."""
        subscription = await self._local.subscribe(channel)
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(), name="retrospect-bus-listener")
        if not self._down:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._listening.wait(), CONNECT_TIMEOUT_S * 2)
        return subscription

    def subscriber_count(self, channel: str) -> int:
        """How many local subscribers `channel` has (tests check that streams unsubscribe)."""
        return self._local.subscriber_count(channel)

    async def _listen(self) -> None:
        delay_s = RECONNECT_MIN_S
        while True:
            try:
                await self._listen_once()
            except _DOWN as exc:
                if not self._down:
                    logger.warning("bus subscription lost (%r); streams re-read meanwhile", exc)
            self._listening.clear()
            self._down = True
            self._local.wake_all()  # whatever was published meanwhile, the database has
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, RECONNECT_MAX_S)

    async def _listen_once(self) -> None:
        client = Redis.from_url(
            self._url, socket_connect_timeout=CONNECT_TIMEOUT_S, client_name=self._client_name
        )
        pubsub: PubSub = client.pubsub()
        try:
            await pubsub.psubscribe(self._prefix + "*")
            await pubsub.get_message(timeout=CONNECT_TIMEOUT_S)  # the confirmation
            self._listening.set()
            if self._down:  # wake-ups published while it was gone are lost: re-read now
                logger.info("bus subscription restored")
                self._down = False
                self._local.wake_all()
            async for message in pubsub.listen():
                if message["type"] == "pmessage":
                    self._local.publish_nowait(self._channel_of(message["channel"]))
        finally:
            aclose: Callable[[], Awaitable[None]] = pubsub.aclose
            with contextlib.suppress(*_DOWN):
                await aclose()
            with contextlib.suppress(*_DOWN):
                await client.aclose()

    def _channel_of(self, raw: bytes) -> str:
        return raw.decode()[len(self._prefix) :]

    async def ping(self) -> bool:
        """Whether Redis answers and this process's subscription stands (readiness)."""
        answered = bool(await self._redis.ping())
        # Nothing subscribed yet (an API without streams): the ping alone says Redis is usable.
        return answered and (self._listener is None or self._listening.is_set())

    async def close(self) -> None:
        """Stop listening and close the publish pool."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._redis.aclose()
