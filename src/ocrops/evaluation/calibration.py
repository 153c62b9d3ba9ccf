"""Line confidence that means something: the recognizer's raw confidence mapped to the chance that a line is
read exactly, fitted on validation lines; expected calibration error, the reliability diagram, and the review
threshold tau (lines at or above it are exact at least ``target`` of the time)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ocrops.postprocess import Calibration

METHODS = ("isotonic", "platt")


def bin_edges(bins: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, bins + 1)


def reliability(confidence: Sequence[float], exact: Sequence[bool], bins: int = 15) -> list[dict]:
    """Per equal-width confidence bin with lines in it: its range, lines, mean confidence and share exact."""
    c, y = np.asarray(confidence, float), np.asarray(exact, float)
    edges = bin_edges(bins)
    which = np.clip(np.digitize(c, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            rows.append({"low": float(edges[b]), "high": float(edges[b + 1]), "lines": int(inside.sum()),
                         "confidence": float(c[inside].mean()), "accuracy": float(y[inside].mean())})
    return rows


def ece(confidence: Sequence[float], exact: Sequence[bool], bins: int = 15) -> float:
    """Expected calibration error: the line-weighted gap between confidence and accuracy over the bins."""
    n = len(confidence)
    return float(sum(r["lines"] * abs(r["confidence"] - r["accuracy"]) for r in reliability(confidence, exact, bins))
                 / n) if n else 0.0


def _logit(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 1e-6, 1 - 1e-6)
    return np.log(c / (1 - c))


def fit_method(method: str, confidence: np.ndarray, exact: np.ndarray) -> Calibration:
    """One calibration map fitted on (raw confidence, line exact); its threshold is set later."""
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(confidence, exact)
        return Calibration("isotonic", 0.0, tuple(zip(map(float, iso.X_thresholds_), map(float, iso.y_thresholds_),
                                                      strict=True)))
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        if len(set(exact.tolist())) < 2:  # nothing to separate: the share exact, whatever the confidence
            share = min(max(float(exact.mean()), 1e-6), 1 - 1e-6)
            return Calibration("platt", 0.0, a=0.0, b=float(np.log(share / (1 - share))))
        lr = LogisticRegression(C=1e4).fit(_logit(confidence)[:, None], exact)
        return Calibration("platt", 0.0, a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))
    raise ValueError(f"unknown calibration method {method!r}; expected one of {METHODS}")


def cross_validated_ece(method: str, confidence: np.ndarray, exact: np.ndarray, bins: int, folds: int = 5,
                        seed: int = 0) -> float:
    """ECE of ``method`` on lines it was not fitted on (k folds, shuffled with ``seed``)."""
    order = np.random.default_rng(seed).permutation(len(confidence))
    mapped = np.empty(len(confidence))
    for part in np.array_split(order, folds):
        rest = np.setdiff1d(order, part)
        fitted = fit_method(method, confidence[rest], exact[rest])
        mapped[part] = [fitted(c) for c in confidence[part]]
    return ece(mapped, exact, bins)


def review_threshold(calibrated: Sequence[float], target: float) -> float:
    """The lowest calibrated confidence tau at which the lines at or above it are expected to be exact at least
    ``target`` of the time (the mean of their calibrated confidence; the measured share stays beside it in the
    report: on a few hundred lines with a handful wrong, the measured share jumps round ``target`` over a
    wide range of tau, the expected one does not); 1.0 when no tau reaches it."""
    c = np.sort(np.asarray(calibrated, float))
    if not len(c):
        return 1.0
    above = np.cumsum(c[::-1])[::-1] / np.arange(len(c), 0, -1)  # mean of c[i:] for every i
    reached = np.flatnonzero(above >= target)
    return float(c[reached[0]]) if len(reached) else 1.0


def calibrate(confidence: Sequence[float], exact: Sequence[bool], method: str = "auto", target: float = 0.99,
              bins: int = 15, seed: int = 0) -> tuple[Calibration, dict]:
    """Fit the calibration on (raw confidence, exact) lines: ``auto`` picks the method with the lower
    cross-validated ECE; ``none`` keeps the raw confidence. Returns it with its threshold, and the figures."""
    c, y = np.asarray(confidence, float), np.asarray(exact, float)
    figures: dict = {"lines": len(c), "exact": int(y.sum()), "raw_ece": ece(c, y, bins)}
    if method == "none":
        chosen = Calibration("identity", 0.0)
    else:
        if method == "auto":
            figures["cross_validated_ece"] = {m: cross_validated_ece(m, c, y, bins, seed=seed) for m in METHODS}
            method = min(METHODS, key=figures["cross_validated_ece"].get)
        chosen = fit_method(method, c, y)
    mapped = np.array([chosen(v) for v in c])
    tau = review_threshold(mapped, target)
    figures |= {"method": chosen.method, "calibrated_ece": ece(mapped, y, bins), "threshold": tau,
                "target_exact": target, "share_below": float((mapped < tau).mean()) if len(c) else 0.0,
                "exact_above": float(y[mapped >= tau].mean()) if (mapped >= tau).any() else None}
    fitted = Calibration(chosen.method, tau, chosen.points, chosen.a, chosen.b,
                         {k: figures[k] for k in ("lines", "exact", "target_exact")})
    return fitted, figures


def assess(calibration: Calibration, confidence: Sequence[float], exact: Sequence[bool], bins: int = 15) -> dict:
    """How a calibration does on lines it was not fitted on: ECE before and after, the share under tau, and
    how many of the wrong lines it sends to review."""
    c, y = np.asarray(confidence, float), np.asarray(exact, bool)
    mapped = np.array([calibration(v) for v in c])
    below = mapped < calibration.threshold
    return {"lines": len(c), "wrong": int((~y).sum()), "raw_ece": ece(c, y, bins),
            "calibrated_ece": ece(mapped, y, bins), "share_below": float(below.mean()) if len(c) else 0.0,
            "wrong_below": int((below & ~y).sum()),
            "exact_above": float(y[~below].mean()) if (~below).any() else None,
            "reliability": {"raw": reliability(c, y, bins), "calibrated": reliability(mapped, y, bins)}}


def plot_rows(assessed: dict[str, dict]) -> dict[str, list[dict]]:
    """The reliability diagram as DVC plot files: one per (set, raw | calibrated), and the diagonal."""
    files = {"perfect": [{"confidence": x, "accuracy": x} for x in (0.0, 1.0)]}
    for name, figures in assessed.items():
        for kind, bins in figures["reliability"].items():
            files[f"{name.replace(' ', '_')}_{kind}"] = [
                {"confidence": round(b["confidence"], 5), "accuracy": round(b["accuracy"], 5), "lines": b["lines"]}
                for b in bins]
    return files


def draw(assessed: dict[str, dict], path: str | Path) -> Path:
    """The reliability diagram as a PNG (an MLflow artifact beside the DVC plot): accuracy against confidence,
    raw and calibrated, one panel per set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(assessed), figsize=(4.2 * len(assessed), 4), squeeze=False)
    for ax, (name, figures) in zip(axes[0], assessed.items(), strict=True):
        ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--", label="perfect")
        for kind, colour in (("raw", "#d62728"), ("calibrated", "#1f77b4")):
            bins = figures["reliability"][kind]
            ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", color=colour,
                    label=f"{kind} (ECE {figures[f'{kind}_ece']:.3f})")
        ax.set(title=f"{name} ({figures['lines']} lines)", xlabel="confidence", ylabel="share of lines exact",
               xlim=(0, 1.02), ylim=(0, 1.02))
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def degraded(images: Sequence, copies: int, strength: float, seed: int) -> list:
    """``copies`` of every image through the training's scan/photo augmentation, each seeded by its place, so
    the set is the same on every run: the blur, noise and compression real traffic brings, and the errors
    with them that clean validation lines rarely show."""
    from ocrops.data.augment import augment_image, train_augmentations

    pipeline, out = train_augmentations(strength), []
    for copy in range(1, copies + 1):
        for i, image in enumerate(images):
            pipeline.set_random_seed(seed * 1_000_003 + copy * 100_003 + i)
            out.append(augment_image(image, pipeline))
    return out
