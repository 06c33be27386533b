"""The flows learn: a synthetic task where motion is a known function of the audio features.

Task (tests/audio2motion/helpers.py): x = (features - silence) / 10 (so silence gives x = 0),
expression = A x + N(0, 0.05^2 I) (E = 4, row 0 = mean level: a "mouth opening"),
pose = B x + offset + N(0, 0.02^2 I). The audio is bursts of noise and tones between silences.

Derived bound: no model can beat, on average, the NLL of the true noise model,
  NLL* = sum_d 1/2 (log(2 pi sigma_d^2) + 1)  =  -21.27 nats per frame here,
and a model that ignores the audio can do no better than the motion's marginal entropy (about
-10 nats per frame for a Gaussian fit). We require the held-out NLL below NLL* + 0.2 nats per
dimension (NLL* + 2.0), i.e. within 20 % of the gap, which needs the audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from audio2motion import AudioToMotion, TrainConfig, evaluate, train
from audio2motion.dataset import ClipArrays, discover_clips, load_clips, split_clips
from audio2motion.evaluate import held_out_nll, loudness_mouth_correlation, mouth_opening
from core.coefficients import FaceCoefficients

from .helpers import FACE_MODEL, SyntheticTask, bursts, make_clip_folder, make_task, write_wav

MARGIN_PER_DIM = 0.2


@dataclass(frozen=True)
class Trained:
    task: SyntheticTask
    model: AudioToMotion
    held: list[ClipArrays]
    best_held_out_nll: float | None


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    root = tmp_path_factory.mktemp("learning")
    task = make_task(n_mels=8)
    make_clip_folder(root / "clips", task, num_clips=64, seconds=6.0, seed=0)
    config = TrainConfig(
        data_dir=str(root / "clips"), out_dir=str(root / "run"), steps=300, batch_size=16, window=32,
        learning_rate=5e-3, warmup_steps=20, eval_every=300, checkpoint_every=300, log_every=100,
        held_out_fraction=0.2, expression_steps=4, pose_steps=4, hidden_size=32, cond_hidden=32, n_mels=8,
        progress=False,
    )  # fmt: skip
    result = train(config)
    model = AudioToMotion.from_pretrained(result.final_dir)
    held_entries = split_clips(discover_clips(root / "clips"), 0.2, 0)[1]
    held = load_clips(held_entries, model.config.features, model.config.fps)
    return Trained(task, model, held, result.best_held_out_nll)


def _source(task: SyntheticTask, expression: np.ndarray | None = None) -> FaceCoefficients:
    pose = task.pose_offset
    expr = np.zeros(task.num_expression) if expression is None else expression
    return FaceCoefficients(FACE_MODEL, expr, pose[:3], pose[3:], np.zeros(3))


def test_heldout_nll_below_derived_bound(trained: Trained) -> None:
    bound = trained.task.true_nll_per_frame() + MARGIN_PER_DIM * (trained.task.num_expression + 6)
    nll = held_out_nll(trained.model, trained.held)
    assert nll["frames"] > 800
    assert nll["total"] < bound, f"held-out NLL {nll['total']:.2f} not below the bound {bound:.2f}"
    assert trained.best_held_out_nll == pytest.approx(nll["total"], abs=1e-3)
    # The bound is far below what an audio-blind Gaussian achieves on the same frames.
    motion = np.concatenate([np.hstack([c.expression, c.pose]) for c in trained.held])
    blind = 0.5 * np.linalg.slogdet(2 * np.pi * np.e * np.cov(motion.T))[1]
    assert blind > bound + 5.0


def test_wrong_audio_ruins_the_likelihood(trained: Trained) -> None:
    """The model relies on the audio: pairing each clip with another clip's audio costs many nats."""
    held = trained.held
    swapped = [
        ClipArrays(c.clip_id, c.face_model, c.expression, c.pose, held[(i + 1) % len(held)].features[: len(c)],
                   c.loudness, c.fps)
        for i, c in enumerate(held)
    ]  # fmt: skip
    assert held_out_nll(trained.model, swapped)["total"] > held_out_nll(trained.model, held)["total"] + 10.0


