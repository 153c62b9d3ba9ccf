"""Building blocks of the PP-OCRv4 recognizer, in their inference (re-parameterized) form.

PP-OCRv4 trains PPLCNetV3 with multi-branch "learnable rep" convolutions; the
released inference model has each such layer folded into one convolution with
bias, followed by learnable affine scalars around a hard-swish. We port that
folded form: it is what the weights describe, and it trains fine as it is.
"""

from __future__ import annotations

import torch
from torch import nn


class LearnableAffine(nn.Module):
    """``scale * x + bias`` with two learnable scalars (PaddleOCR's LearnableAffineBlock)."""

    def __init__(self, scale: float = 1.0, bias: float = 0.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([scale]))
        self.bias = nn.Parameter(torch.tensor([bias]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x + self.bias


class HardSwishAffine(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.act = nn.Hardswish()
        self.lab = LearnableAffine()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lab(self.act(x))


class RepConv(nn.Module):
    """Folded learnable-rep convolution: conv (with bias) -> affine -> hard-swish -> affine."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int | tuple[int, int] = 1, groups: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=(kernel - 1) // 2, groups=groups, bias=True)
        self.lab = LearnableAffine()
        self.act = HardSwishAffine()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.lab(self.conv(x)))


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = nn.Conv2d(channels, channels // reduction, 1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(channels // reduction, channels, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.conv2(self.relu(self.conv1(self.pool(x)))))


class LCNetV3Block(nn.Module):
    """Depthwise RepConv (+ optional squeeze-excite) then pointwise RepConv."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int | tuple[int, int], se: bool) -> None:
        super().__init__()
        self.dw = RepConv(cin, cin, kernel, stride, groups=cin)
        self.se = SqueezeExcite(cin) if se else nn.Identity()
        self.pw = RepConv(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.se(self.dw(x)))


class ConvBNSiLU(nn.Module):
    """Conv (no bias) -> BatchNorm -> swish, as in the SVTR neck."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int] = (1, 1), groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=(kernel[0] // 2, kernel[1] // 2), groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class SVTRBlock(nn.Module):
    """Pre-norm transformer block with global attention and a swish MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 2.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))
