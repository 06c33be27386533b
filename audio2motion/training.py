"""Training of the audio-to-motion flows by negative log-likelihood (paper section 3.3).

Input: a folder of prepared clips (see `audio2motion.dataset`). The clips are split into train
and held-out sets by clip (or by the clips' "group"), normalisation statistics come from the
training split, and Adam minimises the per-frame NLL of random windows with teacher forcing
(the k previous motions in the condition are the real ones).

Output folder:

    <out>/checkpoints/step-0001000/   model (config.json + model.safetensors), optimizer.safetensors,
                                      trainer_state.json, train_config.json
    <out>/best/                       the model with the lowest held-out NLL so far; the two flows
                                      are early-stopped separately (each flow's weights are those
                                      of its own best held-out NLL), as the pose flow of a small
                                      data set starts to overfit long before the expression flow
    <out>/final/                      the model after the last step

Resuming picks the newest checkpoint; batches are drawn from an RNG seeded by (seed, step), so
a resumed run sees exactly the batches an uninterrupted one would. Nothing is pickled: the
optimizer state is stored as safetensors plus JSON.

CLI: `pirender audio-train` or `python -m audio2motion.training` (`train_main(argv)`); its flags are generated from
`TrainConfig`.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import shutil
import sys
import time
import typing
from collections.abc import Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from core.errors import CheckpointError, InputError, PIRenderError
from weights.loading import load_safetensors, read_json, save_safetensors, write_json

from .audio import AudioFeatureConfig
from .dataset import ClipArrays, WindowSampler, discover_clips, load_clips, rest_reference, split_clips
from .evaluate import held_out_nll
from .flows import FlowConfig
from .model import AudioToMotion, AudioToMotionConfig, NormalizationStats, lip_windows
from .phonetics import PhoneticConfig

__all__ = [
    "TrainConfig",
    "TrainResult",
    "train",
    "train_main",
    "parse_train_args",
    "held_out_nll",
    "select_device",
]

logger = logging.getLogger(__name__)

_CHECKPOINT_PREFIX = "step-"
_MAX_BAD_STEPS = 20


def _opt(default: Any, help_text: str) -> Any:
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; the CLI flags of `train_main` are generated from these fields."""

    data_dir: str = field(metadata={"help": "folder of prepared clips (.npz motion + audio/video)"})
    out_dir: str = field(metadata={"help": "folder for checkpoints and the trained model"})
    steps: int = _opt(20000, "total optimisation steps")
    batch_size: int = _opt(16, "windows per batch")
    window: int = _opt(50, "target frames per training window")
    learning_rate: float = _opt(5e-4, "Adam learning rate after warm-up")
    warmup_steps: int = _opt(500, "linear learning-rate warm-up steps")
    min_lr_ratio: float = _opt(0.1, "cosine decay ends at learning_rate * min_lr_ratio")
    grad_clip: float = _opt(10.0, "gradient norm clip (0 = off)")
    held_out_fraction: float = _opt(0.1, "fraction of clips (or groups) held out for evaluation")
    eval_every: int = _opt(500, "held-out evaluation interval in steps")
    checkpoint_every: int = _opt(500, "checkpoint interval in steps")
    keep_checkpoints: int = _opt(3, "number of newest checkpoints kept")
    log_every: int = _opt(50, "logging interval in steps")
    seed: int = _opt(0, "seed of initialisation, split and batches")
    device: str = _opt("auto", "'auto', 'cpu', 'cuda', 'cuda:1', 'mps', ...")
    threads: int = _opt(
        0, "CPU threads for torch (0 = torch's default); 1 is 10x faster on busy shared 2-core machines"
    )
    resume: bool = _opt(True, "continue from the newest checkpoint in out_dir")
    progress: bool = _opt(True, "show a progress bar")
    fps: float = _opt(25.0, "frame rate of the model (clips are resampled to it)")
    expression_steps: int = _opt(10, "K of the expression flow")
    pose_steps: int = _opt(8, "K of the pose flow")
    hidden_size: int = _opt(128, "LSTM units of each coupling")
    cond_hidden: int = _opt(128, "width of the encoded condition")
    scale_clamp: float = _opt(2.0, "soft clamp of coupling log-scales")
    prev_motions: int = _opt(5, "k previous motions in the condition")
    audio_past: int = _opt(5, "audio frames before the current one in the condition")
    audio_future: int = _opt(6, "audio frames after the current one in the condition (tau)")
    n_mels: int = _opt(40, "mel bands of the audio features")
    normalize_channel: bool = _opt(False, "per-recording spectral equalisation of the audio features")
    relative_motion: bool = _opt(False, "model motion relative to the first frame (the source photo)")
    expression_components: int = _opt(
        0, "model only this many principal components of the expression change (0 = all; needs relative)"
    )
    history_noise: float = _opt(0.0, "std of noise added to the previous motions in the condition")
    audio_noise: float = _opt(0.0, "std of noise added to the (normalised) audio features in the condition")
    silence_fraction: float = _opt(0.0, "fraction of windows replaced by silence + still reference face")
    min_audio_dbfs: float = _opt(
        -50.0, "skip clips whose loud (95th pct) level is below this (silent tracks)"
    )
    phonetics: bool = _opt(
        False, "condition on viseme posteriors (pocketsphinx phones) too, with a fitted lip component"
    )
    lip_context: int = _opt(2, "frames of viseme context on each side of the lip component")
    lip_ridge: float = _opt(10.0, "ridge penalty of the lip component's least-squares fit")
    lip_gain: float = _opt(0.0, "gain of the lip component (0 = automatic, see fit_lip_map)")
    pose_smoothing: float = _opt(0.0, "std in seconds of the temporal smoothing of sampled head motion")
    expression_smoothing: float = _opt(0.0, "std in seconds of the temporal smoothing of sampled expression")
    lip_temperature: float = _opt(
        0.7, "temperature at which lips + flow should match the data's mouth variance (sets lip_gain)"
    )
    phone_language_weight: float = _opt(
        PhoneticConfig.language_weight, "pocketsphinx language weight of the phone recogniser"
    )
    flow_mouth: float = _opt(1.0, "fraction of the flow's lip movement kept while speaking (0..1)")
    lip_speech_gate: bool = _opt(False, "scale the lip component by the frame's speech presence")

    def __post_init__(self) -> None:
        positive = (
            "steps",
            "batch_size",
            "window",
            "eval_every",
            "checkpoint_every",
            "keep_checkpoints",
            "log_every",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.threads < 0:
            raise InputError(f"threads must be >= 0, got {self.threads}")
        if not self.learning_rate > 0 or self.warmup_steps < 0 or not 0 <= self.min_lr_ratio <= 1:
            raise InputError("need learning_rate > 0, warmup_steps >= 0 and 0 <= min_lr_ratio <= 1")
        if self.history_noise < 0 or self.audio_noise < 0 or not 0 <= self.silence_fraction < 1:
            raise InputError("need history_noise >= 0, audio_noise >= 0 and 0 <= silence_fraction < 1")

    def feature_config(self) -> AudioFeatureConfig:
        """The audio front-end settings of the model."""
        return AudioFeatureConfig(n_mels=self.n_mels, normalize_channel=self.normalize_channel)

    def phonetic_config(self) -> PhoneticConfig | None:
        """The phonetic feature settings (None without --phonetics)."""
        return PhoneticConfig(language_weight=self.phone_language_weight) if self.phonetics else None

    def model_config(
        self, face_model: str, num_expression: int, stats: NormalizationStats | None, lip_gain: float = 1.0
    ) -> AudioToMotionConfig:
        """The model architecture these settings describe."""
        return AudioToMotionConfig(
            face_model=face_model,
            num_expression=num_expression,
            fps=self.fps,
            prev_motions=self.prev_motions,
            audio_past=self.audio_past,
            audio_future=self.audio_future,
            expression_flow=FlowConfig(
                self.expression_steps, self.hidden_size, self.cond_hidden, self.scale_clamp
            ),
            pose_flow=FlowConfig(self.pose_steps, self.hidden_size, self.cond_hidden, self.scale_clamp),
            features=self.feature_config(),
            stats=stats,
            seed=self.seed,
            relative_motion=self.relative_motion,
            expression_components=self.expression_components,
            phonetics=self.phonetic_config(),
            lip_context=self.lip_context if self.phonetics else 0,
            lip_gain=self.lip_gain or lip_gain,
            pose_smoothing_s=self.pose_smoothing,
            expression_smoothing_s=self.expression_smoothing,
            flow_mouth=self.flow_mouth,
            lip_speech_gate=self.lip_speech_gate,
        )


@dataclass(frozen=True)
class TrainResult:
    """What a run produced: model folders and the metric history (one dict per evaluation/log)."""

    final_dir: Path
    best_dir: Path | None
    steps: int
    best_held_out_nll: float | None
    history: tuple[dict[str, float], ...]


def select_device(name: str) -> torch.device:
    """'auto' -> cuda if available, else mps, else cpu; anything else is passed to torch.device."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise InputError(f"unknown device '{name}': {exc}") from None


def _learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to learning_rate * min_lr_ratio."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    factor = config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return config.learning_rate * factor


# ---------------------------------------------------------------------- checkpoints
def _optimizer_to_files(
    optimizer: torch.optim.Optimizer,
) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for index, values in state["state"].items():
        for name, value in values.items():
            tensors[f"{index}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    return tensors, state["param_groups"]


def _optimizer_from_files(
    tensors: dict[str, torch.Tensor], param_groups: list[dict[str, Any]]
) -> dict[str, Any]:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": param_groups}


def _checkpoints(out_dir: Path) -> list[tuple[int, Path]]:
    root = out_dir / "checkpoints"
    found = []
    if root.is_dir():
        for path in root.iterdir():
            name = path.name
            if name.startswith(_CHECKPOINT_PREFIX) and name[len(_CHECKPOINT_PREFIX) :].isdigit():
                if (path / "trainer_state.json").is_file():
                    found.append((int(name[len(_CHECKPOINT_PREFIX) :]), path))
    return sorted(found)


def _save_checkpoint(
    out_dir: Path,
    step: int,
    model: AudioToMotion,
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    trainer_state: dict[str, Any],
) -> Path:
    root = out_dir / "checkpoints"
    final = root / f"{_CHECKPOINT_PREFIX}{step:07d}"
    tmp = root / f".{final.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tensors, groups = _optimizer_to_files(optimizer)
    save_safetensors(tensors, tmp / "optimizer.safetensors")
    write_json(tmp / "train_config.json", asdict(config))
    write_json(tmp / "trainer_state.json", dict(trainer_state, step=step, param_groups=groups))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)  # a checkpoint is either complete or absent
    for _, old in _checkpoints(out_dir)[: -config.keep_checkpoints]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _save_model(model: AudioToMotion, directory: Path) -> None:
    tmp = directory.with_name(f".{directory.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    shutil.rmtree(directory, ignore_errors=True)
    tmp.rename(directory)


def _architecture(config: AudioToMotionConfig) -> dict[str, Any]:
    data = config.to_dict()
    data.pop("stats")
    return data


# ---------------------------------------------------------------------- training
def _prepare_data(config: TrainConfig) -> tuple[list[ClipArrays], list[ClipArrays]]:
    entries = discover_clips(config.data_dir)
    train_entries, held_entries = split_clips(entries, config.held_out_fraction, config.seed)
    features = config.feature_config()
    logger.info("clips: %d for training, %d held out", len(train_entries), len(held_entries))
    options = {
        "min_audio_dbfs": config.min_audio_dbfs,
        "refuse_misaligned": True,
        "phonetics": config.phonetic_config(),
    }
    train_clips = load_clips(train_entries, features, config.fps, **options)
    held_clips = load_clips(held_entries, features, config.fps, **options)
    logger.info("clips with audible sound: %d for training, %d held out", len(train_clips), len(held_clips))
    if not train_clips:
        raise InputError(f"no readable training clip in '{config.data_dir}'")
    for clip in held_clips:
        if (
            clip.face_model != train_clips[0].face_model
            or clip.expression.shape[1] != train_clips[0].expression.shape[1]
        ):
            raise InputError(
                f"held-out clip '{clip.clip_id}' uses another face model than the training clips"
            )
    return train_clips, held_clips


@dataclass(frozen=True)
class LipMap:
    """The fitted lip component: (lip_inputs, E) weights and the gain applied at strength 1."""

    weights: np.ndarray
    gain: float


def fit_lip_map(
    clips: Sequence[ClipArrays], n_mels: int, context: int, ridge: float, temperature: float = 0.7
) -> LipMap:
    """Ridge regression from viseme windows (`lip_windows`) to each clip's expression change from its
    resting face; no intercept, so silence (all visemes "sil") gives no change.

    The gain g makes lips + flow match the data's variance along the lip directions (the top
    singular directions of the map): g^2 = (var(Y) - T^2 var(R)) / var(XW), where R = Y - XW is
    what the flow learns and T the temperature it is sampled at (g in [1, 3]).
    """
    xs, ys = [], []
    for clip in clips:
        xs.append(lip_windows(clip.features[:, n_mels:], context))
        ys.append(clip.expression - rest_reference(clip)[0])
    x = np.concatenate(xs).astype(np.float64)
    y = np.concatenate(ys).astype(np.float64)
    weights = np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ y)  # (lip_inputs, E)
    fitted = x @ weights
    u, _, _ = np.linalg.svd(weights.T, full_matrices=False)
    mouth = u[:, :3]  # (E, 3)

    def var(a: np.ndarray) -> float:
        return float(((a @ mouth) - (a @ mouth).mean(0)).var(0).sum())

    gain_sq = (var(y) - temperature**2 * var(y - fitted)) / max(var(fitted), 1e-12)
    gain = float(np.clip(math.sqrt(max(gain_sq, 1.0)), 1.0, 3.0))
    logger.info(
        "lip component: %d frames, explains %.0f %% of the mouth variance; gain %.2f",
        len(y),
        100 * var(fitted) / max(var(y), 1e-12),
        gain,
    )
    return LipMap(weights.astype(np.float32), gain)


def without_lips(clips: Sequence[ClipArrays], lips: LipMap, n_mels: int, context: int) -> list[ClipArrays]:
    """The clips with the (unscaled) lip component removed from their expression: what the flow models."""
    out = []
    for clip in clips:
        lip = lip_windows(clip.features[:, n_mels:], context) @ lips.weights
        out.append(dataclasses.replace(clip, expression=(clip.expression - lip).astype(np.float32)))
    return out


def expression_components(clips: Sequence[ClipArrays], count: int) -> tuple[np.ndarray, np.ndarray]:
    """(E, m) encoder and (m, E) decoder: the m principal directions of the expression change
    from each clip's resting face (uncentred: "no change" stays zero), orthonormal, so the
    decoder is the encoder's transpose."""
    deltas = np.concatenate([c.expression - rest_reference(c)[0] for c in clips]).astype(np.float64)
    _, _, vt = np.linalg.svd(deltas, full_matrices=False)
    basis = vt[:count]  # (m, E)
    basis *= np.sign(basis[np.arange(count), np.abs(basis).argmax(1)])[:, None]  # deterministic signs
    return basis.T.astype(np.float32), basis.astype(np.float32)


