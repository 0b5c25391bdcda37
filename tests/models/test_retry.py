"""Provider errors, the retry loop, Retry-After parsing and the token buckets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from medmine.models.retry import (
    ProviderError,
    RateLimiter,
    RetryPolicy,
    call_with_retries,
    parse_retry_after,
)


class FakeTime:
    """A clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_error_kinds_and_retryable() -> None:
    assert ProviderError("rate_limit", "x", 429).retryable
    assert ProviderError("server", "x", 503).retryable
    assert ProviderError("timeout", "x").retryable
    assert not ProviderError("client", "x", 400).retryable
    assert not ProviderError("quota", "x", 429).retryable
    assert str(ProviderError("server", "boom", 502)) == "server (HTTP 502): boom"
    with pytest.raises(ValueError, match="unknown provider error kind"):
        ProviderError("weird", "x")  # type: ignore[arg-type]


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("5", milliseconds="250") == 0.25
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None


async def test_retries_until_success_with_exponential_backoff() -> None:
    clock = FakeTime()
    policy = RetryPolicy(max_attempts=5, initial_s=1.0, max_s=3.0, jitter=False, sleep=clock.sleep)
    calls: list[int] = []
    seen: list[tuple[int, str, float]] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise ProviderError("server", "503", 503)
        return "ok"

    result = await call_with_retries(flaky, policy, lambda n, e, w: seen.append((n, e.kind, w)))
    assert result == "ok" and len(calls) == 4
    assert clock.sleeps == [1.0, 2.0, 3.0]  # doubled, capped at max_s
    assert seen == [(1, "server", 1.0), (2, "server", 2.0), (3, "server", 3.0)]


async def test_retry_after_wins_and_is_capped() -> None:
    clock = FakeTime()
    policy = RetryPolicy(max_attempts=3, initial_s=1.0, max_s=10.0, sleep=clock.sleep)
    errors = [
        ProviderError("rate_limit", "a", 429, retry_after=4.0),
        ProviderError("rate_limit", "b", 429, retry_after=99.0),
    ]

    async def limited() -> str:
        if errors:
            raise errors.pop(0)
        return "ok"

    assert await call_with_retries(limited, policy) == "ok"
    assert clock.sleeps == [4.0, 10.0]


async def test_non_retryable_and_exhausted_raise_last_error() -> None:
    clock = FakeTime()
    policy = RetryPolicy(max_attempts=3, initial_s=0.5, jitter=False, sleep=clock.sleep)
    attempts: list[int] = []

    async def bad_request() -> None:
        attempts.append(1)
        raise ProviderError("client", "bad", 400)

    with pytest.raises(ProviderError, match="bad"):
        await call_with_retries(bad_request, policy)
    assert len(attempts) == 1 and clock.sleeps == []

    async def always_down() -> None:
        attempts.append(1)
        raise ProviderError("connection", f"down {len(attempts)}")

    with pytest.raises(ProviderError, match="down 4"):
        await call_with_retries(always_down, policy)
    assert len(attempts) == 4 and clock.sleeps == [0.5, 1.0]


async def test_other_exceptions_propagate_at_once() -> None:
    async def broken() -> None:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        await call_with_retries(broken, RetryPolicy(sleep=FakeTime().sleep))


def test_jitter_stays_within_the_backoff() -> None:
    policy = RetryPolicy(initial_s=2.0, max_s=5.0, jitter=True)
    waits = [policy.backoff(3) for _ in range(200)]
    assert all(0.0 <= w <= 5.0 for w in waits) and len(set(waits)) > 100
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


async def test_rate_limiter_requests_per_minute() -> None:
    t = FakeTime()
    limiter = RateLimiter(requests_per_minute=2, clock=t.clock, sleep=t.sleep)
    assert await limiter.acquire() == 0.0
    assert await limiter.acquire() == 0.0
    waited = await limiter.acquire()  # bucket empty: one request refills in 30 s
    assert waited == pytest.approx(30.0) and t.now == pytest.approx(30.0)


async def test_rate_limiter_tokens_per_minute_and_settle() -> None:
    t = FakeTime()
    limiter = RateLimiter(tokens_per_minute=6000, clock=t.clock, sleep=t.sleep)
    await limiter.acquire(5000)
    waited = await limiter.acquire(3000)  # 1000 left; 2000 more take 20 s at 100/s
    assert waited == pytest.approx(20.0)
    limiter.settle(estimated=3000, actual=1000)  # refund 2000 unused tokens
    assert await limiter.acquire(2000) == 0.0
    huge = await limiter.acquire(10**6)  # larger than the bucket: waits for a full bucket
    assert huge == pytest.approx(60.0)
    with pytest.raises(ValueError, match="requests_per_minute"):
        RateLimiter(requests_per_minute=0)
