"""Retries against outside services wait a full-jitter exponential delay, never above the cap."""

from __future__ import annotations

import random

from common.retry import full_jitter


def test_each_wait_lies_between_zero_and_the_capped_exponential_ceiling():
    rng = random.Random(7)
    for attempt in range(12):
        ceiling = min(300, 2 * 2**attempt)
        waits = [full_jitter(attempt, base=2, cap=300, rng=rng) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        # Full jitter: the draws spread over the interval instead of clustering at its top.
        assert min(waits) < ceiling * 0.2
        assert max(waits) > ceiling * 0.8


def test_a_huge_attempt_number_stays_at_the_cap():
    assert full_jitter(10_000, base=2, cap=300, rng=random.Random(1)) <= 300
