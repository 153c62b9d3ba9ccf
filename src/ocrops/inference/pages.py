"""Reading what a request sends: a line image as it is, a page through detection -> crops -> the recognizer
in batches -> lines with boxes, post-processed per the request's switches.

One reader for every caller: the service (``read_async``, recognition in another process), evaluation, the
pyfunc and batch jobs (``read``, recognition in-process).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from PIL import Image

from ocrops.data.geometry import widen
from ocrops.errors import ErrorCode, OcropsError
from ocrops.inference import orientation
from ocrops.inference.types import Prediction
from ocrops.postprocess import Postprocessor

Mode = Literal["auto", "line", "page"]
# mode "auto": an image this short and this elongated is one text line (what the recognizer was trained on)
LINE_MAX_HEIGHT = 160
LINE_MIN_ASPECT = 2


def is_line(image: Image.Image) -> bool:
    return is_line_size(image.width, image.height)


def is_line_size(width: int, height: int) -> bool:
    """Whether an image of this size is a text line (read whole in ``auto`` mode), not a page."""
    return height <= LINE_MAX_HEIGHT and width >= LINE_MIN_ASPECT * height


@dataclass
class Region:
    box: list[list[float]]  # four corners in image pixels, clockwise from top-left
    crop: Image.Image


@dataclass
class Found:
    kind: str  # "line" | "page"
    regions: list[Region]
    size: tuple[int, int] = (0, 0)  # the image as read (turned upright): width, height
    rotation: int = 0  # degrees clockwise the image was turned to read it upright
    quads: list[np.ndarray] = field(default_factory=list, repr=False)  # a page's detected lines


def one_line(quads: Sequence[np.ndarray], grown: Sequence[np.ndarray], image: Image.Image,
             share: float = 0.9) -> bool:
    """Whether the quads found on a line-shaped image are one line across it: they share a band of rows and,
    with their margins (``grown``), together run across ``share`` of its width. Then that image is the line
    (DBNet splits a line at word gaps and misses its ends; the recognizer reads the whole line better than
    its pieces)."""
    if not quads or not is_line(image):
        return False
    shared_band = max(float(q[:, 1].min()) for q in quads) < min(float(q[:, 1].max()) for q in quads)
    return shared_band and bool(np.ptp(np.concatenate(grown)[:, 0]) >= share * (image.width - 1))


LOW_CONFIDENCE = 0.6  # a page's mean line confidence below this is worth a warning
TINY = 16  # pixels: an image this small on a side holds hardly a glyph


def doubts(found: Found, lines: list[dict]) -> list[dict]:
    """What the reader doubts about one image's reading, each with a code a program can test."""
    width, height = found.size
    warnings = []
    if min(width, height) < TINY:
        warnings.append({"code": "tiny_image", "message": f"the image is {width}x{height} pixels: too small to "
                                                          "hold legible text"})
    if found.kind == "page" and not lines:
        warnings.append({"code": "no_text", "message": "no text line was found on this page"})
    elif lines and (mean := sum(line["confidence"] for line in lines) / len(lines)) < LOW_CONFIDENCE:
        warnings.append({"code": "low_confidence", "message": f"the lines' mean confidence is {mean:.2f}: the text "
                                                              "may be wrong (a blurred, faint or unusual image?)"})
    return warnings


def bbox(box: list[list[float]]) -> list[int]:
    """Four corners -> [x1, y1, x2, y2] (the glmocr layout protocol's ``bbox_2d``)."""
    xs, ys = [p[0] for p in box], [p[1] for p in box]
    return [int(min(xs)), int(min(ys)), int(round(max(xs))), int(round(max(ys)))]


class PageSettings(Protocol):
    """The page-reading settings (``serve``'s crop_margin, unclip_ratio, merge_gap)."""

    crop_margin: float
    unclip_ratio: float | None
    merge_gap: float | None


def page_reader(settings: PageSettings, detector_model: Path | None = None) -> PageReader:
    """The page reader the serve settings describe: the evaluate and benchmark stages, the Bento and the packaged
    model build theirs here, so they read pages alike."""
    return PageReader(margin=settings.crop_margin, unclip_ratio=settings.unclip_ratio, merge_gap=settings.merge_gap,
                      detector_model=detector_model)