def test_sampled_motion_correlates_with_the_truth(trained: Trained) -> None:
    task, model = trained.task, trained.model
    got_e, got_p, true_e, true_p = [], [], [], []
    for i, clip in enumerate(trained.held[:4]):
        source = FaceCoefficients(
            FACE_MODEL, clip.expression[0], clip.pose[0, :3], clip.pose[0, 3:], np.zeros(3)
        )
        motion = model.generate_from_features(source, clip.features[1:], seed=i, temperature=0.7)
        clean_e, clean_p = task.clean_motion(clip.features[1:])
        got_e.append(motion.expression)
        got_p.append(np.hstack([motion.angles, motion.translation]))
        true_e.append(clean_e)
        true_p.append(clean_p)
    ge, te = np.concatenate(got_e), np.concatenate(true_e)
    gp, tp = np.concatenate(got_p), np.concatenate(true_p)
    r_e = [np.corrcoef(ge[:, d], te[:, d])[0, 1] for d in range(task.num_expression)]
    r_p = [np.corrcoef(gp[:, d], tp[:, d])[0, 1] for d in range(6)]
    assert r_e[0] > 0.95, r_e  # the mouth
    assert min(r_e) > 0.85, r_e
    assert min(r_p) > 0.8, r_p


def test_silence_gives_a_closed_still_mouth(trained: Trained, tmp_path: Path) -> None:
    task, model = trained.task, trained.model
    silent = write_wav(tmp_path / "silence.wav", np.zeros(16000 * 3), 16000)
    speech = write_wav(tmp_path / "speech.wav", bursts(3.0, 16000, np.random.default_rng(9)), 16000)
    readout = np.eye(task.num_expression)[0]
    quiet = mouth_opening(model.generate(_source(task), silent, seed=1).expression, readout)
    talking = mouth_opening(model.generate(_source(task), speech, seed=1).expression, readout)
    assert talking.std() > 0.15
    assert np.abs(quiet).mean() < 0.06 and quiet.std() < 0.06  # noise alone: 0.7 * 0.05
    # Starting with the mouth open, silence closes it within a few frames and keeps it closed.
    open_mouth = task.clean_motion(np.full((1, 8), -4.0, np.float32))[0][0]
    assert open_mouth[0] > 0.8
    closing = mouth_opening(model.generate(_source(task, open_mouth), silent, seed=2).expression, readout)
    assert np.abs(closing[10:]).mean() < 0.05


def test_evaluate_reports_nll_and_lip_sync(trained: Trained) -> None:
    readout = np.eye(trained.task.num_expression)[0]
    clips = trained.held[:4]
    report = evaluate(trained.model, clips, mouth_readout=readout, seed=0)
    assert report.nll_per_frame == pytest.approx(held_out_nll(trained.model, clips)["total"], abs=1e-4)
    assert report.frames == sum(len(c) - 1 for c in clips) and len(report.clips) == len(clips)
    assert report.reference_correlation > 0.7
    assert report.generated_correlation > 0.7
    again = evaluate(trained.model, clips[:1], mouth_readout=lambda e: e[:, 0], seed=0)
    assert again.clips[0].generated_correlation == pytest.approx(report.clips[0].generated_correlation)


def test_correlation_helpers() -> None:
    x = np.sin(np.linspace(0, 12, 200))
    assert loudness_mouth_correlation(x, 2 * x + 1) == pytest.approx(1.0)
    lagged = np.roll(x, 2)
    assert loudness_mouth_correlation(x, lagged, max_lag=3) > loudness_mouth_correlation(x, lagged)
    assert np.isnan(loudness_mouth_correlation(x, np.zeros(200)))
