"""Torch networks: a TDNN x-vector and a compact ECAPA-TDNN, both ending in an embedding layer.

Input (batch, frames, features); output (batch, classes) logits and the embedding.
"""

from __future__ import annotations

import torch
from torch import nn


class StatsPooling(nn.Module):
    """Mean and standard deviation over time."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        return torch.cat([x.mean(dim=2), (x.var(dim=2, unbiased=False) + 1e-5).sqrt()], dim=1)


class XVector(nn.Module):
    def __init__(self, features: int, classes: int, channels: int = 256, embedding: int = 256) -> None:
        super().__init__()
        layers, c_in = [], features
        for c_out, kernel, dilation in ((channels, 5, 1), (channels, 3, 2), (channels, 3, 3), (channels, 1, 1),
                                        (channels * 3, 1, 1)):  # fmt: skip
            layers += [nn.Conv1d(c_in, c_out, kernel, dilation=dilation), nn.ReLU(), nn.BatchNorm1d(c_out)]
            c_in = c_out
        self.frames = nn.Sequential(*layers)
        self.pool = StatsPooling()
        self.embed = nn.Sequential(nn.Linear(2 * c_in, embedding), nn.ReLU(), nn.BatchNorm1d(embedding))
        self.head = nn.Linear(embedding, classes)
        self.min_frames = 15  # receptive field of the frame layers

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.pool(self.frames(x.transpose(1, 2))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(x))


class SEBlock(nn.Module):
    def __init__(self, channels: int, bottleneck: int = 64) -> None:
        super().__init__()
        self.gate = nn.Sequential(nn.Conv1d(channels, bottleneck, 1), nn.ReLU(), nn.Conv1d(bottleneck, channels, 1),
                                  nn.Sigmoid())  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x.mean(dim=2, keepdim=True))


class Res2Block(nn.Module):
    """1x1 conv, Res2Net dilated convs over channel groups, 1x1 conv, squeeze-excitation, residual."""

    def __init__(self, channels: int, dilation: int, scale: int = 4) -> None:
        super().__init__()
        width = channels // scale
        self.scale = scale
        self.reduce = nn.Sequential(nn.Conv1d(channels, width * scale, 1), nn.ReLU(), nn.BatchNorm1d(width * scale))
        self.convs = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(width, width, 3, dilation=dilation, padding=dilation), nn.ReLU(), nn.BatchNorm1d(width)
            )
            for _ in range(scale - 1)
        )
        self.expand = nn.Sequential(nn.Conv1d(width * scale, channels, 1), nn.ReLU(), nn.BatchNorm1d(channels))
        self.se = SEBlock(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.chunk(self.reduce(x), self.scale, dim=1)
        out, previous = [parts[0]], None
        for part, conv in zip(parts[1:], self.convs, strict=True):
            previous = conv(part if previous is None else part + previous)
            out.append(previous)
        return x + self.se(self.expand(torch.cat(out, dim=1)))


class AttentiveStatsPooling(nn.Module):
    def __init__(self, channels: int, attention: int = 64) -> None:
        super().__init__()
        self.attention = nn.Sequential(nn.Conv1d(channels, attention, 1), nn.Tanh(), nn.Conv1d(attention, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.attention(x), dim=2)
        mean = (weights * x).sum(dim=2)
        std = ((weights * x * x).sum(dim=2) - mean * mean).clamp(min=1e-5).sqrt()
        return torch.cat([mean, std], dim=1)


class Ecapa(nn.Module):
    def __init__(self, features: int, classes: int, channels: int = 128, embedding: int = 128) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(features, channels, 5, padding=2), nn.ReLU(), nn.BatchNorm1d(channels))
        self.blocks = nn.ModuleList(Res2Block(channels, d) for d in (2, 3, 4))
        self.aggregate = nn.Sequential(nn.Conv1d(3 * channels, 3 * channels, 1), nn.ReLU())
        self.pool = AttentiveStatsPooling(3 * channels)
        self.embed = nn.Sequential(nn.BatchNorm1d(6 * channels), nn.Linear(6 * channels, embedding),
                                   nn.BatchNorm1d(embedding))  # fmt: skip
        self.head = nn.Linear(embedding, classes)
        self.min_frames = 1

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x.transpose(1, 2))
        outputs = []
        for block in self.blocks:
            h = block(h)
            outputs.append(h)
        return self.embed(self.pool(self.aggregate(torch.cat(outputs, dim=1))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(x))


class CosineHead(nn.Module):
    """Additive angular margin (AAM) softmax: logits are scaled cosines, the target's with a margin."""

    def __init__(self, embedding: int, classes: int, scale: float = 30.0, margin: float = 0.2) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(classes, embedding) * 0.01)
        self.scale, self.margin = scale, margin

    def forward(self, embedding: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        cosine = nn.functional.linear(nn.functional.normalize(embedding), nn.functional.normalize(self.weight))
        if targets is not None:
            theta = torch.acos(cosine.clamp(-1 + 1e-6, 1 - 1e-6))
            target_cos = torch.cos(theta + self.margin)
            cosine = torch.where(nn.functional.one_hot(targets, cosine.shape[1]).bool(), target_cos, cosine)
        return self.scale * cosine
