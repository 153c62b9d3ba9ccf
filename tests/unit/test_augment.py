import numpy as np

from conftest import line_image
from ocrops.data.augment import augment_image, preview_grid, train_augmentations


def test_geometric_jitter_fills_with_white_paper_not_colour():
    pipeline = train_augmentations(1.0)
    image = line_image("白细胞 6.5 ×10⁹/L", paper=255)
    for seed in range(30):
        pipeline.set_random_seed(seed)
        out = np.asarray(augment_image(image, pipeline)).astype(int)
        spread = (out.max(axis=2) - out.min(axis=2)).max()
        assert spread < 40, f"seed {seed}: coloured pixels in a grey line"


def test_same_seed_same_augmentation():
    pipeline = train_augmentations(0.8)
    image = line_image("x")
    pipeline.set_random_seed(3)
    a = np.asarray(augment_image(image, pipeline))
    pipeline.set_random_seed(3)
    b = np.asarray(augment_image(image, pipeline))
    assert np.array_equal(a, b)


def test_preview_grid_shape():
    grid = preview_grid([line_image("a"), line_image("b")], strength=0.5, columns=3)
    assert grid.width >= 4 * 220 and grid.height >= 2 * 40
