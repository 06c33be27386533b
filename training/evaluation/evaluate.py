"""Evaluation of a renderer on held-out videos (paper section 4.1, Table 2).

Same-identity reconstruction: for each test video the first frame is the source and the other
frames are the targets (driven by their own descriptor windows); the result is compared with
the real frame (L1, PSNR, SSIM, LPIPS), its re-fitted coefficients with the frame's (AED, APD),
its identity embedding with the source's, and the set of results with the set of real frames (FID).
Cross-identity reenactment: each test video's first frame is driven by another identity's
video; there is no ground truth, so AED/APD (against the driver), identity similarity (against
the source) and FID are reported.

Any renderer of the product is evaluated through the one `pipeline.Renderer` contract (the
geometric preview too; a checkpoint becomes a `pipeline.NeuralEngine`): each target frame is
driven by its own descriptor window of the whole motion (`render_frames`), or by its
coefficient record alone (`render`, option `targets="coefficients"`).
Metrics whose models are missing (the re-fitting backend, the dlib face-embedding model, LPIPS
or FID weights) are skipped with a note in the report instead of failing.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from PIL import Image

from core.coefficients import FaceCoefficients, MotionSequence
from core.errors import CheckpointError, InputError, WeightsNotFoundError
from pipeline.renderer import Renderer, crops
from pirender.checkpoint import load_generator
from pirender.generator import PIRenderer
from training.dataset import DatasetManifest, VideoRecord
from training.evaluation import metrics as M
from training.prepare import CropFitter
from training.trainer import generator_from_checkpoint, read_checkpoint
from weights.registry import weights_dir

__all__ = [
    "IdentityEmbedder",
    "DlibFaceEmbedder",
    "FeatureExtractor",
    "InceptionFeatures",
    "EvalOptions",
    "EngineReport",
    "PAPER_RESULTS",
    "load_generator_any",
    "find_lpips",
    "find_inception",
    "evaluate_engine",
    "write_reports",
    "markdown_table",
]

log = logging.getLogger(__name__)

#: VoxCeleb numbers of the paper (Table 2), for the comparison table.
PAPER_RESULTS: dict[str, dict[str, float]] = {
    "same_identity": {"fid": 8.26, "aed": 0.1106, "apd": 0.0164, "lpips": 0.1285},
    "cross_identity": {"fid": 28.18, "aed": 0.2304, "apd": 0.0279},
}
INCEPTION_FILENAME = "inception-2015-12-05.pt"
LPIPS_BACKBONE_FILENAME = "vgg16-397923af.pth"
LPIPS_LIN_FILENAME = "lpips-vgg-v0.1.pth"


# ---------------------------------------------------------------------------------------------
# The optional metric models
# ---------------------------------------------------------------------------------------------


class IdentityEmbedder(Protocol):
    """Face images (N, H, W, 3) uint8 -> one embedding per image (None where no face was found)."""

    def embed(self, images: np.ndarray) -> list[np.ndarray | None]: ...


class DlibFaceEmbedder:
    """The 128-d face-recognition ResNet bundled with `face-recognition-models`, run by `dlib`.

    Offline and CPU-only. Faces are found with dlib's HOG detector; when it finds none in a
    VoxCeleb-framed crop, the crop's expected face box (the middle ~55 %) is used.
    Raises WeightsNotFoundError when `dlib` or `face_recognition_models` is not installed.
    """

    def __init__(self) -> None:
        # The models package is located, not imported: its __init__ needs pkg_resources, which
        # recent setuptools no longer ship.
        spec = importlib.util.find_spec("face_recognition_models")
        models = Path(spec.origin).parent / "models" if spec is not None and spec.origin else None
        files = ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat")
        try:
            import dlib
        except ImportError:
            dlib = None
        if dlib is None or models is None or not all((models / f).is_file() for f in files):
            raise WeightsNotFoundError(
                "identity similarity needs the packages 'dlib-bin' and 'face-recognition-models' "
                "(pip install -e '.[eval]', or pip install dlib-bin face-recognition-models)"
            )
        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(str(models / files[0]))
        self.encoder = dlib.face_recognition_model_v1(str(models / files[1]))

    def embed(self, images: np.ndarray) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = []
        for image in images:
            img = np.ascontiguousarray(image)
            h, w = img.shape[:2]
            boxes = self.detector(img, 1)
            rect = (
                max(boxes, key=lambda r: r.area())
                if len(boxes)
                else self._dlib.rectangle(int(0.22 * w), int(0.25 * h), int(0.78 * w), int(0.85 * h))
            )
            shape = self.shape(img, rect)
            out.append(np.asarray(self.encoder.compute_face_descriptor(img, shape), dtype=np.float64))
        return out


class FeatureExtractor(Protocol):
    """Images (N, H, W, 3) uint8 -> features (N, D) for the Frechet distance."""

    def features(self, images: np.ndarray) -> np.ndarray: ...


class InceptionFeatures:
    """FID's Inception-v3 pool features from a local TorchScript file (`inception-2015-12-05.pt`).

    That file (the TorchScript port of the TensorFlow FID network used by StyleGAN2-ADA's metrics)
    takes uint8 (N, 3, H, W) images, resizes them itself and returns (N, 2048) with
    `return_features=True`. TorchScript archives hold code and tensors, not pickled Python objects.
    """

    def __init__(self, path: str | Path, device: str | torch.device = "cpu") -> None:
        try:
            self.model = torch.jit.load(str(path), map_location=device).eval()
        except (RuntimeError, OSError, ValueError) as exc:
            raise CheckpointError(
                f"{path} could not be loaded as the TorchScript FID Inception network ({exc})"
            ) from None
        self.device = torch.device(device)

    @torch.no_grad()
    def features(self, images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).to(self.device)
        return self.model(x, return_features=True).cpu().numpy().astype(np.float64)


def find_lpips(backbone: str | Path | None = None, lin: str | Path | None = None) -> M.LPIPS | None:
    """LPIPS-VGG from the given files or the weights folder; None (logged) when a file is missing."""
    b = Path(backbone) if backbone else weights_dir() / LPIPS_BACKBONE_FILENAME
    lf = Path(lin) if lin else weights_dir() / LPIPS_LIN_FILENAME
    if not (b.is_file() and lf.is_file()):
        return None
    return M.LPIPS.from_files(b, lf)


def find_inception(
    path: str | Path | None = None, device: str | torch.device = "cpu"
) -> InceptionFeatures | None:
    p = Path(path) if path else weights_dir() / INCEPTION_FILENAME
    return InceptionFeatures(p, device) if p.is_file() else None


def load_generator_any(
    path: str | Path, *, ema: bool = True, device: str | torch.device = "cpu"
) -> PIRenderer:
    """A generator from a training run / checkpoint, our safetensors directory, or the public checkpoint."""
    p = Path(path)
    if p.is_dir() and (p / "checkpoints").is_dir():
        return generator_from_checkpoint(p, ema=ema).to(device)
    if p.is_file() and p.suffix == ".pt":
        try:
            read_checkpoint(p)
        except CheckpointError:
            pass  # not one of our training checkpoints: try the other formats
        else:
            return generator_from_checkpoint(p, ema=ema).to(device)
    return load_generator(p, device=device)


# ---------------------------------------------------------------------------------------------
# The evaluation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalOptions:
    """split: which split to use; max_frames: targets per video (evenly spaced, 0 = all);
    cross_identity: run the cross-identity part; batch_size: targets rendered per call;
    targets: "window" passes each target's descriptor window, "coefficients" its FaceCoefficients."""

    split: str = "test"
    max_frames: int = 0
    cross_identity: bool = True
    batch_size: int = 8
    targets: str = "window"

    def __post_init__(self) -> None:
        if self.targets not in ("window", "coefficients"):
            raise InputError(f"targets must be 'window' or 'coefficients', got {self.targets!r}")


@dataclass
class EngineReport:
    """Results of one engine: mean metrics per protocol, sample counts, per-video rows and notes."""

    engine: str
    same_identity: dict[str, float] = field(default_factory=dict)
    cross_identity: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    per_video: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def clean(d: dict[str, float]) -> dict[str, float | None]:
            return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}

        out = asdict(self)
        out["same_identity"] = clean(self.same_identity)
        out["cross_identity"] = clean(self.cross_identity)
        out["per_video"] = [clean(r) for r in self.per_video]
        return out


