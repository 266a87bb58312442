"""Adapter downloads with `Range` through a real uvicorn (SQLite and Postgres): a valid range is
a 206, an invalid one is ignored (200, the whole file), one past the end is a 416 with
`Content-Range: bytes */N` in the documented JSON error shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from service.config import Settings
from service.engine.adapters import ADAPTER_FILE
from service.store import record_adapter
from service.store.status import utcnow
from tests.integration.service.api_hostile.conftest import app_for, in_store, solve_body
from tests.integration.service.api_hostile.test_live_server import served

ADAPTER_BYTES = bytes(range(256)) * 4


def publish_adapter(settings: Settings, job_id: str, directory: Path) -> None:
    directory.mkdir()
    (directory / ADAPTER_FILE).write_bytes(ADAPTER_BYTES)

    async def work(session: Any) -> None:
        await record_adapter(
            session, job_id, version=1, name="n-v1", int_id=1, path=str(directory),
            sha256="abc", now=utcnow(),
        )  # fmt: skip

    in_store(settings, work)


def test_ranges_as_http_says(database_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    with served(app_for(settings)) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
        job_id = c.post("/solve", json=solve_body()).json()["id"]
        publish_adapter(settings, job_id, tmp_path / "adapter-v1")
        url = f"/jobs/{job_id}/adapter"

        part = c.get(url, headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == ADAPTER_BYTES[10:20]
        assert part.headers["content-range"] == f"bytes 10-19/{len(ADAPTER_BYTES)}"
        for invalid in ("bytes=5-1", "bytes=abc", "bytes=-", "items=0-1", "bytes"):
            whole = c.get(url, headers={"Range": invalid})
            assert whole.status_code == 200, (invalid, whole.text)
            assert whole.content == ADAPTER_BYTES
        past = c.get(url, headers={"Range": f"bytes={len(ADAPTER_BYTES)}-"})
        assert past.status_code == 416
        assert past.headers["content-range"] == f"bytes */{len(ADAPTER_BYTES)}"
        assert past.headers["content-type"] == "application/json"
        assert past.json()["error"]["code"] == "range_not_satisfiable"
        assert past.json()["error"]["field"] == "Range"
