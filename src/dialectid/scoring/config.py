"""Settings of a recording analysis: audio stage, windows, decision thresholds, registration numbers."""

from __future__ import annotations

from pydantic import Field

from dialectid.audio import AudioConfig
from dialectid.config import StrictModel


class WindowConfig(StrictModel):
    window_s: float = Field(4.0, gt=0.5, le=60, description="seconds of speech per window")
    hop_s: float = Field(2.0, gt=0.1, le=60, description="seconds of speech between window starts")
    batch: int = Field(16, ge=1, le=512, description="windows scored together")


class DecisionConfig(StrictModel):
    min_speech_s: float = Field(3.0, ge=0, description="less net speech: insufficient_speech, no result")
    low_confidence: float = Field(0.5, gt=0, lt=1, description="top probability below this: low_confidence")
    open_set_margin: float = Field(1.0, gt=0, description="out_of_set when the novelty exceeds margin x threshold")
    bootstrap: int = Field(200, ge=10, le=5000, description="bootstrap draws over windows for the interval")
    interval: float = Field(0.95, gt=0.5, lt=1)


class ScoringConfig(StrictModel):
    audio: AudioConfig = AudioConfig()
    windows: WindowConfig = WindowConfig()
    decision: DecisionConfig = DecisionConfig()
    registration: str = Field("DID-{date}-{random}", description="fields: {date} {time} {random} {sha8}")