@dataclass
class _Accumulator:
    values: dict[str, list[float]] = field(default_factory=dict)
    real_features: list[np.ndarray] = field(default_factory=list)
    fake_features: list[np.ndarray] = field(default_factory=list)

    def add(self, name: str, values: Sequence[float] | np.ndarray) -> None:
        self.values.setdefault(name, []).extend(float(v) for v in np.asarray(values).reshape(-1))

    def means(self) -> dict[str, float]:
        return {k: M.finite_mean(v) for k, v in self.values.items()}


def _targets(num_frames: int, max_frames: int) -> list[int]:
    """Frames 1..T-1 (frame 0 is the source), thinned to `max_frames` evenly spaced ones (0 = all)."""
    idx = np.arange(1, num_frames)
    if max_frames and len(idx) > max_frames:
        idx = idx[np.unique(np.linspace(0, len(idx) - 1, max_frames).round().astype(int))]
    return [int(i) for i in idx]


def _render(
    renderer: Renderer,
    state: Any,
    motion: MotionSequence,
    targets: list[int],
    size: int,
    opts: EvalOptions,
) -> np.ndarray:
    """Render the target frames of `motion` -> (K, size, size, 3) uint8 (resized to the real frames when needed).

    Each target is driven by its own descriptor window of the whole motion, or, when `opts.targets`
    is "coefficients", by its `FaceCoefficients` record alone (no temporal context).
    """
    if opts.targets == "coefficients":
        images = np.stack([renderer.render(state, motion.frame(t)) for t in targets])
    else:
        images = np.stack(
            crops(renderer.render_frames(state, motion, frames=targets, batch_size=opts.batch_size))
        )
    if images.shape[1] != size:
        images = np.stack(
            [np.asarray(Image.fromarray(im).resize((size, size), Image.Resampling.BILINEAR)) for im in images]
        )
    return images


