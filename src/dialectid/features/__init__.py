"""Features: filterbanks, MFCC, SDC and CMVN through torchaudio's Kaldi-compatible functions.

Import `dialectid.features.extract` (it loads torch) only where features are computed.
"""

from dialectid.features.config import FeatureConfig, SdcConfig

__all__ = ["FeatureConfig", "SdcConfig"]
