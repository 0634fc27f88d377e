"""The `xvector` and `ecapa` models as a bundle holds them: scored from an ONNX graph, no torch.

Training (`training.py`) needs torch. The network then travels in the bundle as an
ONNX graph, `network/model.onnx`, with two outputs (logits and embedding) and what it was made
for written into the graph's metadata: model, args, labels, feature settings and the fewest frames
it reads. Scoring runs that graph with ONNX Runtime and never imports torch. The graph is checked
against torch on probe inputs when it is made (`ONNX_TOLERANCE`), and against the bundle's own
description whenever it is loaded, so what bundle.json says is what runs.

The graph is read from memory, never from a path: an ONNX file may name external files for its
weights, and a bundle's graph may not reach outside the bundle.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from dialectid.config import StrictModel
from dialectid.models.base import Clips, FitContext, LidModel, Shape, compute_threads, log_softmax
from dialectid.paths import inside

NETWORK_FILE = "network/model.onnx"
ONNX_TOLERANCE = 1e-4  # the most a posterior may differ between torch and ONNX Runtime
FRAMES_PER_SECOND = 100  # features are framed every 10 ms


class NetworkArgs(StrictModel):
    channels: int = Field(128, ge=8, le=1024)
    embedding: int = Field(128, ge=8, le=1024)
    loss: Literal["softmax", "aam"] = "softmax"
    aam_margin: float = Field(0.2, ge=0, le=0.5)
    aam_scale: float = Field(30.0, gt=0)


class NetworkModel(LidModel):
    """Shared by the x-vector and the ECAPA-TDNN: trained by torch, scored from the ONNX graph."""

    Args = NetworkArgs
    args: NetworkArgs
    graph: bytes = b""  # the ONNX graph, as the bundle stores it

    def fit(self, train: Clips, dev: Clips | None, context: FitContext) -> NetworkModel:
        from dialectid.models.neural.training import TorchNetwork

        network = TorchNetwork(self.name, self.labels, self.features, self.args).fit(train, dev, context)
        self.load_graph(network.to_onnx(self.stamp()))
        return self

    def stamp(self) -> dict[str, str]:
        """What the graph is made for, as its metadata records it."""
        return {"dialectid.model": self.name, "dialectid.args": json.dumps(self.args.model_dump(mode="json")),
                "dialectid.labels": json.dumps(self.labels), "dialectid.features": self.features.model_dump_json()}  # fmt: skip

    def load_graph(self, graph: bytes) -> None:
        """Score with the ONNX graph `graph`, after checking it was made for this model."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = compute_threads(os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        try:
            session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        except Exception as err:  # ONNX Runtime raises its own types (InvalidProtobuf, Fail, ...)
            raise ValueError(f"{NETWORK_FILE} is not a graph ONNX Runtime can run ({_first_line(err)})") from None
        stamp = session.get_modelmeta().custom_metadata_map
        self._check(stamp, session)
        self.session, self.graph, self.min_frames = session, graph, int(stamp["dialectid.min_frames"])

    def _check(self, stamp: dict[str, str], session: Any) -> None:
        """The graph was made for this model, these args, labels and features."""
        for key, value in self.stamp().items():
            if stamp.get(key) != value:
                raise ValueError(_mismatch(key.removeprefix("dialectid."), stamp.get(key), value))
        if not stamp.get("dialectid.min_frames", "").isdigit():
            raise ValueError(f"{NETWORK_FILE} does not record the fewest frames it reads")
        inputs = [(i.name, i.shape[-1]) for i in session.get_inputs()]
        outputs = [(o.name, o.shape[-1]) for o in session.get_outputs()]
        wanted = [("logits", len(self.labels)), ("embedding", self.args.embedding)]
        if inputs != [("features", self.features.dim)] or outputs != wanted:
            raise ValueError(f"{NETWORK_FILE} has shape {inputs} -> {outputs}, "
                             f"not [('features', {self.features.dim})] -> {wanted}")  # fmt: skip

    def _run(self, output: str, inputs: Sequence[np.ndarray]) -> np.ndarray:
        rows = [self.session.run([output], {"features": self._batch(f)})[0][0] for f in inputs]
        return np.stack(rows).astype(np.float64)

    def _batch(self, features: np.ndarray) -> np.ndarray:
        frames = features if len(features) >= self.min_frames else tile(features, self.min_frames)
        return np.ascontiguousarray(frames, dtype=np.float32)[None]

    def scores(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return log_softmax(self._run("logits", inputs))

    def embeddings(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return self._run("embedding", inputs)

    def state(self) -> dict[str, np.ndarray]:
        return {}  # every weight is in the graph

    def state_shapes(self) -> dict[str, Shape]:
        return {}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Nothing to load: `unpack` read the graph, and the bundle holds no other model arrays."""

    def pack(self, folder: Path) -> dict[str, Any]:
        (folder / NETWORK_FILE).parent.mkdir(parents=True, exist_ok=True)
        (folder / NETWORK_FILE).write_bytes(self.graph)
        return super().pack(folder)

    def unpack(self, folder: Path) -> None:
        file = inside(folder, NETWORK_FILE)
        if not file.is_file():
            raise ValueError(f"{NETWORK_FILE} is missing (bundles made before networks were scored with ONNX "
                             "Runtime lack it)")  # fmt: skip
        self.load_graph(file.read_bytes())


class XVectorModel(NetworkModel):
    """A TDNN x-vector network with statistics pooling."""

    name = "xvector"


class EcapaModel(NetworkModel):
    """A compact ECAPA-TDNN (SE-Res2Net blocks, attentive statistics pooling)."""

    name = "ecapa"


def tile(features: np.ndarray, frames: int) -> np.ndarray:
    """`features` repeated to `frames` frames (zeros if there are none)."""
    if len(features) == 0:
        return np.zeros((frames, features.shape[1]), dtype=np.float32)
    return np.resize(features, (frames, features.shape[1]))


def _mismatch(what: str, made_for: str | None, described: str) -> str:
    """Where the graph's record and the bundle's description differ: the first differing setting."""
    try:
        theirs, ours = json.loads(made_for or "null"), json.loads(described)
    except ValueError:
        theirs = ours = None
    if isinstance(theirs, dict) and isinstance(ours, dict):
        key = next(k for k in sorted(theirs.keys() | ours.keys()) if theirs.get(k) != ours.get(k))
        what, made_for, described = f"{what}.{key}", json.dumps(theirs.get(key)), json.dumps(ours.get(key))
    return f"{NETWORK_FILE} was made for {what} {made_for or 'nothing'}, but bundle.json says {described}"


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
