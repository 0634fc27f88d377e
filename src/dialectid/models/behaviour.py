"""A bundle's behavioural fingerprint: what it answers on a few fixed probe signals.

Checksums say the files are the ones listed, not that the listing is honest: whoever edits
bundle.json (labels reversed, another sample rate) can recompute them, and the bundle then
answers wrongly without a word. So at export the bundle stores its calibrated posteriors on a few
signals made here, in code, deterministically (seeded noise, a modulated tone, a chirp: no file to
swap), label by label; before it scores anything, the loaded bundle scores the same signals again
and must give the same posteriors. Labels reversed move every probability to another label; a
changed calibration, decision input or encoder moves them too.

The check runs once per loaded bundle, on its first scoring (a Whisper model's encoder loads then
anyway), or on `dialectid model verify`: loading alone stays as fast as before.

>>> sorted(probe_signals(8000))
['chirp', 'noise', 'tone']
>>> len(probe_signals(8000)["tone"]) == PROBE_SECONDS * 8000
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dialectid.models.contract import BehaviourSection

if TYPE_CHECKING:
    from dialectid.models.bundle import Bundle

PROBES_VERSION = 1  # change the signals below only with a new version: stored fingerprints name theirs
PROBE_SECONDS = 3
TOLERANCE = 0.05  # largest change of any label's probability still taken as the same behaviour
# (an int8 encoder on another CPU moves posteriors by far less; a moved label by tens of points)


def probe_signals(sample_rate: int) -> dict[str, np.ndarray]:
    """The probes at `sample_rate`: the same numbers on every machine (NumPy's PCG64 is stable)."""
    n = PROBE_SECONDS * sample_rate
    t = np.arange(n) / sample_rate
    noise = 0.1 * np.random.default_rng(20261206).standard_normal(n)
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 4 * t))
    chirp = 0.3 * np.sin(2 * np.pi * (100 * t + (1900 / (2 * PROBE_SECONDS)) * t**2))
    return {name: signal.astype(np.float32) for name, signal in
            {"noise": noise, "tone": tone, "chirp": chirp}.items()}  # fmt: skip


def posteriors(bundle: Bundle) -> dict[str, dict[str, float]]:
    """The bundle's calibrated posteriors on each probe, label -> probability (6 decimals), on one
    BLAS thread as in scoring, so a quantised encoder sums in the same order."""
    from threadpoolctl import threadpool_limits

    contract = bundle.contract
    probes = probe_signals(contract.sample_rate)
    with threadpool_limits(limits=1):
        inputs = [contract.model_input(signal) for signal in probes.values()]
        logp = bundle.calibrator.transform(bundle.model.scores(inputs), np.full(len(inputs), float(PROBE_SECONDS)))
    return {name: {label: round(float(p), 6) for label, p in zip(bundle.labels, np.exp(row), strict=True)}
            for name, row in zip(probes, logp, strict=True)}  # fmt: skip


def fingerprint(bundle: Bundle) -> BehaviourSection:
    """What bundle.json stores under `behaviour`."""
    return BehaviourSection(probes_version=PROBES_VERSION, posteriors=posteriors(bundle))


def mismatch(bundle: Bundle, stored: BehaviourSection) -> str | None:
    """Why `bundle` does not behave as `stored` says, or None where it does."""
    if stored.probes_version != PROBES_VERSION:
        return f"its behaviour was recorded with probes version {stored.probes_version}, not {PROBES_VERSION}"
    now = posteriors(bundle)
    for probe, expected in stored.posteriors.items():
        if set(expected) != set(now.get(probe, {})):
            return f"probe {probe!r} names other labels than the bundle's"
        label = max(expected, key=lambda k: abs(expected[k] - now[probe][k]))
        if abs(expected[label] - now[probe][label]) > TOLERANCE:
            return (f"on probe {probe!r} it gives {label!r} {now[probe][label]:.3f}, but was exported giving "
                    f"{expected[label]:.3f}")  # fmt: skip
    return None
