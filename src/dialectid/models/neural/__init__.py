"""`xvector` and `ecapa`: networks trained with torch, scored with ONNX Runtime.

    model.py     the registered models, scored from the bundle's ONNX graph (numpy and ONNX Runtime)
    training.py  building, training and exporting a network (torch)
    layers.py    the torch layers: a TDNN x-vector and a compact ECAPA-TDNN

Importing this package loads no torch: only `training` and `layers` do, and scoring never
imports them.
"""

from dialectid.models.neural.model import (
    FRAMES_PER_SECOND,
    NETWORK_FILE,
    ONNX_TOLERANCE,
    EcapaModel,
    NetworkArgs,
    NetworkModel,
    XVectorModel,
    tile,
)

__all__ = [
    "FRAMES_PER_SECOND",
    "NETWORK_FILE",
    "ONNX_TOLERANCE",
    "EcapaModel",
    "NetworkArgs",
    "NetworkModel",
    "XVectorModel",
    "tile",
]