class _Tools:
    """The optional metric models, with the notes explaining which are missing."""

    def __init__(
        self,
        fitter: CropFitter | None,
        embedder: IdentityEmbedder | None,
        lpips: M.LPIPS | None,
        fid: FeatureExtractor | None,
        face_model: str,
    ) -> None:
        self.fitter, self.embedder, self.lpips, self.fid = fitter, embedder, lpips, fid
        self.notes: list[str] = []
        if fitter is None:
            self.notes.append(
                "AED/APD skipped: no reconstruction backend to re-fit the results (e.g. --backend deep3d)."
            )
        elif fitter.face_model != face_model:
            raise InputError(
                f"the re-fitting backend fits '{fitter.face_model}' but the dataset holds '{face_model}'"
            )
        if embedder is None:
            self.notes.append(
                "identity similarity skipped: needs 'dlib-bin' and 'face-recognition-models' (dlib's bundled face-embedding model)."
            )
        if lpips is None:
            self.notes.append(
                f"LPIPS skipped: put {LPIPS_BACKBONE_FILENAME} (torchvision VGG-16) and {LPIPS_LIN_FILENAME} "
                f"(LPIPS v0.1 vgg lin layers) in the weights folder, or pass --lpips-backbone/--lpips-weights."
            )
        if fid is None:
            self.notes.append(
                f"FID skipped: put the TorchScript Inception file {INCEPTION_FILENAME} in the weights folder or pass --fid-weights."
            )

    def motion(self, acc: _Accumulator, target_rows: np.ndarray, fits: list[FaceCoefficients | None]) -> int:
        """AED/APD of re-fitted results against the target rows (T, E + 9); returns failures."""
        ok = [i for i, c in enumerate(fits) if c is not None]
        if ok:
            e = target_rows.shape[1] - 9
            got = np.stack([c.descriptor_rows() for c in fits if c is not None])
            want = target_rows[ok]
            acc.add("aed", M.expression_distance(got[:, :e], want[:, :e]))
            acc.add(
                "apd",
                M.pose_distance(
                    got[:, e : e + 3], got[:, e + 3 : e + 6], want[:, e : e + 3], want[:, e + 3 : e + 6]
                ),
            )
        return len(fits) - len(ok)

    def identity(self, acc: _Accumulator, fake: np.ndarray, source: np.ndarray) -> None:
        if self.embedder is None:
            return
        ref = self.embedder.embed(source[None])[0]
        if ref is None:
            return
        sims = [M.cosine_similarity(e, ref)[0] for e in self.embedder.embed(fake) if e is not None]
        acc.add("id_similarity", sims)


