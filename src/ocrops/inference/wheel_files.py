"""Model files shipped inside installed wheels (no download at run time), each checked against its SHA-256."""

from __future__ import annotations

import hashlib
import importlib.metadata
from dataclasses import dataclass
from functools import cache
from pathlib import Path


class WheelFileError(FileNotFoundError):
    pass


@dataclass(frozen=True)
class WheelFile:
    """One file of an installed distribution: ``distribution`` (pip name, pinned ``version``), ``path`` inside
    site-packages, and the SHA-256 it must have."""

    distribution: str
    version: str
    path: str
    sha256: str

    def locate(self) -> Path:
        """The file on disk, once its digest is checked (a changed file is refused, not read)."""
        return _checked(self)

    @property
    def source(self) -> str:
        """Provenance as a package records it: ``file from distribution==version (sha256 ...)``."""
        return f"{Path(self.path).name} from {self.distribution}=={self.version} (sha256 {self.sha256[:12]})"


@cache
def _checked(file: WheelFile) -> Path:
    hint = f"pip install {file.distribution}=={file.version}"
    try:
        dist = importlib.metadata.distribution(file.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise WheelFileError(f"{file.distribution} is not installed ({hint})") from None
    path = Path(str(dist.locate_file(file.path)))
    if not path.exists():
        raise WheelFileError(f"{file.path} is missing from {file.distribution} {dist.version} ({hint})")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != file.sha256:
        raise WheelFileError(f"{path.name} from {file.distribution} {dist.version} has SHA-256 {digest[:16]}..., "
                             f"not the {file.sha256[:16]}... ocrops was checked with ({hint})")
    return path
