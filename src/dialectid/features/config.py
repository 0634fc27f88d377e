"""`FeatureConfig`: everything that decides the features of a recording, hashed as the cache key."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import Field, model_validator

from dialectid.config import StrictModel


class SdcConfig(StrictModel):
    """Shifted delta cepstra N-d-P-k: N cepstra, deltas over +-d frames, k blocks P frames apart."""

    n: int = Field(7, ge=1)
    d: int = Field(1, ge=1)
    p: int = Field(3, ge=1)
    k: int = Field(7, ge=1)


class FeatureConfig(StrictModel):
    kind: Literal["fbank", "mfcc", "mfcc_sdc"] = "fbank"
    sample_rate: Literal[8000, 16000] = 16000
    channel_policy: Literal["mean", "loudest"] = "mean"
    n_mels: int = Field(40, ge=8, le=128)
    n_ceps: int = Field(20, ge=2, le=80, description="mfcc, mfcc_sdc: cepstra kept (c0 included)")
    frame_length_ms: float = Field(25.0, gt=0, le=100)
    frame_shift_ms: float = Field(10.0, gt=0, le=100)
    dither: float = Field(0.0, ge=0, description="Gaussian dither in 16-bit sample units, seeded per call")
    low_freq: float = Field(20.0, ge=0)
    high_freq: float = Field(0.0, description="0: Nyquist; negative: that far below Nyquist (Kaldi)")
    cmvn: Literal["none", "utterance", "sliding"] = "utterance"
    cmvn_window: int = Field(300, ge=10, description="sliding: window in frames")
    cmvn_variance: bool = Field(False, description="also scale to unit variance")
    sdc: SdcConfig = SdcConfig()

    @model_validator(mode="after")
    def _consistent(self) -> FeatureConfig:
        nyquist = self.sample_rate / 2
        top = self.high_freq if self.high_freq > 0 else nyquist + self.high_freq
        if not self.low_freq < top <= nyquist:
            raise ValueError(f"need low_freq < high_freq <= {nyquist:g} Hz (got {self.low_freq:g}-{top:g})")
        if self.kind != "fbank" and self.n_ceps > self.n_mels:
            raise ValueError("n_ceps must not exceed n_mels")
        if self.kind == "mfcc_sdc" and self.sdc.n > self.n_ceps:
            raise ValueError("sdc.n must not exceed n_ceps")
        if self.frame_shift_ms > self.frame_length_ms:
            raise ValueError("frame_shift_ms must not exceed frame_length_ms")
        return self

    @property
    def dim(self) -> int:
        """Values per frame."""
        if self.kind == "fbank":
            return self.n_mels
        if self.kind == "mfcc":
            return self.n_ceps
        return self.n_ceps + self.sdc.n * self.sdc.k

    def digest(self) -> str:
        """A short hash of every setting: equal configs, equal features."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]
