"""Bounded concurrent fetching for a tap whose streams sync one at a time.

singer-sdk syncs streams and partitions sequentially. The tap still fetches independent
listings (one project's tasks, one task's stories) in worker threads, while the main
thread consumes the results in input order, so records are emitted deterministically and
bookmarks advance exactly as in a sequential run.
"""

from __future__ import annotations

import queue
import threading
import time
import typing as t
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

_Item = t.TypeVar("_Item")
_Result = t.TypeVar("_Result")


class RequestLimiter:
    """Cap concurrent requests and pace them to a number per minute.

    Every HTTP request of the tap, retries included, takes one slot while it is in
    flight. A rate-limit response can also pause every thread until a given time, so that
    workers do not keep sending requests that Asana will reject (rejected requests still
    count against Asana's per-minute quota).
    """

    def __init__(self, max_concurrent: int, max_per_minute: int | None = None) -> None:
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._interval = 60.0 / max_per_minute if max_per_minute else 0.0
        self._lock = threading.Lock()
        self._next_start = 0.0
        self._paused_until = 0.0

    def pause_until(self, deadline: float) -> None:
        """Hold back new requests of every thread until `deadline` (time.monotonic)."""
        with self._lock:
            self._paused_until = max(self._paused_until, deadline)

    def _wait_for_turn(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start, self._paused_until)
            self._next_start = start + self._interval
        if start > now:
            time.sleep(start - now)

    def __enter__(self) -> RequestLimiter:
        self._slots.acquire()
        try:
            self._wait_for_turn()
        except BaseException:
            self._slots.release()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._slots.release()


def ordered_map(
    function: t.Callable[[_Item], _Result],
    items: t.Iterable[_Item],
    *,
    workers: int,
) -> t.Iterator[tuple[_Item, _Result]]:
    """Yield `(item, function(item))` in input order, computing up to `workers` at once.

    At most `2 * workers` results are computed ahead of the consumer, which bounds
    memory whatever the number of items. An exception raised by `function` is raised
    here when its item's turn comes; results for earlier items are yielded first.
    """
    window = max(1, 2 * workers)
    pending: deque[tuple[_Item, Future[_Result]]] = deque()
    iterator = iter(items)
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tap-asana")
    try:
        for item in iterator:
            pending.append((item, executor.submit(function, item)))
            if len(pending) >= window:
                break
        while pending:
            item, future = pending.popleft()
            result = future.result()
            next_item = next(iterator, _EXHAUSTED)
            if next_item is not _EXHAUSTED:
                pending.append((next_item, executor.submit(function, next_item)))  # type: ignore[arg-type]
            yield item, result
    finally:
        # Also reached when the consumer stops early or an item failed: drop the rest.
        executor.shutdown(wait=True, cancel_futures=True)


_EXHAUSTED = object()


class _Failure:
    """An exception raised by a producer, passed to the consumer in its place."""

    def __init__(self, exception: BaseException) -> None:
        self.exception = exception


_DONE = object()


def ordered_chunks(
    produce: t.Callable[[_Item], t.Iterable[bytes]],
    items: t.Iterable[_Item],
    *,
    workers: int,
    max_buffered_bytes: int,
) -> t.Iterator[tuple[_Item, t.Iterator[bytes]]]:
    """Yield `(item, chunks)` in input order while producers run concurrently.

    `produce(item)` runs in a worker thread; only `workers` items run at once. Items
    ahead of the consumer may hold at most `max_buffered_bytes` of chunks together,
    however long their listings are. The item being consumed is exempt from that limit,
    so it can always make progress. Each `chunks` iterator must be consumed before the
    next pair is requested; whatever is left of it is then drained. An exception in
    `produce` is raised from `chunks` after the chunks before it.
    """
    stop = threading.Event()
    budget = _ByteBudget(max_buffered_bytes)
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tap-asana")
    pending: deque[_Channel] = deque()
    iterator = iter(items)

    def run(channel: _Channel) -> None:
        try:
            for chunk in produce(channel.item):
                reserved = budget.reserve(len(chunk), channel.is_head, stop)
                if reserved is None:
                    return
                channel.chunks.put((chunk, reserved))
        except BaseException as exc:
            channel.chunks.put((_Failure(exc), 0))
            return
        channel.chunks.put((_DONE, 0))

    def submit_next() -> None:
        item = next(iterator, _EXHAUSTED)
        if item is not _EXHAUSTED:
            channel = _Channel(item)
            executor.submit(run, channel)
            pending.append(channel)

    def drain(channel: _Channel) -> t.Iterator[bytes]:
        channel.is_head.set()
        budget.wake()
        while True:
            value, reserved = channel.chunks.get()
            budget.release(reserved)
            if value is _DONE:
                return
            if isinstance(value, _Failure):
                raise value.exception
            yield value

    try:
        for _ in range(max(1, workers)):
            submit_next()
        while pending:
            channel = pending.popleft()
            chunks = drain(channel)
            yield channel.item, chunks
            for _chunk in chunks:
                pass
            submit_next()
    finally:
        stop.set()
        budget.wake()
        executor.shutdown(wait=True, cancel_futures=True)


class _ByteBudget:
    """Bytes that producers ahead of the consumer may buffer together."""

    def __init__(self, limit: int) -> None:
        self._limit = max(1, limit)
        self._used = 0
        self._changed = threading.Condition()

    def reserve(
        self, size: int, exempt: threading.Event, stop: threading.Event
    ) -> int | None:
        """Wait for room for `size` bytes; return the bytes reserved, or None if stopped.

        Nothing is reserved once `exempt` is set, or for a chunk larger than the
        whole budget when nothing else is buffered.
        """
        with self._changed:
            while True:
                if stop.is_set():
                    return None
                if exempt.is_set():
                    return 0
                if self._used + size <= self._limit or self._used == 0:
                    self._used += size
                    return size
                self._changed.wait()

    def release(self, size: int) -> None:
        """Return `size` reserved bytes to the budget."""
        if size:
            with self._changed:
                self._used -= size
                self._changed.notify_all()

    def wake(self) -> None:
        """Make waiting producers check their exemption and the stop flag again."""
        with self._changed:
            self._changed.notify_all()


class _Channel:
    """One item's chunks on their way from its worker thread to the consumer."""

    def __init__(self, item: t.Any) -> None:
        self.item = item
        self.chunks: queue.SimpleQueue = queue.SimpleQueue()
        # Set when the consumer reaches this item: from then on it ignores the budget.
        self.is_head = threading.Event()
