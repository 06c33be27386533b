"""The evaluator: exact results for an oracle renderer, worse ones for a frozen one, any `pipeline.Renderer`
accepted (a checkpoint as a `NeuralEngine`), reports written."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from core.errors import InputError
from pipeline import NeuralEngine, Renderer
from pirender.checkpoint import save_pretrained
from pirender.config import GeneratorConfig
from pirender.generator import PIRenderer
from tests.training.synthetic import (
    FACE_MODEL,
    SyntheticBackend,
    estimate_coefficients,
    make_dataset,
    render_disc,
)
from training.dataset import DatasetManifest
from training.evaluation.evaluate import (
    EvalOptions,
    evaluate_engine,
    load_generator_any,
    markdown_table,
    write_reports,
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """4 synthetic videos x 6 frames (32 px, PNG): videos 1-3 form the test split, 3 identities."""
    root = tmp_path_factory.mktemp("eval") / "dataset"
    make_dataset(root, videos=4, frames=6, size=32, test_videos=3)
    return root


def _identities(root):
    manifest = DatasetManifest.load(root)
    return {manifest.load_video(e).frame(0).tobytes(): int(e.name[3:]) for e in manifest.videos}


class StillRenderer(Renderer):
    """The `Renderer` contract for renderers without temporal context: each frame drawn from its record."""

    name = "still"
    face_model = FACE_MODEL


class OracleEngine(StillRenderer):
    """Draws exactly what the dataset holds for the target's coefficients (an ideal renderer)."""

    def __init__(self, identities):
        self.identities = identities

    def prepare(self, source_crop, source_coeffs):
        return self.identities[source_crop.tobytes()], source_crop.shape[0]

    def render(self, state, target):
        identity, size = state
        return render_disc(target, size, identity)


class FrozenEngine(StillRenderer):
    """Always returns the source: no motion at all."""

    def prepare(self, source_crop, source_coeffs):
        return source_crop

    def render(self, state, target):
        return state


class LookupFitter:
    """Returns the dataset's own coefficients for its frames (plus a known expression offset)."""

    face_model = FACE_MODEL

    def __init__(self, root, offset=0.0):
        manifest = DatasetManifest.load(root)
        self.table = {}
        for e in manifest.videos:
            rec = manifest.load_video(e)
            for i in range(len(rec)):
                self.table[rec.frame(i).tobytes()] = rec.motion.frame(i)
        self.offset = offset

    def fit_crops(self, crops):
        out = []
        for c in crops:
            coeffs = self.table.get(np.ascontiguousarray(c).tobytes()) or estimate_coefficients(c)
            out.append(None if coeffs is None else coeffs.replace(expression=coeffs.expression + self.offset))
        return out


class MeanColourEmbedder:
    def embed(self, images):
        return [im.reshape(-1, 3).mean(0) + 1.0 for im in images]


class TinyFeatures:
    def features(self, images):
        return (
            images.reshape(len(images), 4, 8, 4, 8, 3)
            .mean(axis=(2, 4))
            .reshape(len(images), -1)
            .astype(np.float64)[:, :6]
        )


def test_oracle_engine_is_perfect_and_offsets_are_measured(dataset):
    oracle = OracleEngine(_identities(dataset))
    assert isinstance(oracle, Renderer)
    report = evaluate_engine(
        oracle,
        dataset,
        name="oracle",
        fitter=LookupFitter(dataset, offset=0.05),
        embedder=MeanColourEmbedder(),
        fid=TinyFeatures(),
    )
    s = report.same_identity
    assert s["l1"] == 0.0 and np.isnan(s["psnr"]) and s["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert s["aed"] == pytest.approx(0.05, abs=1e-6) and s["apd"] == pytest.approx(0.0, abs=1e-6)
    assert s["fid"] == pytest.approx(0.0, abs=1e-4)
    assert (
        report.counts["same_videos"] == 3
        and report.counts["same_frames"] == 15
        and report.counts["cross_pairs"] == 3
    )
    c = report.cross_identity
    assert c["aed"] == pytest.approx(0.05, abs=0.02)  # re-estimated from the drawn images, offset added
    assert c["apd"] < 0.02 and "id_similarity" in c and "fid" in c
    assert any("LPIPS skipped" in n for n in report.notes)


def test_engines_may_take_coefficient_records(dataset):
    options = EvalOptions(targets="coefficients", cross_identity=False)
    report = evaluate_engine(
        OracleEngine(_identities(dataset)), dataset, fitter=LookupFitter(dataset), options=options
    )
    assert report.same_identity["l1"] == 0.0 and report.same_identity["aed"] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(InputError):
        EvalOptions(targets="frames")


def test_frozen_engine_scores_worse(dataset):
    fitter = LookupFitter(dataset)
    frozen = evaluate_engine(FrozenEngine(), dataset, name="frozen", fitter=fitter)
    oracle = evaluate_engine(OracleEngine(_identities(dataset)), dataset, name="oracle", fitter=fitter)
    assert frozen.same_identity["l1"] > 0.01 and frozen.same_identity["ssim"] < 0.99
    assert frozen.same_identity["aed"] > 10 * max(oracle.same_identity["aed"], 1e-4)
    assert frozen.same_identity["apd"] > oracle.same_identity["apd"] + 0.01
    assert frozen.cross_identity["aed"] > oracle.cross_identity["aed"]
    table = markdown_table([oracle, frozen])
    assert (
        "| oracle |" in table
        and "| frozen |" in table
        and "paper (VoxCeleb, Table 2)" in table
        and "0.1106" in table
    )


def test_neural_engine_and_reports(dataset, tmp_path):
    cfg = dataclasses.replace(GeneratorConfig.small(), face_model=FACE_MODEL, image_size=32)
    torch.manual_seed(0)
    model_dir = save_pretrained(PIRenderer(cfg), tmp_path / "model")
    engine = NeuralEngine(load_generator_any(model_dir), name="tiny")
    options = EvalOptions(max_frames=3, batch_size=2)
    report = evaluate_engine(engine, dataset, name="tiny", fitter=SyntheticBackend(32), options=options)
    assert report.counts["same_frames"] == 9 and len(report.per_video) == 3
    assert 0 < report.same_identity["l1"] < 1
    fails = report.counts["same_refit_failures"]
    assert 0 <= fails <= 9 and ("aed" in report.same_identity) == (fails < 9)
    json_path, md_path = write_reports([report], tmp_path / "out", dataset=str(dataset), options=options)
    data = json.loads(json_path.read_text())
    assert data["engines"][0]["engine"] == "tiny" and data["paper"]["same_identity"]["fid"] == 8.26
    assert (
        "AED/APD" not in " ".join(data["engines"][0]["notes"])
        and "identity similarity skipped" in md_path.read_text()
    )
    no_fit = evaluate_engine(
        engine, dataset, name="tiny", options=dataclasses.replace(options, cross_identity=False)
    )
    assert "aed" not in no_fit.same_identity and any("AED/APD skipped" in n for n in no_fit.notes)


def test_identity_metric_explains_missing_packages():
    import importlib.util

    from core.errors import WeightsNotFoundError
    from training.evaluation.evaluate import DlibFaceEmbedder

    if importlib.util.find_spec("dlib") and importlib.util.find_spec("face_recognition_models"):
        embedder = DlibFaceEmbedder()  # installed: it must produce 128-d embeddings
        from skimage import data

        assert embedder.embed(data.astronaut()[None, :256, 100:356])[0].shape == (128,)
    else:
        with pytest.raises(WeightsNotFoundError, match="dlib-bin"):
            DlibFaceEmbedder()
