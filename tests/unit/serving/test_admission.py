"""Admission by pixels and by work (ocrops.serving.admission), on a clock the test moves."""

from __future__ import annotations

import pytest

from ocrops.errors import ErrorCode, OcropsError
from ocrops.serving.admission import MIN_BUSY_S, Admission, Shed, work_of

PAGE, LINE = 2_000_000, 12_800


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def admission(clock: Clock, deadline_s: float = 5.0, **kw) -> Admission:
    return Admission(kw.get("request_pixels", 100_000_000), kw.get("worker_pixels", 200_000_000), deadline_s,
                     small_pixels=1_000_000, clock=clock, on_idle=kw.get("on_idle"))


def serve_one(a: Admission, clock: Clock, pixels: list[int], seconds: float) -> None:
    ticket = a.admit(pixels)
    clock.now += seconds
    ticket.release()


def test_a_request_over_the_pixel_limit_is_refused_for_good():
    with pytest.raises(OcropsError) as refused:
        admission(Clock(), request_pixels=10_000_000).admit([5_000_000, 6_000_000])
    assert refused.value.code == ErrorCode.TOO_LARGE and not isinstance(refused.value, Shed)


def test_pixels_held_by_the_worker_shed_until_released():
    a = admission(Clock(), worker_pixels=60_000_000)
    held = [a.admit([25_000_000]), a.admit([25_000_000])]
    with pytest.raises(Shed) as shed:
        a.admit([25_000_000])
    assert shed.value.code == ErrorCode.QUEUE_FULL
    held[0].release()
    a.admit([25_000_000]).release()


def test_a_decode_left_running_keeps_its_pixels_until_it_ends():
    a = admission(Clock(), worker_pixels=30_000_000)
    ticket = a.admit([25_000_000])
    ticket.hold()  # a job on a thread
    ticket.release()  # the request answered at its deadline
    with pytest.raises(Shed):
        a.admit([25_000_000])
    ticket.release()  # the thread finished
    assert a.idle and a.pixels_held == 0
    a.admit([25_000_000])


def test_nothing_is_shed_for_time_before_the_rate_is_measured():
    clock = Clock()
    a = admission(clock, deadline_s=1)
    tickets = [a.admit([PAGE]) for _ in range(50)]  # far more than one second's work, if it were known
    assert len(tickets) == 50


def test_work_that_would_miss_the_deadline_is_shed_with_a_retry_after():
    clock = Clock()
    a = admission(clock, deadline_s=5)
    for _ in range(4):  # one page takes 0.5 s alone: the rate is measured
        serve_one(a, clock, [PAGE], 0.5)
    admitted = []
    with pytest.raises(Shed) as shed:
        for _ in range(40):
            admitted.append(a.admit([PAGE]))
    # five pages of half a second each fill half of the 5 s deadline
    assert 4 <= len(admitted) <= 5, len(admitted)
    assert shed.value.retry_after_s >= 1 and "deadline" in shed.value.message


def test_lines_are_not_held_up_by_pages_in_the_estimate():
    clock = Clock()
    a = admission(clock, deadline_s=5)
    for _ in range(4):
        serve_one(a, clock, [PAGE], 0.5)
        serve_one(a, clock, [LINE], 0.02)
    pages = []
    with pytest.raises(Shed):
        for _ in range(40):
            pages.append(a.admit([PAGE]))
    a.admit([LINE])  # the lines' own queue is empty
    assert 4 <= len(pages) <= 5, len(pages)


def test_small_pages_are_counted_with_pages_not_lines():
    """A small image read as a page (a TIFF of line-sized pages) costs a detection, far more than its pixels:
    counted with the lines, it made them look slow and every line was shed."""
    clock = Clock()
    a = admission(clock, deadline_s=5)
    for _ in range(10):
        serve_one(a, clock, [LINE], 0.02)
    assert a.meter_for([LINE], pages=True) is a.meters["large"]
    for _ in range(3):
        ticket = a.admit([LINE, LINE], pages=True)
        clock.now += 1.0  # two small pages detected while a PDF is read
        ticket.release()
    lines = [a.admit([LINE]) for _ in range(20)]  # the lines' rate is the lines' own
    assert len(lines) == 20


def test_a_request_that_would_wait_behind_nothing_is_admitted():
    """A rate measured low (a slow spell) is corrected only by work done: with nothing in flight, a request is
    let in, or every one would be shed until the measurement decays."""
    clock = Clock()
    a = admission(clock, deadline_s=5)
    serve_one(a, clock, [LINE], 20.0)  # one line took 20 s
    first = a.admit([LINE])  # nothing in flight: in, despite the estimate
    with pytest.raises(Shed):
        a.admit([LINE])  # behind it, 20 s: shed
    clock.now += 0.02
    first.release()
    a.admit([LINE]).release()
    assert a.meters["small"].rate > work_of([LINE]) / 20.0


def test_the_rate_follows_the_machine():
    clock = Clock()
    a = admission(clock)
    for _ in range(10):
        serve_one(a, clock, [PAGE], 1.0)
    slow = a.meters["large"].rate
    for _ in range(600):  # the machine got four times faster, for five half-lives
        serve_one(a, clock, [PAGE], 0.25)
    assert slow == pytest.approx(work_of([PAGE]) / 1.0, rel=0.05)
    assert a.meters["large"].rate == pytest.approx(work_of([PAGE]) / 0.25, rel=0.1)
    assert MIN_BUSY_S < 10


def test_idle_is_reported_once_the_last_ticket_goes():
    seen = []
    a = admission(Clock(), on_idle=seen.append)
    first, second = a.admit([LINE]), a.admit([PAGE])
    first.release()
    assert seen == []
    second.release()
    assert seen == [2] and a.idle
