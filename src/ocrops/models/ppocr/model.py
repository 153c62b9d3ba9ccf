"""The ``ppocr`` family: PP-OCRv4 recognizer fine-tuned with CTC."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file, save_file

from ocrops.models.base import FAMILY_FILE, OCRModel, Prediction, register_family
from ocrops.models.ppocr.charset import load_charset
from ocrops.models.ppocr.ctc import greedy_decode
from ocrops.models.ppocr.network import RecognizerConfig, TextRecognizer
from ocrops.models.ppocr.preprocess import batch_arrays
from ocrops.models.ppocr.weights import pretrained_recognizer

# New classes start below their look-alike so the base reading wins until training says otherwise.
NEW_CLASS_BIAS_OFFSET = -2.0


class PPOCRModel(OCRModel):
    family = "ppocr"

    def __init__(self, network: TextRecognizer, charset: Sequence[str]) -> None:
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

    @torch.no_grad()
    def predict(self, images: Sequence[Image.Image], batch_size: int = 16) -> list[Prediction]:
        self.network.eval()
        images = self.prepare(images)
        order = sorted(range(len(images)), key=lambda i: images[i].width / max(images[i].height, 1))
        results: dict[int, Prediction] = {}
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            x = torch.from_numpy(batch_arrays([images[i] for i in chunk]))
            probs = self.network(x).softmax(-1).numpy()
            for i, (text, conf) in zip(chunk, greedy_decode(probs, self.charset), strict=True):
                results[i] = Prediction(text, conf)
        return [results[i] for i in range(len(images))]

    def encode(self, text: str) -> list[int]:
        return [self._index[ch] for ch in text if ch in self._index]

    def loss(self, images: Sequence[Image.Image], texts: Sequence[str]) -> torch.Tensor:
        x = torch.from_numpy(batch_arrays(self.prepare(images)))
        log_probs = F.log_softmax(self.forward_module(x), dim=-1).transpose(0, 1)  # (T, N, C)
        targets = [torch.tensor(self.encode(t), dtype=torch.long) for t in texts]
        steps = log_probs.shape[0]
        return F.ctc_loss(
            log_probs,
            torch.cat(targets),
            input_lengths=torch.full((len(texts),), steps, dtype=torch.long),
            target_lengths=torch.tensor([len(t) for t in targets], dtype=torch.long),
            blank=0,
            zero_infinity=True,  # a label longer than the image allows contributes nothing, not NaN
        )

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
        grown = torch.nn.Linear(head.in_features, head.out_features + len(added))
        with torch.no_grad():
            grown.weight.copy_(torch.cat([weight, torch.stack(new_w)]))
            grown.bias.copy_(torch.cat([bias, torch.stack(new_b)]))
        self.network.head = grown
        self.network.config.num_classes = grown.out_features
        self.charset.extend(added)
        self._index = {ch: i + 1 for i, ch in enumerate(self.charset)}
        return added

    def export_onnx(self, path: str | Path, opset: int = 17) -> Path:
        """The whole recognizer, images (N, 3, 48, W) -> class probabilities, dynamic batch and width."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # The exporter restores the wrapper's train/eval flag on every submodule afterwards: keep it eval.
        wrapper = _WithSoftmax(self.network).eval()
        example = torch.zeros(1, 3, self.network.config.image_height, 320)
        with torch.no_grad():
            torch.onnx.export(
                wrapper, (example,), str(path), input_names=["x"], output_names=["probs"],
                dynamic_axes={"x": {0: "batch", 3: "width"}, "probs": {0: "batch", 1: "steps"}},
                opset_version=opset, dynamo=False,
            )
        return path

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / FAMILY_FILE).write_text(self.family + "\n", encoding="utf-8")
        (path / "config.json").write_text(json.dumps(self.network.config.to_dict(), indent=1), encoding="utf-8")
        (path / "charset.txt").write_text("\n".join(self.charset) + "\n", encoding="utf-8")
        save_file({k: v.contiguous() for k, v in self.network.state_dict().items()}, str(path / "model.safetensors"))
        self.save_preprocess(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> PPOCRModel:
        path = Path(path)
        config = RecognizerConfig.from_dict(json.loads((path / "config.json").read_text(encoding="utf-8")))
        network = TextRecognizer(config)
        network.load_state_dict(load_file(str(path / "model.safetensors")))
        # the dictionary holds a space class, so split on newlines only, keeping the " " line
        charset = (path / "charset.txt").read_text(encoding="utf-8").split("\n")[:-1]
        model = cls(network.eval(), charset)
        model.load_preprocess(path)
        return model


class _WithSoftmax(torch.nn.Module):
    """Export wrapper: probabilities, as the released ONNX model outputs them."""

    def __init__(self, network: TextRecognizer) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x).softmax(-1)


def pretrained_ppocr() -> PPOCRModel:
    """PP-OCRv4 as released (weights from the rapidocr-onnxruntime wheel)."""
    return PPOCRModel(pretrained_recognizer(), load_charset())


register_family("ppocr", lambda **_: pretrained_ppocr(), PPOCRModel.load)
