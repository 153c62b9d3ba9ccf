"""Albumentations pipelines that imitate scanned and photographed documents."""

from __future__ import annotations

import albumentations as A
import cv2


def scan_degradations(strength: float = 1.0, seed: int | None = None) -> A.Compose:
    """Degradations of a printed line passed through a scanner or a phone camera.

    ``strength`` scales probabilities (0 disables everything); fill colour is white
    paper so geometric jitter does not add black borders.
    """
    s = max(0.0, min(1.0, strength))
    return A.Compose(
        [
            A.Affine(rotate=(-1.5, 1.5), shear={"x": (-4, 4), "y": (0, 0)}, fit_output=True,
                     border_mode=cv2.BORDER_CONSTANT, fill=255, p=0.5 * s),
            A.OneOf(
                [
                    A.GaussianBlur(blur_limit=(3, 3), sigma_limit=(0.3, 0.9)),
                    A.MotionBlur(blur_limit=(3, 5)),
                    A.Defocus(radius=(1, 2), alias_blur=(0.1, 0.3)),
                ],
                p=0.45 * s,
            ),
            A.Downscale(scale_range=(0.55, 0.9), p=0.3 * s),
            A.RandomBrightnessContrast(brightness_limit=(-0.15, 0.1), contrast_limit=(-0.3, 0.1), p=0.6 * s),
            A.GaussNoise(std_range=(0.01, 0.06), per_channel=False, p=0.5 * s),
            A.ImageCompression(quality_range=(45, 90), p=0.5 * s),
        ],
        seed=seed,
    )
