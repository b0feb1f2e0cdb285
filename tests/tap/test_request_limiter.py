"""RequestLimiter: requests in flight, pacing per minute and pauses after a rate limit.

The clock and sleep of tap_asana.concurrency are replaced by a fake clock, so the pacing is
checked exactly and without waiting.
"""

from __future__ import annotations

import itertools
import threading
from types import SimpleNamespace

import pytest
from tap_asana import concurrency
from tap_asana.concurrency import RequestLimiter


class FakeClock:
    """A monotonic clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    # Only the module under test uses the fake clock.
    fake_time = SimpleNamespace(monotonic=fake.monotonic, sleep=fake.sleep)
    monkeypatch.setattr(concurrency, "time", fake_time)
    return fake


def start_times(limiter: RequestLimiter, clock: FakeClock, count: int) -> list[float]:
    starts = []
    for _ in range(count):
        with limiter:
            starts.append(clock.now)
    return starts


def test_requests_per_minute_are_spaced_evenly(clock: FakeClock) -> None:
    limiter = RequestLimiter(max_concurrent=4, max_per_minute=120)

    starts = start_times(limiter, clock, 5)

    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert gaps == pytest.approx([0.5, 0.5, 0.5, 0.5])
    assert starts[0] == 1000.0


def test_without_a_per_minute_limit_nothing_waits(clock: FakeClock) -> None:
    limiter = RequestLimiter(max_concurrent=4)

    start_times(limiter, clock, 20)

    assert clock.sleeps == []


def test_pause_holds_back_the_next_request(clock: FakeClock) -> None:
    limiter = RequestLimiter(max_concurrent=4, max_per_minute=600)
    start_times(limiter, clock, 1)

    limiter.pause_until(clock.now + 30)
    # An earlier deadline does not shorten a pause already set.
    limiter.pause_until(clock.now + 5)
    starts = start_times(limiter, clock, 2)

    assert starts[0] == pytest.approx(1030.0)
    assert starts[1] - starts[0] == pytest.approx(0.1)


def test_slots_bound_requests_in_flight() -> None:
    limiter = RequestLimiter(max_concurrent=2)
    inside = 0
    peak = 0
    lock = threading.Lock()
    release = threading.Event()

    def request() -> None:
        nonlocal inside, peak
        with limiter:
            with lock:
                inside += 1
                peak = max(peak, inside)
            release.wait(5)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    # Let every thread reach the limiter, then let them all finish.
    threading.Event().wait(0.3)
    with lock:
        waiting_inside = inside
    release.set()
    for thread in threads:
        thread.join(10)

    assert waiting_inside == 2
    assert peak == 2
    assert inside == 0
