"""The one list of strategy names.

`strategies.REGISTRY` gives each its builder and summary, and every other list of names (the
API's schema, the CLI's help and checks) derives from these. They live apart from the
strategies so that the request, which names one, need not import the strategies, which are
built from the spec that holds the request.
"""

from __future__ import annotations

from typing import Literal

StrategyName = Literal["sdpo", "best_of_k", "multi_turn"]
DEFAULT_STRATEGY: StrategyName = "sdpo"
