"""A released recognizer's character dictionary (its dictionary file, or the ONNX graph's metadata), saved with
every trained model as ``charset.txt``."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from ocrops.models.ppocr.presets import preset

CHARSET_FILE = "charset.txt"


@lru_cache(maxsize=4)
def load_charset(name: str = "ppocr-v4") -> tuple[str, ...]:
    """The preset's dictionary characters in class order (class 0 is the CTC blank, so index i is class i+1).

    PaddleOCR appends a space class after the dictionary (use_space_char).
    """
    found = preset(name)
    if found.dictionary is not None:
        chars = found.dictionary.locate().read_text(encoding="utf-8").splitlines()
    else:
        import onnx  # training and export only: a served model reads its own charset.txt

        model = onnx.load(str(found.recognizer.locate()), load_external_data=False)
        chars = {p.key: p.value for p in model.metadata_props}["character"].splitlines()
    if " " not in chars:
        chars.append(" ")
    return tuple(chars)


def save_charset(folder: Path, charset: Sequence[str]) -> None:
    (folder / CHARSET_FILE).write_text("\n".join(charset) + "\n", encoding="utf-8")


def read_charset(folder: str | Path) -> list[str]:
    # the dictionary holds a space class, so split on newlines only, keeping the " " line
    return (Path(folder) / CHARSET_FILE).read_text(encoding="utf-8").split("\n")[:-1]