def fit_statistics(
    config: TrainConfig, clips: Sequence[ClipArrays], encoder: np.ndarray | None
) -> NormalizationStats:
    """Normalisation statistics of what the flows model (relative / projected when configured)."""
    expressions, poses, ref_poses = [], [], []
    for clip in clips:
        expr, pose = clip.expression, clip.pose
        if config.relative_motion:
            rest_e, rest_p = rest_reference(clip)
            expr, pose = expr - rest_e, pose - rest_p
            ref_poses.append(rest_p[None])
            if encoder is not None:
                expr = expr @ encoder
        expressions.append(expr)
        poses.append(pose)
    return NormalizationStats.fit(
        expressions,
        poses,
        [c.features for c in clips],
        ref_poses=ref_poses if config.relative_motion else None,
    )


def _restore(
    config: TrainConfig, model_config: AudioToMotionConfig, device: torch.device
) -> tuple[AudioToMotion, torch.optim.Optimizer, dict[str, Any]]:
    out_dir = Path(config.out_dir)
    existing = _checkpoints(out_dir)
    if existing and not config.resume:
        raise InputError(
            f"'{out_dir}' already holds checkpoints; resume (the default), or choose an empty --out-dir"
        )
    if existing:
        step, path = existing[-1]
        model = AudioToMotion.from_pretrained(path, device=device)
        if _architecture(model.config) != _architecture(model_config):
            raise CheckpointError(
                f"the checkpoint '{path}' was trained with other model settings than requested; "
                "use the same settings to resume, or choose another --out-dir"
            )
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
        state = read_json(path / "trainer_state.json", what="resuming training")
        tensors = {
            k: v.to(device)
            for k, v in load_safetensors(path / "optimizer.safetensors", what="resuming training").items()
        }
        optimizer.load_state_dict(_optimizer_from_files(tensors, state.pop("param_groups")))
        logger.info("resuming from %s (step %d)", path, step)
        return model, optimizer, state
    model = AudioToMotion(model_config).to(device)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    return model, optimizer, {"step": 0, "best_held_out_nll": None, "history": []}