def evaluate_engine(
    engine: Renderer,
    dataset: str | Path,
    *,
    name: str = "engine",
    fitter: CropFitter | None = None,
    embedder: IdentityEmbedder | None = None,
    lpips: M.LPIPS | None = None,
    fid: FeatureExtractor | None = None,
    options: EvalOptions | None = None,
) -> EngineReport:
    """Run both protocols of the paper on the dataset's held-out split; see the module docstring."""
    opts = options or EvalOptions()
    manifest = DatasetManifest.load(dataset)
    entries = manifest.split(opts.split)
    if not entries:
        raise InputError(f"the '{opts.split}' split of {dataset} has no videos")
    tools = _Tools(fitter, embedder, lpips, fid, manifest.face_model)
    report = EngineReport(engine=name, notes=list(tools.notes))
    records = [manifest.load_video(e) for e in entries]
    same, cross = _Accumulator(), _Accumulator()
    failures = {"same_refit_failures": 0, "cross_refit_failures": 0}

    for entry, record in zip(entries, records, strict=True):
        if len(record) < 2:
            continue
        rows = record.motion.descriptor_rows()
        targets = _targets(len(record), opts.max_frames)
        source = record.frame(0)
        state = engine.prepare(source, record.motion.frame(0))
        fake = _render(engine, state, record.motion, targets, record.frame_size, opts)
        real = record.frames(targets)
        a, b = M.to_unit_range(fake), M.to_unit_range(real)
        values = {"l1": M.l1_error(a, b), "psnr": M.psnr(a, b)}
        if min(a.shape[-2:]) >= 11:
            values["ssim"] = M.ssim(a, b)
        if tools.lpips is not None:
            with torch.no_grad():
                values["lpips"] = tools.lpips(a, b)
        video = _Accumulator()
        for acc in (same, video):
            for key, value in values.items():
                acc.add(key, value)
        if tools.fitter is not None:
            fits = tools.fitter.fit_crops(fake)
            failures["same_refit_failures"] += tools.motion(same, rows[targets], fits)
            tools.motion(video, rows[targets], fits)
        tools.identity(same, fake, source)
        if tools.fid is not None:
            same.fake_features.append(tools.fid.features(fake))
            same.real_features.append(tools.fid.features(real))
        report.per_video.append({"video": entry.name, "frames": len(targets), **video.means()})
        report.counts["same_frames"] = report.counts.get("same_frames", 0) + len(targets)
    report.counts["same_videos"] = len(report.per_video)
    report.same_identity = same.means()
    if same.real_features:
        report.same_identity["fid"] = _fid(same, report)

    if opts.cross_identity:
        _cross_identity(engine, entries, records, tools, opts, cross, report, failures)
    report.counts.update(failures)
    return report


def _cross_identity(
    engine: Renderer,
    entries: Sequence[Any],
    records: Sequence[VideoRecord],
    tools: _Tools,
    opts: EvalOptions,
    acc: _Accumulator,
    report: EngineReport,
    failures: dict[str, int],
) -> None:
    """Drive each video's first frame by the next video of another identity."""
    n = len(entries)
    pairs = []
    for i in range(n):
        for k in range(1, n):
            j = (i + k) % n
            if entries[j].identity_group != entries[i].identity_group and len(records[j]) >= 2:
                pairs.append((i, j))
                break
    if not pairs:
        report.notes.append("cross-identity skipped: the split needs videos of at least two identities.")
        return
    for i, j in pairs:
        source_rec, driver = records[i], records[j]
        rows = driver.motion.descriptor_rows()
        targets = _targets(len(driver), opts.max_frames)
        source = source_rec.frame(0)
        state = engine.prepare(source, source_rec.motion.frame(0))
        fake = _render(engine, state, driver.motion, targets, source_rec.frame_size, opts)
        if tools.fitter is not None:
            failures["cross_refit_failures"] += tools.motion(acc, rows[targets], tools.fitter.fit_crops(fake))
        tools.identity(acc, fake, source)
        if tools.fid is not None:
            acc.fake_features.append(tools.fid.features(fake))
            acc.real_features.append(tools.fid.features(driver.frames(targets)))
        report.counts["cross_frames"] = report.counts.get("cross_frames", 0) + len(targets)
    report.counts["cross_pairs"] = len(pairs)
    report.cross_identity = acc.means()
    if acc.real_features:
        report.cross_identity["fid"] = _fid(acc, report)