class PageReader:
    """Detect -> crop -> recognise -> assemble. ``detector`` finds line quads on a page (default: PP-OCRv4's
    DBNet); crops keep ``margin`` x the line height of paper around the text, as the recognizer learnt from
    line images with some paper around them."""

    def __init__(self, detector=None, margin: float = 0.3, min_confidence: float = 0.0,
                 unclip_ratio: float | None = None, merge_gap: float | None = None,
                 detector_model: Path | None = None, orient: bool = True) -> None:
        self._detector, self.margin, self.min_confidence = detector, margin, min_confidence
        self.orient = orient  # pages turned without an EXIF tag found and read upright (inference.orientation)
        self.detector_model = detector_model  # the default detector's ONNX file (None: the rapidocr wheel's)
        # the default detector's box growth and segment joining; None keeps DetectorSettings' own
        self.overrides = {k: v for k, v in (("unclip_ratio", unclip_ratio), ("merge_gap", merge_gap))
                          if v is not None}

    @property
    def detector(self):
        if self._detector is None:
            from ocrops.inference.detection import DetectorSettings, TextDetector

            self._detector = TextDetector(dataclasses.replace(DetectorSettings(), **self.overrides),
                                          model=self.detector_model)
        return self._detector

    def release_memory(self) -> None:
        """The detector's working memory back to the system (if it was loaded); call when no page is read."""
        if self._detector is not None and hasattr(self._detector, "release_memory"):
            self._detector.release_memory()

    @staticmethod
    def is_line(image: Image.Image, mode: Mode = "auto") -> bool:
        """Whether ``image`` is read whole, as one line, without detection."""
        return mode == "line" or (mode == "auto" and is_line(image))

    def regions(self, image: Image.Image, mode: Mode = "auto") -> Found:
        """What to recognise in one image: the whole of it (a line) or each detected line (a page)."""
        w, h = image.size
        if self.is_line(image, mode):
            return Found("line", [Region([[0, 0], [w, 0], [w, h], [0, h]], image)], (w, h))
        from ocrops.inference.detection import crop_quad

        detector, rotation = self.detector, 0
        if self.orient and mode != "line" and hasattr(detector, "runs_down"):
            probability = detector.probability(image)
            if detector.runs_down(probability):  # a page turned a quarter: read it turned back
                image, rotation = orientation.turn(image, 90), 90
                w, h = image.size
                probability = detector.probability(image)
            quads: list[np.ndarray] = detector.detect(image, probability)
        else:
            quads = detector.detect(image)
        grown = [widen(q, self.margin, w, h) for q in quads]
        if one_line(quads, grown, image):
            # a line-shaped image holding one line across it is that line: read it as line mode does, not a
            # resampled copy of it or its pieces
            return Found("page", [Region([[0, 0], [w, 0], [w, h], [0, h]] if len(quads) > 1
                                         else np.round(quads[0], 1).tolist(), image)], (w, h))
        return Found("page", [Region(np.round(q, 1).tolist(), crop_quad(image, g)) for q, g in zip(quads, grown,
                                                                                                   strict=True)],
                     (w, h), rotation, quads)

    def turned_regions(self, image: Image.Image, degrees: int) -> Found:
        """The regions of ``image`` turned clockwise by ``degrees`` (detected again)."""
        turned = self.regions(orientation.turn(image, degrees), "page")
        turned.rotation = (turned.rotation + degrees) % 360
        return turned

    def orientation_probe(self, found: Found) -> orientation.Probe | None:
        """For a page read as found: its longest lines' crops to read both ways (None: a line, or too little)."""
        if found.kind != "page" or not self.orient:
            return None
        return orientation.probe(found.quads, [r.crop for r in found.regions])

    def assemble(self, found: Found, readings: Sequence[Prediction], post: Postprocessor | None = None,
                 correct: bool | None = None, redact_pii: bool | None = None,
                 keep: Callable[[Image.Image, dict], None] | None = None) -> dict:
        """{"mode", "text", "lines": [{"text", "raw_text", "confidence", "box"}]} for one image; a page drops
        empty and low-confidence lines. With ``post`` carrying a calibration, a line's confidence is calibrated
        and it says whether it ``needs_review``. ``keep`` is shown each answered line with its crop."""
        lines = []
        for region, reading in zip(found.regions, readings, strict=True):
            raw, conf = reading.text, float(reading.confidence)
            if found.kind == "page" and (not raw or conf < self.min_confidence):
                continue
            line = {"text": raw, "raw_text": raw, "confidence": round(conf, 5), "box": region.box}
            if post is not None:
                line["text"] = post(raw, conf, correct=correct, redact_pii=redact_pii)
                calibrated, review = post.confidence(conf)
                if review is not None:
                    line |= {"confidence": round(calibrated, 5), "needs_review": review}
            lines.append(line)
            if keep is not None:
                keep(region.crop, line)
        result = {"mode": found.kind, "text": "\n".join(line["text"] for line in lines), "lines": lines,
                  "width": found.size[0], "height": found.size[1], "warnings": doubts(found, lines)}
        if found.kind == "page":
            result["rotation"] = found.rotation
        return result

    @staticmethod
    def _crops(found: list[Found], max_lines: int | None) -> list[Image.Image]:
        crops = [r.crop for item in found for r in item.regions]
        if max_lines is not None and len(crops) > max_lines:
            raise OcropsError(ErrorCode.TOO_LARGE, f"{len(crops)} text lines found, more than the {max_lines} "
                                                   "one request may hold (serve.max_lines); send fewer pages")
        return crops

    def _assemble_all(self, found: list[Found], readings: list[Prediction], post, correct, redact_pii,
                      keep=None) -> list:
        results, k = [], 0
        for item in found:
            results.append(self.assemble(item, readings[k : k + len(item.regions)], post, correct, redact_pii,
                                         keep))
            k += len(item.regions)
        return results

    def read(self, images: Sequence[Image.Image], recognize: Callable[[list[Image.Image]], list[Prediction]],
             mode: Mode = "auto", post: Postprocessor | None = None, correct: bool | None = None,
             redact_pii: bool | None = None, timings: dict | None = None, max_lines: int | None = None,
             keep: Callable[[Image.Image, dict], None] | None = None) -> list[dict]:
        """Every image's lines, all crops recognised together by ``recognize`` (e.g. a reader's predict);
        ``keep`` is shown each answered line with its crop."""
        timings = {} if timings is None else timings
        started = time.perf_counter()
        found = [self.regions(im, mode) for im in images]
        self._crops(found, max_lines)  # refused before anything is recognised
        for k, image in enumerate(images):
            if (probe := self.orientation_probe(found[k])) is not None:
                if probe.upside_down([r.confidence for r in recognize(probe.both_ways)]):
                    found[k] = self.turned_regions(image, (found[k].rotation + 180) % 360)
        timings["detect_ms"] = (time.perf_counter() - started) * 1000
        crops = self._crops(found, max_lines)
        started = time.perf_counter()
        readings = recognize(crops) if crops else []
        timings["recognize_ms"] = (time.perf_counter() - started) * 1000
        return self._assemble_all(found, readings, post, correct, redact_pii, keep)

    async def read_async(self, images: Sequence[Image.Image],
                         recognize: Callable[[list[Image.Image]], Awaitable[list[Prediction]]],
                         mode: Mode = "auto", post: Postprocessor | None = None, correct: bool | None = None,
                         redact_pii: bool | None = None, timings: dict | None = None,
                         max_lines: int | None = None,
                         offload: Callable[..., Awaitable] | None = None,
                         keep: Callable[[Image.Image, dict], None] | None = None) -> list[dict]:
        """As :meth:`read`, for an event loop: detection run by ``offload(fn, *args)`` (default: a worker
        thread), ``recognize`` awaited. Cancelling it (a deadline) starts no further detection. ``keep`` is shown
        each answered line with its crop (the capture store)."""
        timings = {} if timings is None else timings
        offload = offload or asyncio.to_thread
        started = time.perf_counter()
        # a line is its own region (no detection): found here, not worth a hop to a thread and back
        found = [self.regions(im, mode) if self.is_line(im, mode) else await offload(self.regions, im, mode)
                 for im in images]
        self._crops(found, max_lines)  # refused before anything is recognised
        for k, image in enumerate(images):
            if (probe := self.orientation_probe(found[k])) is not None:
                if probe.upside_down([r.confidence for r in await recognize(probe.both_ways)]):
                    found[k] = await offload(self.turned_regions, image, (found[k].rotation + 180) % 360)
        timings["detect_ms"] = (time.perf_counter() - started) * 1000
        crops = self._crops(found, max_lines)
        started = time.perf_counter()
        readings = await recognize(crops) if crops else []
        timings["recognize_ms"] = (time.perf_counter() - started) * 1000
        return self._assemble_all(found, readings, post, correct, redact_pii, keep)