def _evaluate(
    model: AudioToMotion, held: Sequence[ClipArrays], step: int, state: dict[str, Any], out_dir: Path
) -> None:
    metrics = held_out_nll(model, held)
    record = {"step": float(step), **{f"held_out_{k}": v for k, v in metrics.items()}}
    state["history"].append(record)
    logger.info(
        "step %d: held-out NLL per frame %.3f (expression %.3f, pose %.3f)",
        step,
        metrics["total"],
        metrics["expression"],
        metrics["pose"],
    )
    improved = []
    for flow in ("expression", "pose"):
        best = state.get(f"best_held_out_{flow}")
        if best is None or metrics[flow] < best:
            state[f"best_held_out_{flow}"] = metrics[flow]
            improved.append(flow)
    if not improved:
        return
    best_dir = out_dir / "best"
    current = model.state_dict()
    if len(improved) == 2 or not (best_dir / "model.safetensors").is_file():
        combined = current
    else:
        combined = AudioToMotion.from_pretrained(best_dir).state_dict()
        prefix = f"{improved[0]}_flow."
        combined.update({k: v for k, v in current.items() if k.startswith(prefix)})
    best_model = AudioToMotion(model.config)
    best_model.load_state_dict({k: v.detach().cpu() for k, v in combined.items()})
    state["best_held_out_nll"] = state["best_held_out_expression"] + state["best_held_out_pose"]
    state["best_steps"] = {
        flow: step if flow in improved else state.get("best_steps", {}).get(flow, step)
        for flow in ("expression", "pose")
    }
    _save_model(best_model, best_dir)


