"""API keys: the plaintext is found by its hash; anything else finds nothing."""

from __future__ import annotations

from service.store import create_api_key, find_api_key
from tests.integration.service.store.helpers import T0, Sessions, run


def test_a_created_key_is_found_by_its_plaintext_only(db_url: str) -> None:
    async def scenario(sessions: Sessions) -> None:
        async with sessions.begin() as session:
            key, plaintext = await create_api_key(session, "ci", now=T0)
        async with sessions() as session:
            found = await find_api_key(session, plaintext)
            assert found is not None and found.id == key.id
            assert await find_api_key(session, plaintext + "x") is None

    run(db_url, scenario)
