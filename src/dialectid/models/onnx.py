"""Export a network bundle to one ONNX file: features (1, frames, dim) in, calibrated log-posteriors out.

The bundle already holds the network as an ONNX graph (`neural.NETWORK_FILE`); the export adds
the bundle's calibration to it as four nodes, so the file gives exactly `Bundle.log_posteriors`.
Inputs need at least the network's fewest frames (recorded in the graph's metadata).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dialectid.errors import DialectidError
from dialectid.models.bundle import Bundle
from dialectid.models.neural import NetworkModel


def calibrated_graph(bundle: Bundle) -> bytes:
    if not isinstance(bundle.model, NetworkModel):
        raise DialectidError(f"{bundle.path}: only xvector and ecapa bundles export to ONNX, not {bundle.model.name!r}")
    if bundle.calibrator.duration_covariate:
        raise DialectidError(f"{bundle.path}: a duration-dependent calibration cannot be exported; retrain without it")
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(bundle.model.graph)
    graph = model.graph
    scale = np.array(bundle.calibrator.scale_, dtype=np.float32)
    offset = np.asarray(bundle.calibrator.offset_, dtype=np.float32)
    graph.initializer.extend([numpy_helper.from_array(scale, "calibration_scale"),
                              numpy_helper.from_array(offset, "calibration_offset")])  # fmt: skip
    graph.node.extend([
        helper.make_node("LogSoftmax", ["logits"], ["scores"], axis=1),
        helper.make_node("Mul", ["scores", "calibration_scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "calibration_offset"], ["shifted"]),
        helper.make_node("LogSoftmax", ["shifted"], ["log_posteriors"], axis=1),
    ])  # fmt: skip
    del graph.output[:]
    graph.output.append(
        helper.make_tensor_value_info("log_posteriors", onnx.TensorProto.FLOAT, [1, len(bundle.labels)])
    )
    onnx.checker.check_model(model)
    return model.SerializeToString()


def export_onnx(bundle: Bundle, path: Path) -> Path:
    data = calibrated_graph(bundle)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