def train(config: TrainConfig) -> TrainResult:
    """Train (or resume) a model on the clips of `config.data_dir`; see the module docstring."""
    device = select_device(config.device)
    if config.threads > 0:
        torch.set_num_threads(config.threads)  # a process-wide setting, asked for explicitly
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_clips, held_clips = _prepare_data(config)
    lips = None
    if config.phonetics:
        lips = fit_lip_map(
            train_clips, config.n_mels, config.lip_context, config.lip_ridge, config.lip_temperature
        )
        train_clips = without_lips(train_clips, lips, config.n_mels, config.lip_context)
        held_clips = without_lips(held_clips, lips, config.n_mels, config.lip_context)
    components = None
    if config.expression_components:
        components = expression_components(train_clips, config.expression_components)
    stats = fit_statistics(config, train_clips, None if components is None else components[0])
    first = train_clips[0]
    model_config = config.model_config(
        first.face_model, first.expression.shape[1], stats, 1.0 if lips is None else lips.gain
    )
    model, optimizer, state = _restore(config, model_config, device)
    if components is not None and int(state["step"]) == 0:
        model.set_expression_components(*components)
    if lips is not None and int(state["step"]) == 0:
        model.set_lip_weights(lips.weights)
    sampler = WindowSampler(train_clips, config.window, model.config)
    start = int(state["step"])
    logger.info(
        "training %s (E=%d) on %s from step %d to %d",
        model.config.face_model,
        model.config.num_expression,
        device,
        start,
        config.steps,
    )
    bar = tqdm(
        total=config.steps, initial=start, disable=not config.progress, desc="train-audio", unit="step"
    )
    bad_steps, running, t0 = 0, [], time.perf_counter()
    for step in range(start, config.steps):
        rng = np.random.default_rng([config.seed, step])
        batch = sampler.sample(config.batch_size, rng, config.silence_fraction).to(device)
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(config, step)
        noise_gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        terms = model.nll_terms(
            batch, history_noise=config.history_noise, audio_noise=config.audio_noise, generator=noise_gen
        )
        loss = terms["total"]
        optimizer.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            bad_steps += 1
            logger.warning("step %d: non-finite loss, batch skipped", step)
            if bad_steps >= _MAX_BAD_STEPS:
                raise PIRenderError(
                    f"training diverged ({bad_steps} non-finite losses in a row); lower --learning-rate"
                )
        else:
            bad_steps = 0
            loss.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            running.append({k: float(v.detach()) for k, v in terms.items()})
        done = step + 1
        bar.update(1)
        if running and (done % config.log_every == 0 or done == config.steps):
            mean = {k: float(np.mean([r[k] for r in running])) for k in running[0]}
            bar.set_postfix(nll=f"{mean['total']:.3f}")
            logger.info(
                "step %d: train NLL per frame %.3f (expression %.3f, pose %.3f), %.2f steps/s",
                done,
                mean["total"],
                mean["expression"],
                mean["pose"],
                len(running) / (time.perf_counter() - t0),
            )
            state["history"].append({"step": float(done), **{f"train_{k}": v for k, v in mean.items()}})
            running, t0 = [], time.perf_counter()
        if held_clips and (done % config.eval_every == 0 or done == config.steps):
            _evaluate(model, held_clips, done, state, out_dir)
        if done % config.checkpoint_every == 0 or done == config.steps:
            _save_checkpoint(out_dir, done, model, optimizer, config, state)
    bar.close()
    _save_model(model, out_dir / "final")
    best_dir = out_dir / "best"
    return TrainResult(
        final_dir=out_dir / "final",
        best_dir=best_dir if best_dir.is_dir() else None,
        steps=config.steps,
        best_held_out_nll=state.get("best_held_out_nll"),
        history=tuple(state["history"]),
    )


# ---------------------------------------------------------------------- CLI
def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pirender audio-train",
        description="Train the audio-to-motion flows on a folder of prepared clips.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    hints = typing.get_type_hints(TrainConfig)
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        required = f.default is MISSING and f.default_factory is MISSING
        kwargs: dict[str, Any] = {"help": f.metadata.get("help", ""), "dest": f.name}
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = kind
        if required:
            kwargs["required"] = True
        else:
            kwargs["default"] = f.default
        parser.add_argument(flag, **kwargs)
    return parser


def parse_train_args(argv: Sequence[str] | None) -> TrainConfig:
    """TrainConfig from command-line arguments."""
    args = _build_parser().parse_args(list(argv) if argv is not None else None)
    return TrainConfig(**vars(args))


def train_main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: returns 0 on success, 2 on a user-facing error (message logged)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = parse_train_args(argv)
        result = train(config)
    except PIRenderError as exc:
        logger.error("%s", exc)
        return 2
    logger.info("trained model: %s (best held-out: %s)", result.final_dir, result.best_dir)
    return 0


if __name__ == "__main__":
    sys.exit(train_main())
