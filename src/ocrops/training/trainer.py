"""FineTuner: fine-tune a base OCR model on a team's domain lines.

Training is deterministic for a seed and resumable: every epoch writes a
checkpoint (weights, optimizer, scheduler, RNG states, history), and a new
run with the same checkpoint folder continues after the last finished epoch.
"""

from __future__ import annotations

import copy
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ocrops.config import TrainParams
from ocrops.data.augment import augment_image, train_augmentations
from ocrops.data.contract import unrepresentable
from ocrops.data.lines import LineDataset
from ocrops.errors import ErrorCode, OcropsError
from ocrops.evaluation.metrics import Scores, score
from ocrops.models import load_model
from ocrops.models.interface import OCRModel
from ocrops.training.distributed import Distributed, distributed
from ocrops.training.forgetting import Anchor, distillation_loss, parameter_groups
from ocrops.training.reproducibility import seed_everything


@dataclass
class EpochLog:
    epoch: int
    train_loss: float
    val_cer: float
    val_exact_match: float
    lr: float
    lines_per_s: float


@dataclass
class TrainResult:
    history: list[EpochLog] = field(default_factory=list)
    best_epoch: int = -1
    best_val_cer: float = math.inf
    stopped_early: bool = False
    resumed_from_epoch: int | None = None
    added_characters: list[str] = field(default_factory=list)
    device: str = "cpu"

    def to_dict(self) -> dict:
        return asdict(self)


def evaluate_model(model: OCRModel, images: list, texts: list[str], lexicon=()) -> Scores:
    """Predict the line images and score the texts against their labels."""
    return score([p.text for p in model.predict(images)], texts, lexicon)


