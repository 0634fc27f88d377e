"""Arabic dialect identification (EGY, GLF, LAV, MSA, NOR) on broadcast episodes never heard in training.

Usage: nice -n 10 python experiments/arabic_dialects.py [--write reports/arabic-dialects] [--folds 5]
Writes reports/arabic-dialects.md and .json. RESEARCH USE ONLY data (../shared/corpora/
arabic_dialects_research): the report holds measured figures only; encoder outputs are cached under
runs/arabic-dialects/cache/ (ignored), so a rerun costs minutes instead of the first run's encoding.

Protocol: K-fold cross-validation on adi5-badrex (98 clips) grouped by broadcast episode
(`dialectid.data.group_folds`: an episode, even one carrying two labels, is tested in one fold and
never trained on there). The 50 adi-qcri-maher clips (no grouping known) join every training fold
and are never tested on. Every choice a system makes (regularisation) is made by an inner
episode-grouped cross-validation on the training fold alone. Out-of-fold posteriors are pooled
over the folds; 95 % intervals come from resampling episodes (whole groups) with replacement.
Then the best system (by balanced accuracy) is trained on all ADI clips and tested on the 12
MADIS-5 clips (radio, TEDx, drama: another domain), with an interval resampling clips.

Systems, all on the same folds:
(a) Whisper-base encoder states of the whole clip, mean + std, logistic regression;
(b) the same encoder, one mean + std embedding per 4 s window every 2 s (each window encoded on
    its own, as `dialectid score` does), LDA + logistic regression per window, window
    log-posteriors averaged per clip: the recipe of the `whisper-backend` bundle
    (configs/dialect-arabic.yaml); and (b') clip statistics, LDA + Gaussian back-end;
(c) an ECAPA-TDNN trained here from scratch on 40 filterbanks (4 s chunks of the training clips);
(d) MFCC + SDC statistics with logistic regression (the classical baseline, as `stats-logreg`);
(e) the training fold's majority class; (f) chance (uniform posteriors).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from dialectid.audio import IngestConfig, load_recording  # noqa: E402
from dialectid.audio.source import sha256_file  # noqa: E402
from dialectid.data import Utterance, group_folds, groups, import_corpus  # noqa: E402
from dialectid.data.importers.arabic_dialects import DIALECTS  # noqa: E402
from dialectid.evaluation import metrics as m  # noqa: E402
from dialectid.features import FeatureConfig  # noqa: E402
from dialectid.features.extract import extract  # noqa: E402
from dialectid.models.backend import EmbeddingBackend  # noqa: E402
from dialectid.models.base import Clips, FitContext, log_softmax  # noqa: E402
from dialectid.models.classical import utterance_stats  # noqa: E402
from dialectid.scoring.windows import plan_windows  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpora" / "arabic_dialects_research"
CACHE = ROOT / "runs" / "arabic-dialects" / "cache"
RATE = 16000
WINDOW_S, HOP_S = 4.0, 2.0  # the bundle's decision.window_s / hop_s
MFCC = FeatureConfig(kind="mfcc_sdc", n_mels=24, n_ceps=7, cmvn="utterance")
FBANK = FeatureConfig(kind="fbank", n_mels=40)
C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)
INNER_FOLDS = 3
DRAWS = 2000
SEED = 5
CHANCE = "(f) chance"
SHORT = {"ar-EGY": "EGY", "ar-GLF": "GLF", "ar-LAV": "LAV", "ar-MSA": "MSA", "ar-NOR": "NOR"}


# ---------------------------------------------------------------- data and cached representations


def corpus(root: Path) -> list[Utterance]:
    return [replace(u, sha256=sha256_file(u.path)) for u in import_corpus("arabic_dialects", root)]


def signal(utt: Utterance) -> np.ndarray:
    return load_recording(utt.path, IngestConfig(sample_rate=RATE)).samples()


def whisper_representations(utts: list[Utterance], threads: int) -> dict[str, dict[str, np.ndarray]]:
    """sha256 -> {"clip": mean+std of the whole clip's encoder states, "windows": one mean+std per
    4 s window every 2 s, each window encoded alone}; cached per clip under runs/ (never committed)."""
    from dialectid.models.whisper import load_encoder

    folder = CACHE / "whisper-base"
    folder.mkdir(parents=True, exist_ok=True)
    encoder, out = None, {}
    for n, utt in enumerate(utts, start=1):
        path = folder / f"{utt.sha256}.npz"
        if not path.is_file():
            encoder = encoder or load_encoder(None, threads)
            audio = signal(utt)
            plan = plan_windows(len(audio) / RATE, WINDOW_S, HOP_S)
            windows = [audio[round(a * RATE) : round(b * RATE)] for a, b in plan]
            np.savez(path.with_suffix(".tmp.npz"), clip=encoder.embedding(audio),
                     windows=np.stack([encoder.embedding(w) for w in windows]))  # fmt: skip
            path.with_suffix(".tmp.npz").replace(path)
            print(f"encoded {n}/{len(utts)} {utt.id}", flush=True)
        with np.load(path) as data:
            out[utt.sha256] = {"clip": data["clip"], "windows": data["windows"]}
    return out


def feature_representations(utts: list[Utterance]) -> dict[str, dict[str, np.ndarray]]:
    """sha256 -> {"mfcc": MFCC+SDC statistics, "fbank": filterbank frames}, cached under runs/."""
    folder = CACHE / "features"
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for utt in utts:
        path = folder / f"{utt.sha256}.npz"
        if not path.is_file():
            audio = signal(utt)
            np.savez(path.with_suffix(".tmp.npz"), mfcc=utterance_stats(extract(audio, MFCC)),
                     fbank=extract(audio, FBANK).astype(np.float32))  # fmt: skip
            path.with_suffix(".tmp.npz").replace(path)
        with np.load(path) as data:
            out[utt.sha256] = {"mfcc": data["mfcc"], "fbank": data["fbank"]}
    return out


# ---------------------------------------------------------------- systems: fit on some clips, score others


class Data:
    """Every clip's labels, groups and representations, indexed like `utts`."""

    def __init__(self, utts: list[Utterance], whisper: dict, features: dict) -> None:
        self.utts = utts
        self.y = np.array([DIALECTS.index(u.label) for u in utts])
        group_of = {u.id: n for n, group in enumerate(groups(utts)) for u in group}
        self.group = np.array([group_of[u.id] for u in utts])
        self.clip = np.stack([whisper[u.sha256]["clip"] for u in utts])
        self.windows = [whisper[u.sha256]["windows"] for u in utts]
        self.mfcc = np.stack([features[u.sha256]["mfcc"] for u in utts])
        self.fbank = [features[u.sha256]["fbank"] for u in utts]


