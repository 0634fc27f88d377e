"""Frame-level energy of a block-wise signal, shared by the energy VAD and quality assessment."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

FRAME_S = 0.025
HOP_S = 0.010


def frame_energies_db(blocks: Iterable[np.ndarray], sample_rate: int) -> np.ndarray:
    """Mean-square level in dBFS of 25 ms frames every 10 ms (frame i starts at i * 10 ms).

    A sine at full scale reads -3 dBFS. Blocks may have any length; frames straddle them.
    """
    frame, hop = round(FRAME_S * sample_rate), round(HOP_S * sample_rate)
    carry = np.zeros(0, dtype=np.float32)
    levels: list[np.ndarray] = []
    for block in blocks:
        signal = np.concatenate([carry, block])
        count = 0 if len(signal) < frame else (len(signal) - frame) // hop + 1
        if count:
            windows = np.lib.stride_tricks.sliding_window_view(signal, frame)[: count * hop : hop]
            levels.append(np.einsum("ij,ij->i", windows, windows, dtype=np.float64) / frame)
        carry = signal[count * hop :]
    if len(carry) and not levels:  # a signal shorter than one frame still has a level
        levels.append(np.array([np.mean(carry.astype(np.float64) ** 2)]))
    power = np.concatenate(levels) if levels else np.zeros(0)
    return 10 * np.log10(power + 1e-12)
