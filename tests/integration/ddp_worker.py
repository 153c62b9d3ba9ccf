"""One rank of a multi-process training, launched by torchrun: DATA_DIR CHECKPOINT_DIR OUT_PREFIX."""

import json
import sys
from pathlib import Path

import torch

from ocrops.adapter import DomainAdapter
from ocrops.data.contract import read_labels
from ocrops.data.lines import Line, LineDataset
from ocrops.distributed import distributed


def main(data_dir: str, checkpoint_dir: str, out_prefix: str) -> None:
    rows, _ = read_labels(data_dir)
    lines = [Line(str(Path(data_dir) / r.image), r.text) for r in rows]
    adapter = DomainAdapter("ppocr-v4", LineDataset(lines[:16]), LineDataset(lines[16:]),
                            checkpoint_dir=checkpoint_dir, progress=False)
    result = adapter.train(epochs=2, lr=2e-4, batch_size=4, augment=False, patience=5, seed=1)
    rank = adapter.dist.rank if adapter.dist else 0
    world = adapter.dist.world if adapter.dist else 1
    weights = torch.cat([p.detach().flatten() for p in adapter.model.module.parameters()])
    Path(f"{out_prefix}{rank}.json").write_text(json.dumps({
        "rank": rank, "world": world, "history": [h.train_loss for h in result.history],
        "weight_sum": float(weights.double().sum()), "ddp": distributed() is not None,
    }))


if __name__ == "__main__":
    main(*sys.argv[1:4])
