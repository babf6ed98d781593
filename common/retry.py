"""How long to wait before trying an outside service again.

Exponential backoff with *full jitter*: the wait before retry n is drawn uniformly from
[0, min(cap, base · 2ⁿ)]. Many jobs failing together against one receiver (a tracker that
went down, a webhook endpoint restarting) then come back spread over the whole interval
instead of together, so a service that is recovering is not knocked over again.
"""

from __future__ import annotations

import random


def full_jitter(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait before retry number `attempt + 1` (`attempt` 0 after the first failure)."""
    ceiling = min(cap, base * 2 ** min(max(attempt, 0), 62))
    return (rng or random).uniform(0, ceiling)
