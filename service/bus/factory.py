"""Pick the bus from settings: Redis when `RETROSPECT_REDIS_URL` is set, else in-process."""

from __future__ import annotations

from service.bus.base import Bus
from service.bus.memory import MemoryBus
from service.config import Settings


def make_bus(settings: Settings) -> Bus:
    """The bus for these settings."""
    if settings.redis_url is None:
        return MemoryBus()
    from service.bus.redis_bus import RedisBus

    return RedisBus(settings.redis_url, prefix=settings.redis_prefix)
