"""A training process for the kill and multi-process tests: DATA_DIR CHECKPOINT_DIR OUT_PREFIX.

Each rank writes OUT_PREFIX<rank>.json with its history and a checksum of its final weights.
"""

import json
import sys
from pathlib import Path

import torch

from ocrops.config import TrainParams
from ocrops.data.contract import read_labels
from ocrops.data.lines import Line, LineDataset
from ocrops.models import pretrained
from ocrops.training.trainer import FineTuner


def main(data_dir: str, checkpoint_dir: str, out_prefix: str) -> None:
    rows, _ = read_labels(data_dir)
    lines = [Line(str(Path(data_dir) / r.image), r.text) for r in rows]
    adapter = FineTuner(pretrained("ppocr-v4"), LineDataset(lines[:12]), LineDataset(lines[12:]),
                        settings=TrainParams(epochs=2, lr=2e-4, batch_size=4, augment=0.3, patience=5, seed=1),
                        checkpoint_dir=checkpoint_dir, progress=False)
    result = adapter.train()
    rank, world = (adapter.dist.rank, adapter.dist.world) if adapter.dist else (0, 1)
    weights = torch.cat([p.detach().flatten() for p in adapter.model.module.parameters()])
    Path(f"{out_prefix}{rank}.json").write_text(json.dumps({
        **result.to_dict(), "rank": rank, "world": world, "weight_sum": float(weights.double().sum()),
    }))


if __name__ == "__main__":
    main(*sys.argv[1:4])
