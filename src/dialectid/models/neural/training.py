"""Training for `xvector` and `ecapa` (torch); the bundle then scores them from ONNX (`model.py`).

Training is resumable: every epoch leaves a checkpoint (weights in safetensors, optimizer state
as plain tensors), and each epoch draws its crops and batch order from a generator seeded by
(seed, epoch), so a resumed run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from dialectid.errors import DialectidError
from dialectid.features import FeatureConfig
from dialectid.models.base import Clips, FitContext, TrainingConfig, log_softmax
from dialectid.models.neural.layers import CosineHead, Ecapa, XVector
from dialectid.models.neural.model import FRAMES_PER_SECOND, ONNX_TOLERANCE, NetworkArgs, tile

NETWORKS: dict[str, type[XVector] | type[Ecapa]] = {"xvector": XVector, "ecapa": Ecapa}
PROBE_FRAMES = (20, 300, 777)  # input lengths on which the ONNX graph must agree with torch


class TorchNetwork:
    """An x-vector or ECAPA-TDNN in torch: build, train with checkpoints, score, export to ONNX."""

    def __init__(self, name: str, labels: Sequence[str], features: FeatureConfig, args: NetworkArgs) -> None:
        self.name, self.labels, self.features, self.args = name, list(labels), features, args
        self._build(0)

    def _build(self, seed: int) -> None:
        with torch.random.fork_rng():  # seeded initialisation without touching the global generator
            torch.manual_seed(seed)
            labels, args = len(self.labels), self.args
            self.net = NETWORKS[self.name](self.features.dim, labels, args.channels, args.embedding)
            self.cosine = CosineHead(args.embedding, labels, args.aam_scale, args.aam_margin)
        self.modules = nn.ModuleDict({"net": self.net, "cosine": self.cosine})  # one state dict, one optimiser

    def _logits(self, x: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        return self._head(self.net.embedding(x), targets)

    def _head(self, embedding: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        if self.args.loss == "aam":
            return self.cosine(embedding, targets)
        return self.net.head(embedding)

    # ---- training -----------------------------------------------------------------------------
    def fit(self, train: Clips, dev: Clips | None, context: FitContext) -> TorchNetwork:
        cfg = context.training
        self._build(cfg.seed)
        threads = torch.get_num_threads()
        torch.set_num_threads(context.threads)
        try:
            self._train(train, dev, context)
        finally:
            torch.set_num_threads(threads)
        return self

    def _train(self, train: Clips, dev: Clips | None, context: FitContext) -> None:
        cfg = context.training
        if context.run_dir is None:
            raise DialectidError(f"training the {self.name} network needs a run folder for its checkpoints")
        optimizer = _optimizer(self.modules.parameters(), cfg)
        schedule = _schedule(optimizer, cfg)
        folder = Path(context.run_dir) / "checkpoints"
        folder.mkdir(parents=True, exist_ok=True)
        state = _Progress()
        if context.resume and (folder / "state.json").is_file():
            state = self._restore(folder, optimizer, schedule)
            context.log(f"resumed after epoch {state.epoch}")
        loss_fn = nn.CrossEntropyLoss()
        for epoch in range(state.epoch + 1, cfg.epochs + 1):
            if state.stale >= cfg.patience:
                context.log(f"early stop: no better dev accuracy for {cfg.patience} epochs")
                break
            rng = np.random.default_rng([cfg.seed, epoch])
            self.modules.train()
            losses = []
            batches = list(_batches(train, cfg.batch_seconds, cfg.crop_s, rng))
            for step, (x, y) in enumerate(batches, start=1):
                optimizer.zero_grad()
                loss = loss_fn(self._logits(x, y), y)
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
                context.progress(epoch=epoch, epochs=cfg.epochs, step=step, steps=len(batches), loss=losses[-1])
            schedule.step()
            accuracy = self._accuracy(dev) if dev is not None else float("nan")
            row = {"epoch": epoch, "loss": float(np.mean(losses)), "dev_accuracy": accuracy,
                   "lr": optimizer.param_groups[0]["lr"]}  # fmt: skip
            context.epoch(row)
            context.progress(epoch=epoch, epochs=cfg.epochs, dev_accuracy=accuracy, loss=row["loss"])
            context.log(json.dumps(row))
            improved = dev is None or accuracy > state.best_accuracy
            state.epoch, state.stale = epoch, 0 if improved else state.stale + 1
            if improved:
                state.best_accuracy, state.best_epoch = accuracy if dev is not None else -1.0, epoch
                save_file(self.modules.state_dict(), folder / "best.safetensors")
            self._checkpoint(folder, epoch, optimizer, schedule, state)
        self.modules.load_state_dict(load_file(folder / "best.safetensors"))
        self.modules.eval()

    def _accuracy(self, clips: Clips) -> float:
        return float((self.scores(clips.inputs).argmax(axis=1) == clips.targets).mean())

    def _checkpoint(self, folder: Path, epoch: int, optimizer: Optimizer, schedule: LRScheduler, state: _Progress
                    ) -> None:  # fmt: skip
        save_file(self.modules.state_dict(), folder / f"epoch-{epoch:03d}.safetensors")
        torch.save({"optimizer": optimizer.state_dict(), "schedule": schedule.state_dict()},
                   folder / f"epoch-{epoch:03d}.optim.pt")  # fmt: skip
        (folder / "state.json.tmp").write_text(json.dumps(asdict(state)))
        (folder / "state.json.tmp").replace(folder / "state.json")  # the epoch counts only once complete

    def _restore(self, folder: Path, optimizer: Optimizer, schedule: LRScheduler) -> _Progress:
        state = _Progress(**json.loads((folder / "state.json").read_text()))
        epoch = state.epoch
        self.modules.load_state_dict(load_file(folder / f"epoch-{epoch:03d}.safetensors"))
        saved = torch.load(folder / f"epoch-{epoch:03d}.optim.pt", weights_only=True)
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["schedule"])
        return state

    # ---- inference and export -------------------------------------------------------------
    def _tensor(self, features: np.ndarray) -> torch.Tensor:
        frames = features if len(features) >= self.net.min_frames else tile(features, self.net.min_frames)
        return torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32)).unsqueeze(0)

    def scores(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        self.modules.eval()
        with torch.inference_mode():
            logits = [self._logits(self._tensor(f)).numpy()[0] for f in inputs]
        return log_softmax(np.stack(logits).astype(np.float64))

    def to_onnx(self, stamp: dict[str, str]) -> bytes:
        """The network as an ONNX graph (features (1, frames, dim) in; logits and embedding out),
        `stamp` and the fewest frames it reads in its metadata; checked against torch."""
        import onnx

        self.modules.eval()
        buffer = io.BytesIO()
        with warnings.catch_warnings():  # the TorchScript exporter: the newer one needs onnxscript, not installed
            warnings.simplefilter("ignore", DeprecationWarning)
            # arg-type: torch annotates only paths, but the TorchScript exporter writes to a file object too
            torch.onnx.export(_Exported(self), (torch.zeros(1, 300, self.features.dim),), buffer,  # type: ignore[arg-type]
                              input_names=["features"], output_names=["logits", "embedding"],
                              dynamic_axes={"features": {1: "frames"}}, opset_version=17, dynamo=False)  # fmt: skip
        graph = onnx.load_from_string(buffer.getvalue())
        onnx.helper.set_model_props(graph, stamp | {"dialectid.min_frames": str(self.net.min_frames)})
        data = graph.SerializeToString()
        self._check_agreement(data)
        return data

    def _check_agreement(self, graph: bytes) -> None:
        import onnxruntime

        session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        probes = [rng.normal(size=(n, self.features.dim)).astype(np.float32) for n in PROBE_FRAMES]
        exported = log_softmax(np.stack([session.run(["logits"], {"features": p[None]})[0][0] for p in probes]))
        gap = float(np.abs(np.exp(exported) - np.exp(self.scores(probes))).max())
        if gap > ONNX_TOLERANCE:
            raise DialectidError(f"the ONNX graph of the {self.name} network differs from torch by {gap:.2g} in a "
                                 f"posterior (allowed {ONNX_TOLERANCE:g}); report this with the torch version")  # fmt: skip


@dataclass
class _Progress:
    """Where training stands after an epoch, as checkpoints/state.json holds it."""

    epoch: int = 0
    best_accuracy: float = -1.0
    best_epoch: int = 0
    stale: int = 0  # epochs since the dev accuracy last improved


class _Exported(nn.Module):
    """What the ONNX graph computes: the logits and the embedding they come from."""

    def __init__(self, network: TorchNetwork) -> None:
        super().__init__()
        self.weights = network.modules  # registered, so the export sees them as the graph's weights
        self.network = network

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.network.net.embedding(features)
        return self.network._head(embedding), embedding


def _batches(clips: Clips, batch_seconds: float, crop_s: tuple[float, float], rng: np.random.Generator
             ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:  # fmt: skip
    """Batches decided by total seconds: each batch draws one crop length, so nothing is padded;
    clips shorter than the crop are repeated to fill it."""
    order = rng.permutation(len(clips.inputs))
    position = 0
    while position < len(order):
        length = int(rng.uniform(*crop_s) * FRAMES_PER_SECOND)
        count = max(1, int(batch_seconds * FRAMES_PER_SECOND / length))
        chosen = order[position : position + count]
        position += count
        if len(chosen) < 2:
            continue  # batch normalisation needs two examples; one clip left over waits for the next epoch
        crops = []
        for i in chosen:
            features = clips.inputs[i]
            if len(features) <= length:
                crops.append(tile(features, length))
            else:
                start = int(rng.integers(0, len(features) - length + 1))
                crops.append(features[start : start + length])
        yield torch.from_numpy(np.stack(crops).astype(np.float32)), torch.from_numpy(clips.targets[chosen])


def _optimizer(parameters: Iterable[nn.Parameter], cfg: TrainingConfig) -> Optimizer:
    weights = list(parameters)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(weights, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    kind = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return kind(weights, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _schedule(optimizer: Optimizer, cfg: TrainingConfig) -> LRScheduler:
    if cfg.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    if cfg.lr_schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, cfg.epochs // 3), gamma=0.3)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
