"""The Redis bus against a real Redis: wake-ups cross connections and processes, prefixes keep
deployments apart, bursts coalesce, and `make_bus` picks Redis when a URL is set.

Each `RedisBus` owns its connections, so two buses stand for two processes (API and worker);
one test publishes from a real subprocess with redis-py's sync client. Every test uses its own
uuid channel prefix, so parallel runs sharing the Redis do not wake each other. Coroutines run
under `asyncio.run` inside plain tests (no pytest-asyncio).
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest
import redis
from redis.exceptions import RedisError

from service.bus import JOBS_CHANNEL, MemoryBus, job_channel, make_bus
from service.bus.redis_bus import RedisBus
from service.config import Settings
from tests.integration.service.databases import REDIS_URL

pytestmark = pytest.mark.redis

T = TypeVar("T")
WAKE_S = 10.0  # bounds waits that must succeed
QUIET_S = 0.3  # how long a wait that must time out listens
SETTLE_S = 0.2  # lets published wake-ups reach the subscriber's socket before it waits

PUBLISH_SCRIPT = "import sys, redis; redis.Redis.from_url(sys.argv[1]).publish(sys.argv[2], b'1')"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@pytest.fixture(scope="module")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5, socket_timeout=5)
    try:
        client.ping()
    except (OSError, RedisError) as exc:
        pytest.skip(
            f"Redis at {REDIS_URL} does not answer ({exc!r}); start it or set "
            "RETROSPECT_TEST_REDIS_URL"
        )
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def prefix() -> str:
    return f"retrospect-test:{uuid.uuid4().hex}:"


@asynccontextmanager
async def redis_bus(url: str, prefix: str) -> AsyncIterator[RedisBus]:
    bus = RedisBus(url, prefix=prefix)
    try:
        yield bus
    finally:
        await bus.close()


def test_a_publish_on_one_bus_wakes_a_subscriber_on_another(redis_url: str, prefix: str) -> None:
    async def scenario() -> None:
        async with redis_bus(redis_url, prefix) as api, redis_bus(redis_url, prefix) as worker:
            subscription = await api.subscribe(job_channel("x"))
            try:
                waiter = asyncio.create_task(subscription.wait(WAKE_S))
                await asyncio.sleep(0)
                await worker.publish(job_channel("x"))
                assert await waiter

                # Published while nobody waits: kept until the next wait.
                await worker.publish(job_channel("x"))
                await asyncio.sleep(SETTLE_S)
                assert await subscription.wait(WAKE_S)
            finally:
                await subscription.close()

    run(scenario())


def test_other_prefixes_and_channels_are_not_woken(redis_url: str, prefix: str) -> None:
    other_prefix = f"retrospect-test:{uuid.uuid4().hex}:"

    async def scenario() -> None:
        async with (
            redis_bus(redis_url, prefix) as publisher,
            redis_bus(redis_url, prefix) as ours,
            redis_bus(redis_url, other_prefix) as theirs,
        ):
            same = await ours.subscribe(job_channel("x"))
            other_channel = await ours.subscribe(JOBS_CHANNEL)
            other_deployment = await theirs.subscribe(job_channel("x"))
            try:
                await publisher.publish(job_channel("x"))
                # The same-prefix subscriber proves the message went out before the others listen.
                assert await same.wait(WAKE_S)
                assert not await other_deployment.wait(QUIET_S)
                assert not await other_channel.wait(QUIET_S)
            finally:
                for subscription in (same, other_channel, other_deployment):
                    await subscription.close()

    run(scenario())


def test_several_publishes_coalesce_into_one_wake_up(redis_url: str, prefix: str) -> None:
    async def scenario() -> None:
        async with redis_bus(redis_url, prefix) as api, redis_bus(redis_url, prefix) as worker:
            subscription = await api.subscribe(JOBS_CHANNEL)
            try:
                for _ in range(5):
                    await worker.publish(JOBS_CHANNEL)
                await asyncio.sleep(SETTLE_S)

                assert await subscription.wait(WAKE_S)
                assert not await subscription.wait(QUIET_S)
                # The drain swallowed the burst, not later wake-ups.
                await worker.publish(JOBS_CHANNEL)
                assert await subscription.wait(WAKE_S)
            finally:
                await subscription.close()

    run(scenario())


def test_wait_times_out_with_false_when_nothing_is_published(redis_url: str, prefix: str) -> None:
    async def scenario() -> None:
        async with redis_bus(redis_url, prefix) as bus:
            subscription = await bus.subscribe(JOBS_CHANNEL)
            try:
                assert not await subscription.wait(QUIET_S)
            finally:
                await subscription.close()

    run(scenario())


def test_ping_is_true(redis_url: str, prefix: str) -> None:
    async def scenario() -> bool:
        async with redis_bus(redis_url, prefix) as bus:
            return await bus.ping()

    assert run(scenario()) is True


def test_a_publish_from_another_process_wakes_the_subscriber(redis_url: str, prefix: str) -> None:
    async def scenario() -> None:
        async with redis_bus(redis_url, prefix) as bus:
            subscription = await bus.subscribe(job_channel("x"))
            try:
                waiter = asyncio.create_task(subscription.wait(WAKE_S))
                # The wire contract: channel `prefix + "job:<id>"`, any payload.
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-c",
                    PUBLISH_SCRIPT,
                    redis_url,
                    f"{prefix}job:x",
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                )
                output, _ = await asyncio.wait_for(process.communicate(), WAKE_S)
                assert process.returncode == 0, output.decode(errors="replace")
                assert await waiter
            finally:
                await subscription.close()

    run(scenario())


def test_make_bus_picks_redis_when_a_url_is_set(
    redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        bus = make_bus(Settings(redis_url=redis_url, redis_prefix=prefix))
        try:
            assert isinstance(bus, RedisBus)
            subscription = await bus.subscribe(JOBS_CHANNEL)
            try:
                async with redis_bus(redis_url, prefix) as other:
                    await other.publish(JOBS_CHANNEL)  # the settings' prefix is the one used
                assert await subscription.wait(WAKE_S)
            finally:
                await subscription.close()
        finally:
            await bus.close()

    run(scenario())
    monkeypatch.delenv("RETROSPECT_REDIS_URL", raising=False)
    assert isinstance(make_bus(Settings()), MemoryBus)