def _full(logp: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Log-posteriors over all five dialects from a classifier that saw only `present` ones."""
    out = np.full((len(logp), len(DIALECTS)), -30.0)
    out[:, present] = logp
    return log_softmax(out)


def stats_logreg(x: np.ndarray):
    """Standardised statistics, multinomial logistic regression with inverse regularisation c."""

    def fit(data: Data, train: np.ndarray, c: float):
        from sklearn.linear_model import LogisticRegression

        mean, scale = x[train].mean(axis=0), x[train].std(axis=0)
        scale = np.where(scale > 1e-6, scale, 1.0)
        model = LogisticRegression(C=c, max_iter=5000).fit((x[train] - mean) / scale, data.y[train])
        return lambda test: _full(model.predict_log_proba((x[test] - mean) / scale), model.classes_)

    return fit


def window_backend(data: Data, train: np.ndarray, c: float):
    """LDA + logistic regression on every 4 s window; a clip's score is its windows' mean log-posterior."""
    x = np.concatenate([data.windows[i] for i in train])
    y = np.concatenate([np.full(len(data.windows[i]), data.y[i]) for i in train])
    backend = EmbeddingBackend(len(DIALECTS), "logreg", c=c, seed=SEED).fit(x, y)
    return lambda test: np.stack([log_softmax(backend.scores(data.windows[i]).mean(axis=0, keepdims=True))[0]
                                  for i in test])  # fmt: skip


def clip_gaussian(data: Data, train: np.ndarray, c: float):
    backend = EmbeddingBackend(len(DIALECTS), "gaussian", seed=SEED).fit(data.clip[train], data.y[train])
    return lambda test: backend.scores(data.clip[test])


def majority(data: Data, train: np.ndarray, c: float):
    counts = np.bincount(data.y[train], minlength=len(DIALECTS)) + 1.0
    prior = np.log(counts / counts.sum())
    return lambda test: np.tile(prior, (len(test), 1))


def chance(data: Data, train: np.ndarray, c: float):
    return lambda test: np.full((len(test), len(DIALECTS)), -np.log(len(DIALECTS)))


ECAPA_EPOCHS = 3  # a CPU budget: 2 shared cores, five folds
CHUNK_FRAMES = 400  # training clips cut into 4 s chunks, so that an epoch sees all of their audio


def ecapa(data: Data, train: np.ndarray, c: float):
    """A small ECAPA-TDNN from scratch (fixed recipe: nothing tuned on test episodes)."""
    import torch

    from dialectid.models.neural import EcapaModel
    from dialectid.train.config import TrainingConfig

    torch.set_num_threads(2)
    chunks, targets = [], []
    for i in train:
        frames = data.fbank[i]
        for start in range(0, max(1, len(frames) - CHUNK_FRAMES // 2), CHUNK_FRAMES):
            chunks.append(frames[start : start + CHUNK_FRAMES])
            targets.append(data.y[i])
    clips = Clips(chunks, np.array(targets), np.zeros(len(chunks)))
    training = TrainingConfig(epochs=ECAPA_EPOCHS, batch_seconds=96, crop_s=(2.0, 4.0), lr=0.002, seed=SEED)
    with tempfile.TemporaryDirectory() as run_dir:
        context = FitContext(seed=SEED, threads=2, training=training, run_dir=run_dir)
        args = {"channels": 64, "embedding": 64, "loss": "aam"}
        model = EcapaModel(list(DIALECTS), FBANK, args).fit(clips, None, context)
    return lambda test: model.scores([data.fbank[i] for i in test])


SYSTEMS = {  # name -> (fit(data, train, c) -> score(test), tuned by inner CV)
    "(a) Whisper clip mean+std, logistic": (lambda d, t, c: stats_logreg(d.clip)(d, t, c), True),
    "(b) Whisper 4 s windows, LDA + logistic, mean of windows": (window_backend, True),
    "(b') Whisper clip mean+std, LDA + Gaussian": (clip_gaussian, False),
    "(c) ECAPA-TDNN from scratch, filterbanks": (ecapa, False),
    "(d) MFCC+SDC statistics, logistic": (lambda d, t, c: stats_logreg(d.mfcc)(d, t, c), True),
    "(e) majority class": (majority, False),
    CHANCE: (chance, False),
}


def choose_c(data: Data, fit, train: np.ndarray) -> float:
    """The c with the best inner cross-validated log-likelihood, on episode-grouped folds of the
    training clips only."""
    inner = group_folds([data.utts[i] for i in train], INNER_FOLDS, SEED)
    position = {data.utts[i].id: i for i in train}
    best, best_c = -np.inf, C_GRID[0]
    for c in C_GRID:
        total = 0.0
        for fold in inner.values():
            a = np.array([position[u.id] for u in fold["train"]])
            b = np.array([position[u.id] for u in fold["test"]])
            total += fit(data, a, c)(b)[np.arange(len(b)), data.y[b]].sum()
        if total > best:
            best, best_c = total, c
    return best_c


SLOW = {"(c) ECAPA-TDNN from scratch, filterbanks": f"ecapa-64ch-{ECAPA_EPOCHS}ep-{CHUNK_FRAMES}f-s{SEED}"}


def cached_scores(system: str, fold: str, data: Data, test: np.ndarray, score) -> np.ndarray:
    """The slow systems' out-of-fold scores are kept under runs/ (by recipe, fold and test clips), so
    that a rerun of the report does not retrain the networks."""
    if system not in SLOW:
        return score()
    ids = "".join(sorted(data.utts[i].sha256 for i in test))
    path = CACHE / "cv" / f"{SLOW[system]}-{fold}-{hashlib.sha256(ids.encode()).hexdigest()[:12]}.npy"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path.with_suffix(".tmp.npy"), score())
        path.with_suffix(".tmp.npy").replace(path)
    return np.load(path)


def cross_validate(data: Data, tested: np.ndarray, extra: np.ndarray, k: int) -> dict:
    """Out-of-fold log-posteriors of every system on the `tested` clips, `extra` in every training fold."""
    folds = group_folds([data.utts[i] for i in tested], k, SEED)
    position = {u.id: i for i, u in enumerate(data.utts)}
    out = {name: np.zeros((len(data.utts), len(DIALECTS))) for name in SYSTEMS}
    chosen: dict[str, list[float]] = defaultdict(list)
    for name, fold in folds.items():
        test = np.array([position[u.id] for u in fold["test"]])
        train = np.concatenate([[position[u.id] for u in fold["train"]], extra]).astype(int)
        assert not set(data.group[test]) & set(data.group[train]), "an episode in training and test"
        for system, (fit, tuned) in SYSTEMS.items():
            start = time.time()
            c = choose_c(data, fit, train) if tuned else 1.0
            out[system][test] = cached_scores(
                system,
                f"k{k}-{name}",
                data,
                test,
                lambda fit=fit, train=train, c=c, test=test: fit(data, train, c)(test),
            )
            if tuned:
                chosen[system].append(c)
            print(f"{name} {system}: c={c:g} {time.time() - start:.0f}s "
                  f"acc {m.accuracy(out[system][test], data.y[test]):.2f}", flush=True)  # fmt: skip
    return {"logp": {s: v[tested] for s, v in out.items()}, "c": dict(chosen), "folds": len(folds)}


# ---------------------------------------------------------------- figures


def figures(logp: np.ndarray, y: np.ndarray) -> dict:
    recall = m.per_class(logp, y)["recall"]
    return {"n": int(len(y)), "accuracy": m.accuracy(logp, y), "balanced_accuracy": m.balanced_accuracy(logp, y),
            "cavg": m.cavg(logp, y), "min_cavg": m.min_cavg(logp, y),
            "recall": {SHORT[d]: (None if np.isnan(r) else float(r)) for d, r in zip(DIALECTS, recall, strict=True)},
            "confusion": m.confusion(logp, y).tolist()}  # fmt: skip


def chance_row(uniform: np.ndarray, y: np.ndarray, reference_accuracy: float) -> dict:
    """A uniform random guess: every figure is its expectation (1/5 right, whichever clips are
    drawn), Cavg that of uniform posteriors (0.5)."""
    share = 1.0 / len(DIALECTS)
    present = {SHORT[DIALECTS[i]] for i in np.unique(y)}
    return {"n": int(len(y)), "accuracy": share, "balanced_accuracy": share, "cavg": m.cavg(uniform, y),
            "min_cavg": m.min_cavg(uniform, y), "recall": {s: share if s in present else None for s in SHORT.values()},
            "confusion": None, "intervals": None, "expected": True,
            GAIN: {"value": share - reference_accuracy, "interval": None}}  # fmt: skip


def draws(group: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """DRAWS resamples of whole groups with replacement, as clip indices."""
    names = np.unique(group)
    members = {g: np.flatnonzero(group == g) for g in names}
    return [np.concatenate([members[g] for g in rng.choice(names, size=len(names))]) for _ in range(DRAWS)]


def interval(values: list[float]) -> list[float]:
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return [float(low), float(high)]


def with_intervals(logp: dict[str, np.ndarray], y: np.ndarray, group: np.ndarray, reference: str) -> dict:
    """Figures of every system, 95 % intervals of accuracy, balanced accuracy and Cavg over the same
    resampled groups, and each system's accuracy gain over `reference` (paired, same resamples)."""
    samples = draws(group, np.random.default_rng(SEED))
    out = {}
    for name, scores in logp.items():
        if name == CHANCE:
            out[name] = chance_row(scores, y, m.accuracy(logp[reference], y))
            continue
        row = figures(scores, y)
        values = defaultdict(list)
        for pick in samples:
            values["accuracy"].append(m.accuracy(scores[pick], y[pick]))
            values["balanced_accuracy"].append(m.balanced_accuracy(scores[pick], y[pick]))
            values["cavg"].append(m.cavg(scores[pick], y[pick]))
            values["gain"].append(values["accuracy"][-1] - m.accuracy(logp[reference][pick], y[pick]))
        row["intervals"] = {key: interval(v) for key, v in values.items() if key != "gain"}
        row["gain_over_" + reference.split(" ", 1)[1].replace(" ", "_")] = {
            "value": row["accuracy"] - m.accuracy(logp[reference], y),
            "interval": interval(values["gain"]),
        }
        out[name] = row
    return out


BUNDLE_RECIPE = "(b) Whisper 4 s windows, LDA + logistic, mean of windows"


THRESHOLDS = (0.5, 0.6, 0.7, 0.8)


def selective(logp: np.ndarray, y: np.ndarray) -> list[dict]:
    """How a 'dialect uncertain' line on the top posterior trades answers for accuracy."""
    top, right = np.exp(logp.max(axis=1)), logp.argmax(axis=1) == y
    return [{"threshold": t, "named": float((top >= t).mean()), "n_named": int((top >= t).sum()),
             "accuracy_named": float(right[top >= t].mean()) if (top >= t).any() else None} for t in THRESHOLDS]  # fmt: skip


def cross_domain(data: Data, adi: np.ndarray, madis: np.ndarray, best: str) -> dict:
    """The best system and the bundle's recipe trained on every ADI clip (c by inner CV over ADI
    episodes), tested on MADIS-5, beside the majority class of ADI."""
    logp, chosen = {}, {}
    for system in dict.fromkeys([best, BUNDLE_RECIPE]):
        fit, tuned = SYSTEMS[system]
        c = choose_c(data, fit, adi) if tuned else 1.0
        logp[system] = fit(data, adi, c)(madis)
        if tuned:
            chosen[system] = c
    logp["(e) majority class"] = majority(data, adi, 1.0)(madis)
    y = data.y[madis]
    rows = with_intervals(logp, y, np.arange(len(madis)), "(e) majority class")  # 12 clips, no groups known
    return {"c": chosen, "systems": rows, "labels_present": sorted({SHORT[DIALECTS[i]] for i in y})}


# ---------------------------------------------------------------- report


def pct(value: float | None) -> str:
    return "n/a" if value is None or np.isnan(value) else f"{100 * value:.1f} %"


def span(bounds: list[float] | None, scale: float = 100.0, unit: str = " %") -> str:
    if bounds is None:
        return "-"
    if scale == 1.0:
        return f"{bounds[0]:.3f}-{bounds[1]:.3f}"
    return f"{scale * bounds[0]:.1f}-{scale * bounds[1]:.1f}{unit}"


def best_system(rows: dict) -> str:
    trained = {k: v for k, v in rows.items() if not k.startswith(("(e)", "(f)"))}
    return max(trained, key=lambda k: (trained[k]["balanced_accuracy"], trained[k]["accuracy"]))


GAIN = "gain_over_majority_class"


def verdict(result: dict) -> list[str]:
    rows = result["cv"]["systems"]
    best = best_system(rows)
    row, base = rows[best], rows["(e) majority class"]
    above = row[GAIN]["interval"][0] > 0
    madis = result["madis"]["systems"]
    cross, cross_base = madis[best], madis["(e) majority class"]
    return [
        f"**Verdict: the best system, {best}, is {'above' if above else 'NOT clearly above'} the majority "
        f"baseline on broadcast episodes never heard in training.** Accuracy {pct(row['accuracy'])} "
        f"(95 % interval {span(row['intervals']['accuracy'])}) against {pct(base['accuracy'])} for always "
        f"answering the majority class; the paired gain is {100 * row[GAIN]['value']:+.1f} points "
        f"(interval {span(row[GAIN]['interval'], unit=' points')}). Balanced accuracy "
        f"{pct(row['balanced_accuracy'])} ({span(row['intervals']['balanced_accuracy'])}) against 20 % for "
        f"the majority class and for chance; Cavg {row['cavg']:.3f} ({span(row['intervals']['cavg'], 1.0)}), "
        "0.5 for an uninformative system.",
        "",
        f"On another domain (12 MADIS-5 clips: radio, TEDx, drama) the same system trained on all ADI clips "
        f"is right on {pct(cross['accuracy'])} (interval over clips {span(cross['intervals']['accuracy'])}), "
        f"against {pct(cross_base['accuracy'])} for the majority class: "
        + ("above it." if cross[GAIN]["interval"][0] > 0 else "not clearly above it; 12 clips cannot show more."),
    ]


def render(result: dict) -> str:
    cv, madis = result["cv"], result["madis"]
    rows = cv["systems"]
    best = best_system(rows)
    lines = ["# Arabic dialects on unseen broadcast episodes", "", *verdict(result), "",
             f"Generated by `nice -n 10 python experiments/arabic_dialects.py --write reports/arabic-dialects` "
             f"in {result['seconds'] / 60:.0f} minutes on 2 shared CPU cores. Data: ../shared/corpora/"
             "arabic_dialects_research, **research use only** (ADI-5 / VarDial Al Jazeera broadcast speech and "
             "MADIS-5 clips; no open licence for the audio): only these measured figures are in the repository, "
             "no clip, feature or model.", "",
             "## Protocol", "",
             f"- {result['counts']['tested']} adi5-badrex clips in {result['counts']['episodes']} broadcast episodes "
             f"({result['counts']['per_dialect']}); {cv['folds']}-fold cross-validation grouped by episode "
             "(`dialectid.data.group_folds`; the 4 episodes that carry two labels stay whole in one fold). "
             "No test episode is ever in its training fold (checked in every fold).",
             f"- The {result['counts']['train_only']} adi-qcri-maher clips (no grouping known) join every training "
             "fold and are never tested on.",
             "- Regularisation (c of the logistic regressions, from "
             + ", ".join(f"{c:g}" for c in C_GRID)
             + f") is chosen per fold by a {INNER_FOLDS}-fold episode-grouped cross-validation of the training fold "
             "alone (best held-out log-likelihood); the ECAPA-TDNN has a fixed recipe on a CPU budget (64 channels, "
             f"{ECAPA_EPOCHS} epochs over 4 s chunks, AAM loss; 2 shared cores for five folds), nothing tuned.",
             f"- Out-of-fold posteriors pooled over the folds; 95 % intervals: {DRAWS} bootstrap resamples of whole "
             "episodes. Gains over the majority class are paired (same resamples).",
             "- Whisper windows: 4 s every 2 s over the whole clip (no VAD), each encoded alone, as the "
             "`whisper-backend` bundle is trained; the clip statistics come from one pass over the clip.",
             "- The best system is picked on these same folds, so its figure is slightly optimistic; the other "
             "rows show how much the choice matters.", "",
             "## Results (episode-grouped cross-validation, adi5-badrex)", "",
             "| system | accuracy | 95 % interval | balanced acc. | 95 % interval | Cavg | 95 % interval | min Cavg | "
             "gain over majority (points) | recall EGY / GLF / LAV / MSA / NOR |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    for name, row in rows.items():
        recall = " / ".join(f"{100 * v:.0f}" if v is not None else "-" for v in row["recall"].values())
        gain, bounds = row[GAIN], row["intervals"] or {}
        lines.append(f"| {name} | {pct(row['accuracy'])} | {span(bounds.get('accuracy'))} | "
                     f"{pct(row['balanced_accuracy'])} | {span(bounds.get('balanced_accuracy'))} | "
                     f"{row['cavg']:.3f} | {span(bounds.get('cavg'), 1.0)} | {row['min_cavg']:.3f} | "
                     f"{100 * gain['value']:+.1f} ({span(gain['interval'], unit='')}) | {recall} |")  # fmt: skip
    lines += ["", "(f) is the expectation of a uniform random guess (no interval: 1 in 5 whatever is drawn)."]
    lines += ["", "Regularisation chosen per fold: " + "; ".join(
        f"{name.split(' ', 1)[0]} c = {', '.join(f'{c:g}' for c in cs)}" for name, cs in cv["c"].items()), ""]  # fmt: skip
    for name in dict.fromkeys([best, BUNDLE_RECIPE]):
        lines += [f"Confusion of {name} (rows: true, columns: predicted; clips):", "",
                  "| | " + " | ".join(SHORT.values()) + " |", "|---|" + "---:|" * len(SHORT)]  # fmt: skip
        for dialect, counts in zip(SHORT.values(), rows[name]["confusion"], strict=True):
            lines.append(f"| {dialect} | " + " | ".join(str(c) for c in counts) + " |")
        lines.append("")
    lines += ["## A 'dialect uncertain' line", "",
              "Out-of-fold posteriors of the back-ends as they come (the bundle adds a temperature calibration "
              "fitted on held-out episodes, which moves these lines): naming a dialect only when its posterior "
              "reaches the line.", "",
              "| system | line | clips named | accuracy on named clips |", "|---|---:|---:|---:|"]  # fmt: skip
    for name, steps in result.get("selective", {}).items():
        for step in steps:
            lines.append(f"| {name} | {step['threshold']:.1f} | {pct(step['named'])} ({step['n_named']}) | "
                         f"{pct(step['accuracy_named'])} |")  # fmt: skip
    lines += ["", f"## Another domain: MADIS-5 ({madis['systems'][best]['n']} clips, "
              f"{', '.join(madis['labels_present'])}; no MSA)", "",
              f"The best system{' and the bundle recipe (b)' if best != BUNDLE_RECIPE else ''} trained on all "
              f"{result['counts']['tested'] + result['counts']['train_only']} ADI clips ("
              + "; ".join(f"{name.split(' ', 1)[0]} c = {c:g}" for name, c in madis["c"].items())
              + " chosen by episode-grouped CV on ADI), tested on the MADIS-5 clips. Intervals resample clips "
              "(no grouping is known), so they are wide.", "",
              "| system | accuracy | 95 % interval | balanced acc. | recall EGY / GLF / LAV / MSA / NOR |",
              "|---|---:|---:|---:|---|"]  # fmt: skip
    for name, row in madis["systems"].items():
        recall = " / ".join(f"{100 * v:.0f}" if v is not None else "-" for v in row["recall"].values())
        lines.append(f"| {name} | {pct(row['accuracy'])} | {span((row['intervals'] or {}).get('accuracy'))} | "
                     f"{pct(row['balanced_accuracy'])} | {recall} |")  # fmt: skip
    lines += ["", "## What this can and cannot show", "",
              "- Tiny data: 98 test clips in 59 distinct episodes, Gulf 8 clips from 7 episodes, so every interval "
              "is wide and a per-dialect recall rests on a handful of episodes.",
              "- Segment labels of talk shows are noisy (guests of other dialects, MSA mixed in); the same TV "
              "channel carries every class, so the channel is no shortcut between classes.",
              "- No Iraqi, Sudanese or country-level dialects; only broadcast speech was tested in-domain. The "
              "MADIS-5 row says how far the model travels to other domains, on 12 clips.",
              "- Nothing here is telephone speech: the `dialect-arabic` bundle has not been measured on telephone "
              "calls, where the toolkit is used.", "",
              "## Reproduce and build the bundle", "",
              "```bash",
              "nice -n 10 python experiments/arabic_dialects.py --write reports/arabic-dialects",
              "python scripts/build_arabic_dialects_data.py && dialectid train configs/dialect-arabic.yaml",
              "```", "",
              "The second line writes the manifests under runs/arabic-dialects/ (ignored) and builds the "
              "`dialect-arabic` bundle (system (b), the `whisper-backend` model) into runs/dialect-arabic/bundle; "
              "never commit either.", ""]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", type=Path, help="reports/arabic-dialects: writes .md and .json")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reuse", action="store_true", help="re-render the figures already in --write's JSON")
    args = parser.parse_args()
    if args.reuse and args.write:
        result = json.loads(args.write.with_suffix(".json").read_text())
        args.write.with_suffix(".md").write_text(render(result))
        return
    start = time.time()
    utts = corpus(args.corpus)
    data = Data(utts, whisper_representations(utts, args.threads), feature_representations(utts))
    subset = np.array([u.extra["subset"] for u in utts])
    tested, extra = np.flatnonzero(subset == "adi5-badrex"), np.flatnonzero(subset == "adi-qcri-maher")
    madis = np.flatnonzero(subset == "madis5-ziad")
    cv = cross_validate(data, tested, extra, args.folds)
    rows = with_intervals(cv["logp"], data.y[tested], data.group[tested], "(e) majority class")
    result = {"cv": {"folds": cv["folds"], "c": cv["c"], "systems": rows}}
    y = data.y[tested]
    shown = dict.fromkeys([best_system(rows), BUNDLE_RECIPE])
    result["selective"] = {name: selective(cv["logp"][name], y) for name in shown}
    result["madis"] = cross_domain(data, np.concatenate([tested, extra]), madis, best_system(rows))
    per = ", ".join(f"{SHORT[d]} {int((data.y[tested] == i).sum())}" for i, d in enumerate(DIALECTS))
    result["counts"] = {"tested": len(tested), "train_only": len(extra), "madis": len(madis), "per_dialect": per,
                        "episodes": len(np.unique(data.group[tested]))}  # fmt: skip
    result["seconds"] = time.time() - start
    text = render(result)
    print(text)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.with_suffix(".md").write_text(text)
        args.write.with_suffix(".json").write_text(json.dumps(result, indent=1, default=float) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    main()
