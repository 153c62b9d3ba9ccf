"""Where a request's image work runs: bounded thread pools of the API worker's own, never its event loop (one
slow decode there stalls every client) nor the default executor (BentoML and Starlette read uploads there).

Small images (a text line, a thumbnail) have a lane of their own, so decodes of large images, hostile or
not, never hold up a line; large images and page detection share ``serve.decode_threads``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ocrops.serving.admission import Ticket

SMALL_PIXELS = 1_000_000
SMALL_THREADS = 2
T = TypeVar("T")


class Lanes:
    def __init__(self, threads: int) -> None:
        self.small = ThreadPoolExecutor(SMALL_THREADS, thread_name_prefix="ocrops-small")
        self.large = ThreadPoolExecutor(threads, thread_name_prefix="ocrops-large")

    def for_pixels(self, pixels: int) -> ThreadPoolExecutor:
        return self.small if pixels <= SMALL_PIXELS else self.large

    async def run(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any, ticket: Ticket | None = None
                  ) -> T:
        """``fn(*args)`` on ``pool``. Cancelled (a deadline), a job not yet started is dropped; a running one
        finishes, and ``ticket`` keeps its memory counted until it has."""
        loop = asyncio.get_running_loop()
        future = pool.submit(fn, *args)
        if ticket is not None:
            ticket.hold()
            future.add_done_callback(lambda _: _call_soon(loop, ticket.release))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        for pool in (self.small, self.large):
            pool.shutdown(wait=False, cancel_futures=True)


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[[], None]) -> None:
    try:
        loop.call_soon_threadsafe(fn)
    except RuntimeError:  # the loop is closed: the worker is shutting down
        pass

