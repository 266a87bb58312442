"""A hub model id (`org/name`, optionally `@revision`) as one local snapshot folder.

The hub's own client does it, in its own cache (`HF_HOME`, `HF_HUB_CACHE`): it downloads what
is missing, or with `HF_HUB_OFFLINE=1` returns the snapshot already there. The plan, the
learner and vLLM then all load that one folder, never the id again.
"""

from __future__ import annotations

import re
from pathlib import Path

from huggingface_hub import constants, snapshot_download
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from service.engine.errors import ModelNotFoundError

# What the hub accepts as a repository id: `org/name`, letters, digits, `-_.`, no `--` or `..`.
HUB_ID = re.compile(
    r"^(?P<repo>[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95})(@(?P<rev>[\w./-]+))?$"
)
# Only the files a causal LM needs: never the other formats a repository may also carry.
WEIGHT_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken", "*.jinja"]


def is_hub_id(name: str) -> bool:
    match = HUB_ID.match(name)
    return match is not None and ".." not in name and "--" not in match["repo"]


def snapshot(name: str) -> Path:
    """The local folder of hub model `name`; a clear error when it cannot be had."""
    match = HUB_ID.match(name)
    if match is None:
        raise ModelNotFoundError(f"model {name!r} is not a hub id (org/name[@revision])")
    repo, revision = match["repo"], match["rev"]
    offline = bool(constants.HF_HUB_OFFLINE)
    try:
        folder = snapshot_download(
            repo, revision=revision, local_files_only=offline, allow_patterns=WEIGHT_PATTERNS
        )
    except LocalEntryNotFoundError as exc:
        where = "with HF_HUB_OFFLINE=1" if offline else "and the hub could not be reached"
        raise ModelNotFoundError(
            f"model {name!r} is not in the hub cache {constants.HF_HUB_CACHE} {where}: "
            f"download it first (`hf download {repo}`) or point HF_HOME at a cache that has it"
        ) from exc
    except (RepositoryNotFoundError, RevisionNotFoundError, GatedRepoError) as exc:
        raise ModelNotFoundError(f"model {name!r}: {type(exc).__name__} on the hub") from exc
    except HfHubHTTPError as exc:
        raise ModelNotFoundError(f"model {name!r}: the hub answered {exc}") from exc
    path = Path(str(folder))
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(f"model {name!r}: its snapshot {path} has no config.json")
    return path
