"""Export a network bundle to ONNX: features (1, frames, dim) in, calibrated log-posteriors out."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from dialectid.errors import DialectidError
from dialectid.models.bundle import Bundle
from dialectid.models.neural import NetworkModel


class _Calibrated(nn.Module):
    def __init__(self, model: NetworkModel, scale: float, offset: torch.Tensor) -> None:
        super().__init__()
        self.model = model
        self.net = model.modules
        self.scale = scale
        self.register_buffer("offset", offset)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        scores = torch.log_softmax(self.model._logits(features), dim=1)
        return torch.log_softmax(self.scale * scores + self.offset, dim=1)


def calibrated_network(bundle: Bundle) -> nn.Module:
    if not isinstance(bundle.model, NetworkModel):
        raise DialectidError(f"{bundle.path}: only xvector and ecapa bundles export to ONNX, not {bundle.model.name!r}")
    if bundle.calibrator.duration_covariate:
        raise DialectidError(f"{bundle.path}: a duration-dependent calibration cannot be exported; retrain without it")
    offset = torch.tensor(bundle.calibrator.offset_, dtype=torch.float32)
    return _Calibrated(bundle.model, bundle.calibrator.scale_, offset).eval()


def export_onnx(bundle: Bundle, path: Path) -> Path:
    module = calibrated_network(bundle)
    example = torch.zeros(1, 300, bundle.features.dim)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(module, (example,), str(path), input_names=["features"], output_names=["log_posteriors"],
                      dynamic_axes={"features": {1: "frames"}}, opset_version=17, dynamo=False)  # fmt: skip
    return path
