"""Admission by work: a request is let in when this API worker can hold its images and answer it in time.

Decided from the images' headers, before a pixel is decoded:

- **pixels**, the memory a request costs: one request's (``serve.max_request_pixels``; over it: 5001, it will
  never fit) and all a worker holds at once (``serve.max_worker_pixels``; over it: 5030, retry later);
- **time**: the work admitted and not yet done, divided by the rate this worker has been getting work done, is
  how long a new request would take. Past half of ``serve.timeout_s`` it risks timing out after holding its
  place, so it is shed at once (5030 + Retry-After): a page costs as much as dozens of lines, and a queue
  bound in requests alone lets pages time out instead of being shed.

Work is counted in megapixels plus a share per image (a line's fixed costs), apart for lines and pages:
requests of small images read as lines, and requests with a page (a large image, or any image read as a page:
a document's pages, a small page), so that pages, hostile ones included, never make a line wait in the
estimate either, and a small page's detection does not pass for slow lines. The rate is measured, not set:
work done per second of busy time, both decayed with a half-life, so it follows the machine and the mix of
requests. Until half a second of busy time is measured (a fresh worker), nothing is shed for time; nor is a
request that would wait behind nothing (the rate is only corrected by work done: shedding it would shed every
request until the measurement had decayed away).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from ocrops.errors import ErrorCode, OcropsError

PER_IMAGE_MPX = 0.05  # a line (320x40 px) costs as much again as its pixels: decoding, a hop, an engine call
HALF_LIFE_S = 10.0  # the rate follows a machine that slows down (another process) within seconds
MIN_BUSY_S = 0.5  # busy time measured before the rate is trusted
# a request is admitted while its estimated time is within this share of the deadline: the estimate is the
# recent rate, and the machine may slow down under the admitted work (another process, a noisy neighbour)
DEADLINE_SHARE = 0.5


def work_of(pixels: Sequence[int]) -> float:
    return sum(p / 1e6 + PER_IMAGE_MPX for p in pixels)


class Meter:
    """Work in flight and the rate work gets done, for one kind of request."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.in_flight = 0.0
        self._done = 0.0  # work done, decayed
        self._busy = 0.0  # seconds with work in flight, decayed alike
        self._last = clock()

    def _advance(self, done: float = 0.0) -> None:
        """Time up to now: busy while work was in flight, ``done`` finished in it; then both decay alike."""
        now = self.clock()
        elapsed, self._last = max(0.0, now - self._last), now
        if self.in_flight > 0:
            self._busy += elapsed
        self._done += done
        decay = 0.5 ** (elapsed / HALF_LIFE_S)
        self._done *= decay
        self._busy *= decay

    @property
    def rate(self) -> float | None:
        """Work done per busy second lately; None until enough was seen."""
        self._advance()
        return self._done / self._busy if self._busy >= MIN_BUSY_S and self._done > 0 else None

    def wait_s(self, work: float = 0.0) -> float:
        """How long ``work`` admitted now would take, behind the work in flight."""
        rate = self.rate
        return 0.0 if rate is None else (self.in_flight + work) / rate

    def start(self, work: float) -> None:
        self._advance()
        self.in_flight += work

    def finish(self, work: float) -> None:
        self._advance(done=work)
        self.in_flight = max(0.0, self.in_flight - work)


class Ticket:
    """One admitted request's hold on its worker: its pixels and work, kept until the request has ended *and*
    every job it started on a thread has finished (a request answered at its deadline may leave a decode
    running: its memory and its lane are still in use)."""

    def __init__(self, admission: Admission, meter: Meter, pixels: int, work: float) -> None:
        self.admission, self.meter, self.pixels, self.work = admission, meter, pixels, work
        self._holds = 1  # the request itself

    def hold(self) -> None:
        self._holds += 1

    def release(self) -> None:
        self._holds -= 1
        if self._holds == 0:
            self.admission._released(self)

    async def __aenter__(self) -> Ticket:
        return self

    async def __aexit__(self, *exc) -> None:
        self.release()


class Admission:
    """Per API worker, used from its event loop only. ``small_pixels``: the largest image of the small lane."""

    def __init__(self, request_pixels: int, worker_pixels: int, deadline_s: float, small_pixels: int,
                 clock: Callable[[], float] = time.monotonic, on_idle: Callable[[int], None] | None = None) -> None:
        """``on_idle(admitted)``: called when the last request in hand ends, with the count admitted so far."""
        self.request_pixels, self.worker_pixels, self.deadline_s = request_pixels, worker_pixels, deadline_s
        self.small_pixels, self.on_idle = small_pixels, on_idle
        self.meters = {"small": Meter(clock), "large": Meter(clock)}
        self.pixels_held = 0
        self.held = 0  # tickets not yet released
        self.admitted = 0  # requests admitted so far (tells an idle moment from the next one)

    def meter_for(self, pixels: Sequence[int], pages: bool = False) -> Meter:
        return self.meters["large" if pages or any(p > self.small_pixels for p in pixels) else "small"]

    def admit(self, pixels: Sequence[int], retry_after_s: int = 1, pages: bool = False) -> Ticket:
        """A ticket for a request whose images declare ``pixels`` (``pages``: some are read as pages); 5001 or
        5030 (retry later) when it cannot be held or answered in time."""
        total = sum(pixels)
        if total > self.request_pixels:
            raise OcropsError(ErrorCode.TOO_LARGE, f"the request's images hold {total} pixels, more than the "
                                                   f"{self.request_pixels} one request may (serve.max_request_pixels)")
        if self.pixels_held + total > self.worker_pixels:
            raise Shed("server busy: too many pixels being read, retry later", retry_after_s)
        meter, work = self.meter_for(pixels, pages), work_of(pixels)
        wait = meter.wait_s(work)
        if wait > self.deadline_s * DEADLINE_SHARE and meter.in_flight > 0:
            raise Shed(f"server busy: a request admitted now would take ~{wait:.0f} s of its "
                       f"{self.deadline_s:g} s deadline; retry later",
                       max(retry_after_s, math.ceil(wait - self.deadline_s * DEADLINE_SHARE)))
        meter.start(work)
        self.pixels_held += total
        self.held += 1
        self.admitted += 1
        return Ticket(self, meter, total, work)

    @property
    def idle(self) -> bool:
        return self.held == 0

    def _released(self, ticket: Ticket) -> None:
        ticket.meter.finish(ticket.work)
        self.pixels_held -= ticket.pixels
        self.held -= 1
        if self.held == 0:
            for meter in self.meters.values():
                meter.in_flight = 0.0  # no float residue of many additions and subtractions
        if self.idle and self.on_idle is not None:
            self.on_idle(self.admitted)


class Shed(OcropsError):
    """5030 with the Retry-After the admission computed."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(ErrorCode.QUEUE_FULL, message)
        self.retry_after_s = retry_after_s
