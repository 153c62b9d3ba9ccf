"""Albumentations pipelines that imitate scanned and photographed documents."""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np
from PIL import Image


def scan_degradations(strength: float = 1.0, seed: int | None = None,
                      fill: float | tuple[float, ...] = 255) -> A.Compose:
    """Degradations of a printed line passed through a scanner or a phone camera.

    ``strength`` scales probabilities (0 disables everything); ``fill`` is white
    paper (one value per channel) so geometric jitter does not add dark borders.
    """
    s = max(0.0, min(1.0, strength))
    return A.Compose(
        [
            A.Affine(rotate=(-1.5, 1.5), shear={"x": (-4, 4), "y": (0, 0)}, fit_output=True,
                     border_mode=cv2.BORDER_CONSTANT, fill=fill, p=0.5 * s),
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


def train_augmentations(strength: float = 1.0, seed: int | None = None) -> A.Compose:
    """Training-time augmentation of RGB lines: a slight perspective warp, then the scan degradations.

    ``scan_degradations`` itself stays fixed because ``ocrops synth`` recipes depend on it.
    """
    s = max(0.0, min(1.0, strength))
    return A.Compose(
        [
            A.Perspective(scale=(0.01, 0.03), fit_output=True, border_mode=cv2.BORDER_CONSTANT,
                          fill=(255, 255, 255), p=0.2 * s),
            scan_degradations(strength, fill=(255, 255, 255)),
        ],
        seed=seed,
    )


def page_degradations(photo: bool, seed: int | None = None) -> A.Compose:
    """A whole page as a flatbed scan (``photo`` false: a slight skew, blur) or as a phone photo
    (perspective, rotation up to 5 degrees, soft shadows, blur); the caller encodes the JPEG (its artefacts
    are the noise: sensor noise would multiply the size of the committed sample). Keypoints in
    ``xy`` move with the page, so line polygons stay on their lines."""
    if photo:
        geometry = [
            A.Perspective(scale=(0.02, 0.05), keep_size=True, fit_output=True, border_mode=cv2.BORDER_CONSTANT,
                          fill=(118, 112, 104), p=1.0),  # a desk around the sheet
            A.Affine(rotate=(-5, 5), scale=(0.8, 0.88), border_mode=cv2.BORDER_CONSTANT, fill=(118, 112, 104),
                     p=1.0),
        ]
        light = [
            # a hand or a phone over the page, and uneven room light: soft, not the sharp polygons of RandomShadow
            A.PlasmaShadow(shadow_intensity_range=(0.1, 0.3), roughness=3, p=0.5),
            A.Illumination(mode="linear", intensity_range=(0.05, 0.15), effect_type="darken", p=0.5),
            A.RandomBrightnessContrast(brightness_limit=(-0.2, 0.05), contrast_limit=(-0.25, 0.05), p=0.8),
            A.OneOf([A.GaussianBlur(blur_limit=(3, 5), sigma_limit=(0.4, 1.0)), A.MotionBlur(blur_limit=(3, 5))],
                    p=0.6),
        ]
    else:
        geometry = [A.Affine(rotate=(-1.0, 1.0), border_mode=cv2.BORDER_CONSTANT, fill=(255, 255, 255), p=0.7)]
        light = [
            A.RandomBrightnessContrast(brightness_limit=(-0.1, 0.05), contrast_limit=(-0.2, 0.05), p=0.6),
            A.GaussianBlur(blur_limit=(3, 3), sigma_limit=(0.3, 0.7), p=0.4),
        ]
    return A.Compose(geometry + light, keypoint_params=A.KeypointParams(format="xy", remove_invisible=False),
                     seed=seed)


def augment_image(image: Image.Image, pipeline: A.Compose) -> Image.Image:
    """Apply an albumentations pipeline to a PIL image."""
    return Image.fromarray(pipeline(image=np.asarray(image))["image"])


def preview_grid(images: list[Image.Image], strength: float, seed: int = 0, columns: int = 3) -> Image.Image:
    """Each image beside ``columns`` augmented variants: what the model sees in training."""
    pipeline = train_augmentations(strength)
    rows = []
    for i, image in enumerate(images):
        variants = [image]
        for j in range(columns):
            pipeline.set_random_seed(seed * 1000 + i * columns + j)
            variants.append(augment_image(image, pipeline))
        rows.append(variants)
    cell_w = max(v.width for row in rows for v in row) + 8
    cell_h = max(v.height for row in rows for v in row) + 8
    grid = Image.new("RGB", (cell_w * (columns + 1), cell_h * len(rows)), (90, 90, 90))
    for r, row in enumerate(rows):
        for c, variant in enumerate(row):
            grid.paste(variant.convert("RGB"), (c * cell_w + 4, r * cell_h + 4))
    return grid