def _fid(acc: _Accumulator, report: EngineReport) -> float:
    real, fake = np.concatenate(acc.real_features), np.concatenate(acc.fake_features)
    if len(real) < 2 or len(fake) < 2:
        return math.nan
    if len(fake) < real.shape[1]:
        note = f"FID from {len(fake)} images (< feature size {real.shape[1]}): biased upwards, compare only runs of equal size."
        if note not in report.notes:
            report.notes.append(note)
    return M.frechet_distance(*M.feature_statistics(real), *M.feature_statistics(fake))


# ---------------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------------

#: (key, column label, digits) of each metric, in table order; the cross-identity part has no ground truth.
_METRICS = (
    ("l1", "L1", 4),
    ("psnr", "PSNR", 2),
    ("ssim", "SSIM", 4),
    ("lpips", "LPIPS", 4),
    ("fid", "FID", 2),
    ("aed", "AED", 4),
    ("apd", "APD", 4),
    ("id_similarity", "ID sim", 3),
)
_CROSS_METRICS = ("fid", "aed", "apd", "id_similarity")
_COLUMNS = tuple(("same_identity", key, label, digits) for key, label, digits in _METRICS) + tuple(
    ("cross_identity", key, f"x-{label}", digits) for key, label, digits in _METRICS if key in _CROSS_METRICS
)


def markdown_table(reports: Sequence[EngineReport], *, include_paper: bool = True) -> str:
    """A markdown comparison table (one row per engine, plus the paper's VoxCeleb row) and the notes."""
    head = "| engine | " + " | ".join(c[2] for c in _COLUMNS) + " |"
    lines = [head, "|" + " --- |" * (len(_COLUMNS) + 1)]

    def cell(section: dict[str, float], key: str, digits: int) -> str:
        v = section.get(key)
        return "–" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"

    for r in reports:
        sections = {"same_identity": r.same_identity, "cross_identity": r.cross_identity}
        lines.append(
            f"| {r.engine} | " + " | ".join(cell(sections[s], k, d) for s, k, _, d in _COLUMNS) + " |"
        )
    if include_paper:
        lines.append(
            "| paper (VoxCeleb, Table 2) | "
            + " | ".join(cell(PAPER_RESULTS[s], k, d) for s, k, _, d in _COLUMNS)
            + " |"
        )
    lines.append("")
    lines.append(
        "L1 on [0, 1] images; PSNR in dB (identical frames excluded); SSIM Gaussian 11x11; AED/APD mean absolute "
        "difference of re-fitted expression / pose (radians, translation) coefficients; ID sim cosine similarity of "
        "face embeddings with the source; x- = cross-identity. The paper's numbers are on VoxCeleb at full scale and "
        "are not directly comparable with a small local test split."
    )
    notes = sorted({n for r in reports for n in r.notes})
    if notes:
        lines += ["", "Notes:"] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write_reports(
    reports: Sequence[EngineReport],
    out_dir: str | Path,
    *,
    dataset: str = "",
    options: EvalOptions | None = None,
) -> tuple[Path, Path]:
    """Write report.json and report.md into `out_dir`; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = {
        "dataset": dataset,
        "options": asdict(options or EvalOptions()),
        "paper": PAPER_RESULTS,
        "engines": [r.to_dict() for r in reports],
    }
    json_path, md_path = out / "report.json", out / "report.md"
    tmp = json_path.with_name("report.json.tmp")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    os.replace(tmp, json_path)
    md_path.write_text(markdown_table(reports))
    return json_path, md_path
