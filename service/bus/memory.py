"""The in-process bus of the embedded default: API and worker share one process."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import defaultdict


class MemorySubscription:
    """One local listener; `notify` may be called from any thread."""

    def __init__(self, bus: MemoryBus, channel: str) -> None:
        self._bus, self._channel = bus, channel
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def notify(self) -> None:
        # Publishers may run on another thread or loop (the solver's thread); hop to ours.
        # A subscriber whose loop ended without closing the subscription hears nothing more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._event.set)

    async def wait(self, timeout_s: float) -> bool:
        if self._event.is_set():
            self._event.clear()
            return True
        try:
            await asyncio.wait_for(self._event.wait(), timeout_s)
        except TimeoutError:
            return False
        self._event.clear()
        return True

    async def close(self) -> None:
        self._bus.unsubscribe(self._channel, self)


class MemoryBus:
    """Subscribers keyed by channel, woken in-process; safe to publish from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[MemorySubscription]] = defaultdict(set)

    async def publish(self, channel: str) -> None:
        """Wake every subscriber of `channel`."""
        self.publish_nowait(channel)

    def publish_nowait(self, channel: str) -> None:
        """`publish` for synchronous callers."""
        with self._lock:
            subscribers = list(self._subscribers.get(channel, ()))
        for subscription in subscribers:
            subscription.notify()

    async def subscribe(self, channel: str) -> MemorySubscription:
        """Start listening on `channel`."""
        subscription = MemorySubscription(self, channel)
        with self._lock:
            self._subscribers[channel].add(subscription)
        return subscription

    def wake_all(self) -> None:
        """Wake every subscriber of every channel (the Redis bus, when wake-ups may be lost)."""
        with self._lock:
            subscribers = [s for listeners in self._subscribers.values() for s in listeners]
        for subscription in subscribers:
            subscription.notify()

    def unsubscribe(self, channel: str, subscription: MemorySubscription) -> None:
        """Forget one subscriber."""
        with self._lock:
            listeners = self._subscribers.get(channel)
            if listeners is not None:
                listeners.discard(subscription)
                if not listeners:
                    del self._subscribers[channel]

    def subscriber_count(self, channel: str) -> int:
        """How many listen on `channel` (tests check that streams unsubscribe)."""
        with self._lock:
            return len(self._subscribers.get(channel, ()))

    async def close(self) -> None:
        """Nothing to release."""
