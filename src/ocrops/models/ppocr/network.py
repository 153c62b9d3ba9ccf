"""The PP-OCRv4 text recognizer (PP-OCRv5 mobile too: same network, wider head): PPLCNetV3 backbone, SVTR neck,
CTC head; and :func:`build_network`, which rebuilds any ppocr network from its saved config."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ocrops.models.ppocr.modules import ConvBNSiLU, LCNetV3Block, SVTRBlock

ARCHITECTURE = "pplcnetv3-svtr"

# (kernel, in, out, stride, squeeze-excite) per block: PPLCNetV3 at scale 0.95, rec strides.
PPOCRV4_BLOCKS: list[tuple[int, int, int, tuple[int, int], bool]] = [
    (3, 16, 32, (1, 1), False),
    (3, 32, 64, (1, 1), False), (3, 64, 64, (1, 1), False),
    (3, 64, 128, (2, 1), False), (3, 128, 128, (1, 1), False),
    (3, 128, 240, (1, 2), False), (5, 240, 240, (1, 1), False), (5, 240, 240, (1, 1), False),
    (5, 240, 240, (1, 1), False), (5, 240, 240, (1, 1), False),
    (5, 240, 480, (2, 1), True), (5, 480, 480, (1, 1), True), (5, 480, 480, (2, 1), False),
    (5, 480, 480, (1, 1), False),
]


@dataclass
class RecognizerConfig:
    """Shape of the network; saved beside the weights so a checkpoint rebuilds itself."""

    num_classes: int = 6625  # CTC blank + dictionary + space
    stem_channels: int = 16
    blocks: list[tuple[int, int, int, tuple[int, int], bool]] = field(default_factory=lambda: list(PPOCRV4_BLOCKS))
    neck_dims: int = 120
    neck_hidden: int = 60
    neck_depth: int = 2
    neck_heads: int = 8
    image_height: int = 48
    preset: str = "ppocr-v4"  # the released model it started from (its detector and dictionary)
    architecture: str = ARCHITECTURE

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RecognizerConfig:
        data = dict(data)
        data["blocks"] = [(k, i, o, tuple(s), bool(se)) for k, i, o, s, se in data.get("blocks", PPOCRV4_BLOCKS)]
        return cls(**data)


class PPLCNetV3(nn.Module):
    def __init__(self, cfg: RecognizerConfig) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, cfg.stem_channels, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(cfg.stem_channels, eps=1e-5),
        )
        self.blocks = nn.Sequential(*(LCNetV3Block(i, o, k, s, se) for k, i, o, s, se in cfg.blocks))
        self.out_channels = cfg.blocks[-1][2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        return F.avg_pool2d(x, kernel_size=(3, 2), stride=(3, 2))  # height 48 -> 1


class SVTRNeck(nn.Module):
    """Local convs, global attention over the width axis, then fusion with the shortcut."""

    def __init__(self, cin: int, cfg: RecognizerConfig) -> None:
        super().__init__()
        d, h = cfg.neck_dims, cfg.neck_hidden
        self.conv1 = ConvBNSiLU(cin, h, (1, 3))
        self.conv2 = ConvBNSiLU(h, d)
        self.blocks = nn.ModuleList(SVTRBlock(d, cfg.neck_heads) for _ in range(cfg.neck_depth))
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.conv3 = ConvBNSiLU(d, cin)
        self.conv4 = ConvBNSiLU(2 * cin, h, (1, 3))
        self.conv1x1 = ConvBNSiLU(h, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        z = self.conv2(self.conv1(x))
        b, c, hh, w = z.shape
        seq = z.flatten(2).transpose(1, 2)
        for block in self.blocks:
            seq = block(seq)
        z = self.norm(seq).reshape(b, hh, w, c).permute(0, 3, 1, 2)
        z = self.conv1x1(self.conv4(torch.cat([shortcut, self.conv3(z)], dim=1)))
        return z.squeeze(2).transpose(1, 2)  # (batch, time, dims)


class TextRecognizer(nn.Module):
    """Image batch (N, 3, 48, W) normalised to [-1, 1] -> CTC logits (N, W/8, classes)."""

    def __init__(self, cfg: RecognizerConfig | None = None) -> None:
        super().__init__()
        self.config = cfg or RecognizerConfig()
        self.backbone = PPLCNetV3(self.config)
        self.neck = SVTRNeck(self.backbone.out_channels, self.config)
        self.head = nn.Linear(self.config.neck_dims, self.config.num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.neck(self.backbone(images)))

    def fused(self) -> TextRecognizer:
        """The network for inference and export: this one (its convolutions are ported folded), in eval mode."""
        return self.eval()


def build_network(config: dict) -> nn.Module:
    """The network a saved ``config.json`` describes (models saved before v6 have no architecture key: v4)."""
    from ocrops.models.ppocr import network_v6

    if config.get("architecture", ARCHITECTURE) == network_v6.ARCHITECTURE:
        return network_v6.TextRecognizerV6(network_v6.RecognizerV6Config.from_dict(config))
    return TextRecognizer(RecognizerConfig.from_dict(config))
