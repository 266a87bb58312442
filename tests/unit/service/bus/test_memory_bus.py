"""The in-process bus: fan-out per channel, wake-ups kept between waits and coalesced,
publishing from another thread, unsubscribing, and the timeout when nothing comes.

Coroutines run under `asyncio.run` inside plain tests (no pytest-asyncio). `WAKE_S` only bounds
waits that must succeed; `QUIET_S` is how long a wait that must time out listens.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from service.bus import JOBS_CHANNEL, MemoryBus, job_channel, make_bus
from service.config import Settings

T = TypeVar("T")
WAKE_S = 5.0
QUIET_S = 0.05


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def test_publish_wakes_every_subscriber_of_the_channel_and_no_other() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        first = await bus.subscribe(job_channel("a"))
        second = await bus.subscribe(job_channel("a"))
        other_job = await bus.subscribe(job_channel("b"))
        jobs = await bus.subscribe(JOBS_CHANNEL)

        await bus.publish(job_channel("a"))

        assert await first.wait(WAKE_S)
        assert await second.wait(WAKE_S)
        assert not await other_job.wait(QUIET_S)
        assert not await jobs.wait(QUIET_S)

    run(scenario())


def test_a_wake_up_published_before_wait_is_not_lost() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        subscription = await bus.subscribe(JOBS_CHANNEL)
        await bus.publish(JOBS_CHANNEL)
        # Let the wake-up land before anyone waits: it must be kept, not dropped.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert await subscription.wait(WAKE_S)

    run(scenario())


def test_several_publishes_coalesce_into_one_wake_up() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        subscription = await bus.subscribe(job_channel("j"))
        for _ in range(3):
            await bus.publish(job_channel("j"))
        bus.publish_nowait(job_channel("j"))

        assert await subscription.wait(WAKE_S)
        assert not await subscription.wait(QUIET_S)
        # Coalescing swallowed the burst, not later wake-ups.
        await bus.publish(job_channel("j"))
        assert await subscription.wait(WAKE_S)

    run(scenario())


def test_publish_from_another_thread_wakes_a_blocked_asyncio_waiter() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        subscription = await bus.subscribe(job_channel("t"))
        waiter = asyncio.create_task(subscription.wait(WAKE_S))
        await asyncio.sleep(0)
        assert not waiter.done()  # blocked in the loop, so the thread must wake the loop

        def publish_later() -> None:
            time.sleep(0.05)  # so the loop is likely asleep in its selector, not spinning
            bus.publish_nowait(job_channel("t"))

        publisher = threading.Thread(target=publish_later)
        publisher.start()
        try:
            assert await waiter
        finally:
            publisher.join()

    run(scenario())


def test_publish_from_another_thread_before_wait_is_not_lost() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        subscription = await bus.subscribe(JOBS_CHANNEL)
        publisher = threading.Thread(target=bus.publish_nowait, args=(JOBS_CHANNEL,))
        publisher.start()
        publisher.join()
        assert await subscription.wait(WAKE_S)

    run(scenario())


def test_close_unsubscribes() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        channel = job_channel("c")
        first = await bus.subscribe(channel)
        second = await bus.subscribe(channel)
        assert bus.subscriber_count(channel) == 2

        await first.close()
        assert bus.subscriber_count(channel) == 1
        await bus.publish(channel)
        assert await second.wait(WAKE_S)

        await second.close()
        assert bus.subscriber_count(channel) == 0
        await second.close()  # closing twice is harmless
        assert bus.subscriber_count(channel) == 0
        await bus.publish(channel)  # nobody listens: a no-op
        await bus.close()

    run(scenario())


def test_wait_times_out_with_false_when_nothing_is_published() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        subscription = await bus.subscribe(JOBS_CHANNEL)
        assert not await subscription.wait(QUIET_S)
        assert not await subscription.wait(0)

    run(scenario())


def test_publish_after_the_subscribers_loop_ended_does_not_raise() -> None:
    # A solver thread may publish after the loop of a subscriber that never closed is gone.
    bus = MemoryBus()

    async def subscribe() -> None:
        await bus.subscribe(JOBS_CHANNEL)

    run(subscribe())
    assert bus.subscriber_count(JOBS_CHANNEL) == 1
    bus.publish_nowait(JOBS_CHANNEL)


def test_make_bus_without_redis_url_is_the_memory_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETROSPECT_REDIS_URL", raising=False)
    assert isinstance(make_bus(Settings()), MemoryBus)
