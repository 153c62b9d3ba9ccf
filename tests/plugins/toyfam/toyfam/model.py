"""A recognizer that learns one text: a distribution over its vocabulary at each position, whatever the image."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F

from ocrops.inference.types import Prediction
from ocrops.models.interface import OCRModel

POSITIONS = 24  # class 0 at a position ends the text


class ToyNet(torch.nn.Module):
    def __init__(self, classes: int) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(torch.zeros(POSITIONS, classes))


class ToyModel(OCRModel):
    family = "toy"

    def __init__(self, vocabulary: list[str]) -> None:
        self.vocabulary = list(vocabulary)
        self.net = ToyNet(len(self.vocabulary) + 1)

    @property
    def module(self) -> torch.nn.Module:
        return self.net

    def predict(self, images, batch_size: int = 16) -> list[Prediction]:
        with torch.no_grad():
            probs = self.net.logits.softmax(-1)
        best, score = probs.argmax(-1).tolist(), probs.max(-1).values.tolist()
        end = best.index(0) if 0 in best else POSITIONS
        text = "".join(self.vocabulary[i - 1] for i in best[:end])
        confidence = sum(score[:end]) / end if end else 0.0
        return [Prediction(text, confidence) for _ in images]

    def loss(self, images, texts) -> torch.Tensor:
        index = {ch: i + 1 for i, ch in enumerate(self.vocabulary)}
        targets = torch.tensor([[index.get(ch, 0) for ch in t[:POSITIONS]] + [0] * (POSITIONS - len(t[:POSITIONS]))
                                for t in texts])
        logits = self.forward_module.logits.expand(len(texts), -1, -1)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    def unknown_characters(self, texts) -> set[str]:
        return {ch for t in texts for ch in t if ch not in self.vocabulary}

    def extend_vocabulary(self, chars) -> list[str]:
        added = [ch for ch in dict.fromkeys(chars) if ch not in self.vocabulary]
        if added:
            grown = torch.zeros(POSITIONS, len(self.vocabulary) + 1 + len(added))
            grown[:, : self.net.logits.shape[1]] = self.net.logits.data
            self.net.logits = torch.nn.Parameter(grown)
            self.vocabulary += added
        return added

    def save(self, path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.mark_family(path)
        (path / "vocabulary.json").write_text(json.dumps(self.vocabulary, ensure_ascii=False), encoding="utf-8")
        torch.save(self.net.state_dict(), path / "weights.pt")
        self.save_preprocess(path)
        return path

    @classmethod
    def load(cls, path) -> ToyModel:
        path = Path(path)
        model = cls(json.loads((path / "vocabulary.json").read_text(encoding="utf-8")))
        model.net.load_state_dict(torch.load(path / "weights.pt", weights_only=True))
        model.load_preprocess(path)
        return model