class FineTuner:
    """Fine-tunes ``model`` in place with ``settings`` (``model``: a base already loaded, e.g. by
    ocrops.training.base.Base.load)."""

    def __init__(
        self,
        model: OCRModel,
        train_data: LineDataset,
        val_data: LineDataset,
        *,
        settings: TrainParams = TrainParams(),
        general_data: LineDataset | None = None,
        checkpoint_dir: str | Path | None = None,
        on_epoch: Callable[[EpochLog], None] | None = None,
        progress: bool = True,
    ) -> None:
        if len(train_data) == 0:
            raise OcropsError(ErrorCode.INVALID_INPUT, "the training split has no rows: add data or fix the split")
        if len(val_data) == 0:
            raise OcropsError(ErrorCode.INVALID_INPUT, "the validation split has no rows: early stopping needs it")
        for data in (train_data, val_data):
            for line in data:
                if bad := unrepresentable(line.text):
                    codes = ", ".join(f"U+{ord(c):04X}" for c in bad)
                    raise OcropsError(ErrorCode.INVALID_INPUT,
                                      f"label of {line.path} holds characters no model can emit ({codes}); "
                                      "fix the label or run the validate stage, which quarantines such rows")
        self.model = model
        self.settings = settings
        if settings.enhance_scan:  # trained with it, so it travels with the model
            self.model.preprocess = "enhance_scan"
        self.train_data, self.val_data = train_data, val_data
        self.general_data = general_data
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.dist: Distributed | None = None
        self.device = torch.device("cpu")  # train() picks it from train.device
        self.teacher: OCRModel | None = None  # the frozen base model, for train.distill
        self.anchor: Anchor | None = None  # the pretrained weights, for train.l2sp
        self._aspects: dict[str, float] = {}
        self.on_epoch = on_epoch
        self.progress = progress

    # -- training -----------------------------------------------------------------

    def train(self) -> TrainResult:
        """Train for ``settings.epochs`` (early stopping on validation CER), resuming from the last checkpoint."""
        s = self.settings
        epochs = s.epochs
        self.device = training_device(s.device)
        self.model.module.to(self.device)  # before the frozen copies below: they are compared on the same device
        # both taken before new characters grow the head: the base model as it was
        self.teacher = self._frozen_copy() if s.distill > 0 and self.general_data and s.general_ratio > 0 else None
        self.anchor = Anchor(self.model.module) if s.l2sp > 0 else None
        # seeded before the head grows: its new rows are drawn from the generators, so a training in a process
        # that used them before (ocrops ablate, a notebook) starts from the same weights as the train stage
        seed_everything(s.seed)
        result = TrainResult(added_characters=self._prepare_vocabulary(), device=self.device.type)
        self.dist = distributed()
        world = self.dist.world if self.dist else 1
        optimizer = optimizer_for(self.model.module, s)
        batches_per_process = math.ceil(self._epoch_size() / s.batch_size) // world or 1
        steps_per_epoch = math.ceil(batches_per_process / s.grad_accum)
        scheduler = _warmup_cosine(optimizer, steps_per_epoch * epochs, s.warmup)
        if self.dist:  # every process holds the same weights; DDP averages the gradients
            self.model.train_wrapper, optimizer = self.dist.accelerator.prepare(self.model.module, optimizer)
        start, bad_epochs = 0, 0
        state = self._load_checkpoint(optimizer, scheduler)
        if state is not None:
            start, bad_epochs = state["epoch"] + 1, state["bad_epochs"]
            result.history = [EpochLog(**h) for h in state["history"]]
            result.best_epoch, result.best_val_cer = state["best_epoch"], state["best_val_cer"]
            result.resumed_from_epoch = state["epoch"]
        for epoch in range(start, epochs):
            if bad_epochs >= s.patience:
                result.stopped_early = True
                break
            log = self._run_epoch(epoch, optimizer, scheduler)
            result.history.append(log)
            main = self.dist is None or self.dist.is_main
            if log.val_cer < result.best_val_cer:
                result.best_epoch, result.best_val_cer, bad_epochs = epoch, log.val_cer, 0
                if self.checkpoint_dir and main:
                    _replace_dir(self.checkpoint_dir / "best", self.model.save)
            else:
                bad_epochs += 1
            if main:
                self._save_checkpoint(epoch, optimizer, scheduler, result, bad_epochs)
                if self.on_epoch:
                    self.on_epoch(log)
            if self.dist:
                self.dist.wait()
        self.model.train_wrapper = None
        if self.checkpoint_dir and (self.checkpoint_dir / "best").exists():
            self.model = load_model(self.checkpoint_dir / "best")
        return result

    def _length_grouped(self, items: list, batch_size: int, rng: random.Random) -> list[list]:
        """Batches of lines of similar width, in random order: a batch is padded to its widest line, so mixing a
        1500 px line with 400 px ones costs 3x. Widths are sorted within windows of 16 batches of the shuffled
        items, so batches still differ from epoch to epoch."""
        window = batch_size * 16
        batches = []
        for start in range(0, len(items), window):
            part = sorted(items[start : start + window], key=lambda item: self._aspect(*item))
            batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
        rng.shuffle(batches)
        return batches

    def _aspect(self, data: LineDataset, index: int) -> float:
        path = data[index].path
        if path not in self._aspects:
            with Image.open(path) as image:  # the header only
                self._aspects[path] = image.width / max(image.height, 1)
        return self._aspects[path]

    def _frozen_copy(self) -> OCRModel:
        teacher = copy.deepcopy(self.model)
        teacher.eval_mode()
        for parameter in teacher.module.parameters():
            parameter.requires_grad_(False)
        return teacher

    def _regularised(self, loss: torch.Tensor, batch: list, images: list) -> torch.Tensor:
        """The batch loss plus what keeps general reading: distillation on its general lines, L2-SP."""
        s = self.settings
        general = [images[k] for k, (data, _) in enumerate(batch) if data is self.general_data]
        if self.teacher is not None and general:
            with torch.no_grad():
                target = self.teacher.posteriors(general)
            loss = loss + s.distill * distillation_loss(self.model.posteriors(general), target,
                                                        s.distill_temperature)
        if self.anchor is not None:
            loss = loss + s.l2sp * self.anchor.penalty(self.model.module)
        return loss

    def _prepare_vocabulary(self) -> list[str]:
        unknown = self.model.unknown_characters(self.train_data.texts() + self.val_data.texts())
        return self.model.extend_vocabulary(sorted(unknown))

    def _epoch_size(self) -> int:
        return len(self.train_data) + self._general_count()

    def _general_count(self) -> int:
        general_ratio = self.settings.general_ratio
        if not self.general_data or general_ratio <= 0:
            return 0
        return min(len(self.general_data), round(len(self.train_data) * general_ratio / (1 - general_ratio)))

    def _run_epoch(self, epoch: int, optimizer, scheduler) -> EpochLog:
        s = self.settings
        batch_size, strength, seed, grad_accum = s.batch_size, s.augment, s.seed, s.grad_accum
        rng = random.Random(f"{seed}-epoch-{epoch}")  # order depends on (seed, epoch) only: resumable
        items = [(self.train_data, i) for i in range(len(self.train_data))]
        if (n := self._general_count()) and self.general_data:
            items += [(self.general_data, i) for i in rng.sample(range(len(self.general_data)), n)]
        rng.shuffle(items)
        if self.settings.group_by_length:
            batches = self._length_grouped(items, batch_size, rng)
        else:
            batches = [items[i : i + batch_size] for i in range(0, len(items), batch_size)]
        if self.dist and self.dist.world > 1:  # equal shares, so every process takes the same steps
            world = self.dist.world
            while len(batches) < world:
                batches.append(batches[len(batches) % len(batches)])
            batches = batches[: len(batches) - len(batches) % world][self.dist.rank :: world]
        pipeline = train_augmentations(strength) if strength > 0 else None
        self.model.train_mode()
        total, started = 0.0, time.perf_counter()
        quiet = not self.progress or (self.dist is not None and not self.dist.is_main)
        bar = tqdm(batches, desc=f"epoch {epoch + 1}", unit="batch", disable=quiet)
        for b, batch in enumerate(bar):
            images, texts = [], []
            for k, (data, i) in enumerate(batch):
                image = data.image(i)
                if pipeline is not None:
                    pipeline.set_random_seed(hash((seed, epoch, b, k)) & 0x7FFFFFFF)
                    image = augment_image(image, pipeline)
                images.append(image)
                texts.append(data[i].text)
            loss = self._regularised(self.model.loss(images, texts), batch, images)
            if self.dist:
                self.dist.accelerator.backward(loss / grad_accum)
            else:
                (loss / grad_accum).backward()
            if (b + 1) % grad_accum == 0 or b + 1 == len(batches):
                torch.nn.utils.clip_grad_norm_(self.model.module.parameters(), 5.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            total += loss.item()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        seconds = time.perf_counter() - started
        val = self.evaluate(self.val_data)
        return EpochLog(epoch=epoch, train_loss=total / max(len(batches), 1), val_cer=val.cer,
                        val_exact_match=val.exact_match, lr=scheduler.get_last_lr()[0],
                        lines_per_s=len(items) / seconds)

    def evaluate(self, data: LineDataset, lexicon: tuple[str, ...] = ()) -> Scores:
        return evaluate_model(self.model, [data.image(i) for i in range(len(data))], data.texts(), lexicon)

    # -- checkpoints -----------------------------------------------------------------

    def _save_checkpoint(self, epoch, optimizer, scheduler, result: TrainResult, bad_epochs: int) -> None:
        if not self.checkpoint_dir:
            return

        def write(path: Path) -> None:
            self.model.save(path / "model")
            torch.save(
                {
                    "epoch": epoch,
                    "bad_epochs": bad_epochs,
                    "history": [asdict(h) for h in result.history],
                    "best_epoch": result.best_epoch,
                    "best_val_cer": result.best_val_cer,
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "rng": {"python": random.getstate(), "numpy": np.random.get_state(),
                            "torch": torch.get_rng_state()} | _cuda_rng(),
                },
                path / "state.pt",
            )

        _replace_dir(self.checkpoint_dir / "last", write)

    def _load_checkpoint(self, optimizer, scheduler) -> dict | None:
        if not self.checkpoint_dir or not (self.checkpoint_dir / "last" / "state.pt").exists():
            return None
        last = self.checkpoint_dir / "last"
        self.model.restore(last / "model")
        state = torch.load(last / "state.pt", weights_only=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        random.setstate(state["rng"]["python"])
        np.random.set_state(state["rng"]["numpy"])
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        return state

    def save(self, path: str | Path) -> Path:
        return self.model.save(path)


def optimizer_for(module: torch.nn.Module, settings: TrainParams) -> torch.optim.Optimizer:
    """AdamW over the trainable weights, everything below the head at ``backbone_lr_scale`` x lr where set."""
    params = [p for p in module.parameters() if p.requires_grad]
    if settings.backbone_lr_scale != 1:
        params = parameter_groups(module, settings.lr, settings.backbone_lr_scale)
    return torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)


def training_device(setting: str = "auto") -> torch.device:
    """``auto``: CUDA where torch sees a GPU, else the CPU; ``cuda`` without a GPU is a 5002."""
    if setting == "cuda" and not torch.cuda.is_available():
        raise OcropsError(ErrorCode.UNAVAILABLE, "train.device is cuda, but torch sees no CUDA GPU "
                                                 f"(torch {torch.__version__}, CUDA {torch.version.cuda or 'none'})")
    return torch.device("cuda" if setting != "cpu" and torch.cuda.is_available() else "cpu")


def _cuda_rng() -> dict:
    return {"cuda": torch.cuda.get_rng_state_all()} if torch.cuda.is_available() else {}


def _warmup_cosine(optimizer: torch.optim.Optimizer, total_steps: int, warmup: float):
    warm = max(1, int(total_steps * warmup))
    return torch.optim.lr_scheduler.SequentialLR(
        optimizer,
        [
            torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=warm),
            torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps - warm)),
        ],
        milestones=[warm],
    )


def _replace_dir(target: Path, write: Callable[[Path], object]) -> None:
    """Write a directory next to ``target`` and swap it in, so a kill never leaves half a checkpoint."""
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
