"""API keys: issue one (shown once), list and revoke them, and find the live key behind a
bearer token."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.store.models import ApiKey

KEY_PREFIX = "rsk_"  # so a leaked key is recognisable in logs and secret scanners


def hash_key(plaintext: str) -> str:
    """The SHA-256 that the table stores instead of the key."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


async def create_api_key(session: AsyncSession, name: str, *, now: datetime) -> tuple[ApiKey, str]:
    """A new key row and the plaintext key, which is never stored."""
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(id=str(uuid.uuid4()), name=name, key_sha256=hash_key(plaintext), created_at=now)
    session.add(row)
    await session.flush()
    return row, plaintext


async def find_api_key(session: AsyncSession, plaintext: str) -> ApiKey | None:
    """The unrevoked key whose hash matches, or None."""
    query = select(ApiKey).where(
        ApiKey.key_sha256 == hash_key(plaintext), ApiKey.revoked_at.is_(None)
    )
    return (await session.scalars(query)).one_or_none()


async def list_api_keys(session: AsyncSession) -> Sequence[ApiKey]:
    """Every key, oldest first (revoked ones included, with their `revoked_at`)."""
    return (await session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id))).all()


async def revoke_api_key(session: AsyncSession, key_id: str, *, now: datetime) -> ApiKey | None:
    """Revoke the key `key_id` (a key revoked already keeps its first `revoked_at`); None if
    there is no such key."""
    row = await session.get(ApiKey, key_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
        await session.flush()
    return row


async def key_is_live(session: AsyncSession, key_id: str) -> bool:
    """Whether the key `key_id` exists and is not revoked."""
    query = select(ApiKey.id).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
    return (await session.scalar(query)) is not None
