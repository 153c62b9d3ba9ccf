"""The PP-OCRv6 (small) text recognizer: PPLCNetV4 backbone, light SVTR neck, CTC head.

PPLCNetV4 trains its stride-1 depthwise convolutions as three branches (k x k conv + BN, 1 x 1 conv, identity,
then BN) and folds them into one convolution for inference; the released ONNX holds the folded form. We load
the folded weights as an exact decomposition into the branches (:meth:`RepDWConv.load_folded`), fine-tune the
branches, and fold again for export (:meth:`TextRecognizerV6.fused`). Every other convolution is ported folded
(conv with bias), as the v4 port does: with batch norm frozen during fine-tuning the two are the same function.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ocrops.models.ppocr.modules import ConvBNSiLU, SqueezeExcite, SVTRBlock

ARCHITECTURE = "pplcnetv4-lightsvtr"

# (kernel, in, out, stride, squeeze-excite) per block: PPLCNetV4 "small", recognition strides.
PPOCRV6_SMALL_BLOCKS: list[tuple[int, int, int, tuple[int, int], bool]] = [
    (3, 96, 96, (1, 1), True),
    (3, 96, 96, (1, 1), False), (3, 96, 96, (1, 1), False),
    (3, 96, 192, (2, 1), False), (3, 192, 192, (1, 1), True), (3, 192, 192, (1, 1), False),
    (3, 192, 192, (1, 1), True), (3, 192, 192, (1, 1), False), (3, 192, 192, (1, 1), True),
    (3, 192, 192, (1, 1), False),
    (3, 192, 384, (2, 1), False), (3, 384, 384, (1, 1), True), (3, 384, 384, (1, 1), False),
]


@dataclass
class RecognizerV6Config:
    """Shape of the network; saved beside the weights so a checkpoint rebuilds itself."""

    architecture: str = ARCHITECTURE
    preset: str = "ppocr-v6"
    num_classes: int = 18710  # CTC blank + dictionary + space
    stem_mid: int = 48
    stem_out: int = 96
    blocks: list[tuple[int, int, int, tuple[int, int], bool]] = field(
        default_factory=lambda: list(PPOCRV6_SMALL_BLOCKS))
    expand_ratio: int = 2
    neck_dims: int = 120
    neck_depth: int = 2
    neck_heads: int = 8
    neck_mlp_ratio: float = 2.0
    local_kernel: int = 7
    image_height: int = 48

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RecognizerV6Config:
        data = dict(data)
        data["blocks"] = [(k, i, o, tuple(s), bool(se)) for k, i, o, s, se in data.get("blocks", PPOCRV6_SMALL_BLOCKS)]
        return cls(**data)


class ConvReLU(nn.Module):
    """Folded conv + BN (bias) -> ReLU; an even kernel pads right and bottom only (Paddle's "SAME")."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.same_even = kernel % 2 == 0
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=0 if self.same_even else kernel // 2, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.same_even:
            x = F.pad(x, [0, 1, 0, 1])
        return F.relu(self.conv(x))


class StemBlock(nn.Module):
    """Stride 4: a strided conv, then a max-pool branch beside a two-conv branch, concatenated."""

    def __init__(self, mid: int, out: int) -> None:
        super().__init__()
        self.stem1 = ConvReLU(3, mid, 3, 2)
        self.stem2a = ConvReLU(mid, mid // 2, 2)
        self.stem2b = ConvReLU(mid // 2, mid, 2)
        self.stem3 = ConvReLU(mid * 2, mid, 3, 2)
        self.stem4 = ConvReLU(mid, out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem1(x)
        pooled = F.max_pool2d(F.pad(x, [0, 1, 0, 1]), kernel_size=2, stride=1)
        return self.stem4(self.stem3(torch.cat([pooled, self.stem2b(self.stem2a(x))], dim=1)))


class RepDWConv(nn.Module):
    """Depthwise k x k conv + BN, 1 x 1 depthwise conv and identity, summed, then BN; folds into one conv."""

    def __init__(self, channels: int, kernel: int = 3) -> None:
        super().__init__()
        self.kernel = kernel
        self.conv = nn.Conv2d(channels, channels, kernel, 1, kernel // 2, groups=channels, bias=False)
        self.conv_bn = nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, channels, 1, groups=channels, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv_bn(self.conv(x)) + self.conv1(x) + x)

    def _identity_kernel(self) -> torch.Tensor:
        kernel = torch.zeros_like(self.conv.weight)
        kernel[:, :, self.kernel // 2, self.kernel // 2] = 1.0
        return kernel

    @torch.no_grad()
    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The one depthwise conv (weight, bias) this module computes (batch norms in eval mode)."""
        s1 = self.conv_bn.weight / torch.sqrt(self.conv_bn.running_var + self.conv_bn.eps)
        s2 = self.bn.weight / torch.sqrt(self.bn.running_var + self.bn.eps)
        pad = self.kernel // 2
        kernel = (self.conv.weight * s1[:, None, None, None] + F.pad(self.conv1.weight, [pad] * 4)
                  + self._identity_kernel())
        bias = self.conv_bn.bias - self.conv_bn.running_mean * s1
        return kernel * s2[:, None, None, None], self.bn.bias + (bias - self.bn.running_mean) * s2

    @torch.no_grad()
    def load_folded(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        """Set the branches so that they compute the folded conv (``weight``, ``bias``) exactly: both batch
        norms the identity (the first carrying the bias), the 1 x 1 branch zero, the k x k branch the rest."""
        for bn in (self.conv_bn, self.bn):
            bn.reset_running_stats()
            bn.running_var.fill_(1.0 - bn.eps)  # so that 1 / sqrt(var + eps) is 1
            bn.weight.fill_(1.0)
            bn.bias.zero_()
        self.conv_bn.bias.copy_(bias)
        self.conv1.weight.zero_()
        self.conv.weight.copy_(weight - self._identity_kernel())

    def fused(self) -> nn.Conv2d:
        weight, bias = self.folded()
        channels = weight.shape[0]
        conv = nn.Conv2d(channels, channels, self.kernel, 1, self.kernel // 2, groups=channels, bias=True)
        with torch.no_grad():
            conv.weight.copy_(weight)
            conv.bias.copy_(bias)
        return conv.to(weight.device)


class LCNetV4Block(nn.Module):
    """Token mixer (depthwise conv, re-parameterisable where the shape is kept; optional squeeze-excite), then
    channel mixer (1 x 1 expand, GELU, 1 x 1 compress) with a residual where the shape is kept."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: tuple[int, int], se: bool, expand: int) -> None:
        super().__init__()
        self.residual = cin == cout and tuple(stride) == (1, 1)
        self.dw: nn.Module = (RepDWConv(cin, kernel) if self.residual
                              else nn.Conv2d(cin, cin, kernel, stride, kernel // 2, groups=cin, bias=True))
        self.se = SqueezeExcite(cin) if se else nn.Identity()
        self.expand = nn.Conv2d(cin, cin * expand, 1, bias=True)
        self.act = nn.GELU()
        self.compress = nn.Conv2d(cin * expand, cout, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.se(self.dw(x))
        y = self.compress(self.act(self.expand(x)))
        return x + y if self.residual else y


class PPLCNetV4(nn.Module):
    def __init__(self, cfg: RecognizerV6Config) -> None:
        super().__init__()
        self.stem = StemBlock(cfg.stem_mid, cfg.stem_out)
        self.blocks = nn.Sequential(*(LCNetV4Block(i, o, k, s, se, cfg.expand_ratio) for k, i, o, s, se in cfg.blocks))
        self.out_channels = cfg.blocks[-1][2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # always the inference pooling (height 48 -> 1, width / 8), never Paddle's training-time pool to 40 steps:
        # CTC is trained on each line's own number of steps
        return F.avg_pool2d(self.blocks(self.stem(x)), kernel_size=(3, 2), stride=(3, 2))


class LightSVTRNeck(nn.Module):
    """A 1 x 1 skip beside: 1 x 1 reduce, + a wide depthwise local mix, global attention over the width."""

    def __init__(self, cin: int, cfg: RecognizerV6Config) -> None:
        super().__init__()
        d = cfg.neck_dims
        self.skip = ConvBNSiLU(cin, d)
        self.reduce = ConvBNSiLU(cin, d)
        self.local = ConvBNSiLU(d, d, (1, cfg.local_kernel), groups=d)
        self.blocks = nn.ModuleList(SVTRBlock(d, cfg.neck_heads, cfg.neck_mlp_ratio) for _ in range(cfg.neck_depth))
        self.norm = nn.LayerNorm(d, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip(x)
        z = self.reduce(x)
        z = z + self.local(z)
        b, c, h, w = z.shape
        seq = z.flatten(2).transpose(1, 2)
        for block in self.blocks:
            seq = block(seq)
        z = self.norm(seq).reshape(b, h, w, c).permute(0, 3, 1, 2) + skip
        return z.squeeze(2).transpose(1, 2)  # (batch, time, dims)


class TextRecognizerV6(nn.Module):
    """Image batch (N, 3, 48, W) normalised to [-1, 1] -> CTC logits (N, W/8, classes)."""

    def __init__(self, cfg: RecognizerV6Config | None = None) -> None:
        super().__init__()
        self.config = cfg or RecognizerV6Config()
        self.backbone = PPLCNetV4(self.config)
        self.neck = LightSVTRNeck(self.backbone.out_channels, self.config)
        self.head = nn.Linear(self.config.neck_dims, self.config.num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.neck(self.backbone(images)))

    def fused(self) -> TextRecognizerV6:
        """A copy for inference and export, every re-parameterisable conv folded into one (eval mode)."""
        was_training = self.training
        self.eval()
        copy_ = copy.deepcopy(self)
        self.train(was_training)
        for block in copy_.backbone.blocks:
            if isinstance(block.dw, RepDWConv):
                block.dw = block.dw.fused()
        return copy_.eval()
