"""Rebuild the default face model (`weights/files/default_face_model.npz`) from real talking videos.

    python -m reconstruction.build_face_model --videos ../shared/data/videos

Steps: track the 478-point mesh through every clip; align every frame to a common reference with
a similarity transform on rigid points (removes head pose, position and size); identity = the
variation of per-person mean shapes; expression = the variation of frames around their clip's mean,
after projecting out the directions that correlate with head rotation (the detector's depth is
not perfectly rigid, and without this head turns would leak into expression). Coefficients are
scaled to unit variance over the data. Deterministic for the same videos.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.coefficients import DEFAULT_FACE_MODEL
from core.geometry import matrix_to_euler, similarity_align
from reconstruction.face_model import DEFAULT_MODEL_PATH, RIGID_INDICES, LinearFaceModel
from reconstruction.tracking import FaceTracker
from reconstruction.video import VideoReader, read_identity_groups

__all__ = ["build_face_model", "track_video_landmarks", "mesh_triangles"]

log = logging.getLogger(__name__)


def mesh_triangles() -> np.ndarray:
    """(F, 3) triangles of the detector's mesh: the 3-cliques of its tessellation graph."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    neighbours: dict[int, set[int]] = {}
    for a, b in FACEMESH_TESSELATION:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    tris = set()
    for a, nbrs in neighbours.items():
        for b in nbrs:
            for c in nbrs & neighbours[b]:
                tris.add(tuple(sorted((a, b, c))))
    return np.array(sorted(tris), dtype=np.int64)


def track_video_landmarks(path: Path, max_frames: int, stride: int) -> np.ndarray:
    """(T, 478, 3) landmarks of the tracked face (frames without a face dropped)."""
    reader = VideoReader(path, max_frames=max_frames * stride, max_duration=None)
    frames = [frame for i, frame in enumerate(reader) if i % stride == 0]
    with FaceTracker() as tracker:
        result = tracker.track(frames)
    return result.landmarks[result.found]


def _to_model_frame(lm: np.ndarray) -> np.ndarray:
    out = lm.astype(np.float64).copy()
    out[..., 1] *= -1
    out[..., 2] *= -1
    return out


def _align_all(shapes: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Similarity-align every (N, 3) shape to `reference` on rigid points; returns aligned shapes and angles."""
    aligned = np.empty_like(shapes)
    angles = np.empty((len(shapes), 3))
    for i, s in enumerate(shapes):
        scale, rot, t = similarity_align(s[RIGID_INDICES], reference[RIGID_INDICES])
        aligned[i] = scale * s @ rot.T + t
        angles[i] = matrix_to_euler(rot.T)  # rotation of the head relative to the reference
    return aligned, angles


# Left/right pairs (image-left first in a frontal photo) and the chin -> forehead line.
_SYMMETRIC_PAIRS = ((33, 263), (133, 362), (61, 291), (234, 454), (127, 356), (98, 327))
_CHIN, _FOREHEAD = 152, 10


def _frontal(shape: np.ndarray) -> np.ndarray:
    """Rotate a mean shape so that it faces the camera: the left/right pairs lie along +x and the
    chin -> forehead line along +y (GPA fixes shape, not absolute orientation)."""
    x = np.mean(
        [(shape[b] - shape[a]) / np.linalg.norm(shape[b] - shape[a]) for a, b in _SYMMETRIC_PAIRS], axis=0
    )
    x /= np.linalg.norm(x)
    y = shape[_FOREHEAD] - shape[_CHIN]
    y -= (y @ x) * x
    y /= np.linalg.norm(y)
    rot = np.stack([x, y, np.cross(x, y)])  # rows: new axes
    out = shape @ rot.T
    return out - out[RIGID_INDICES].mean(0)


def _pca(data: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Top principal directions of centred rows `data` (M, D): (D, count) unit vectors and their std."""
    _, sing, vt = np.linalg.svd(data, full_matrices=False)
    std = sing[:count] / np.sqrt(max(len(data) - 1, 1))
    basis = vt[:count].T
    # a deterministic sign: the largest-magnitude entry of each direction is positive
    signs = np.sign(basis[np.abs(basis).argmax(axis=0), np.arange(basis.shape[1])])
    return basis * signs, std


def build_face_model(
    clips: dict[str, tuple[str, np.ndarray]], num_identity: int = 16, num_expression: int = 32
) -> LinearFaceModel:
    """Build the model from {clip name: (identity group, landmarks (T, 478, 3) detector convention)}."""
    shapes = {name: _to_model_frame(lm) for name, (_, lm) in clips.items() if len(lm) >= 10}
    # a common reference: iterate mean <- align(all frames)
    first = next(iter(shapes.values()))[0]
    iod = np.linalg.norm(first[263] - first[33])
    reference = (first - first[RIGID_INDICES].mean(0)) / iod
    for _ in range(3):
        means = [_align_all(s[:: max(1, len(s) // 20)], reference)[0].mean(0) for s in shapes.values()]
        reference = np.mean(means, axis=0)
        reference -= reference[RIGID_INDICES].mean(0)
        reference /= np.linalg.norm(reference[263] - reference[33])
    reference = _frontal(reference)
    aligned, angles = {}, {}
    for name, s in shapes.items():
        aligned[name], angles[name] = _align_all(s, reference)
    clip_means = {name: a.mean(0) for name, a in aligned.items()}
    groups: dict[str, list[np.ndarray]] = {}
    for name, (group, _) in clips.items():
        if name in clip_means:
            groups.setdefault(group, []).append(clip_means[name])
    person_means = np.stack([np.mean(v, axis=0) for v in groups.values()])
    mean = person_means.mean(0)
    # expression: frames around their clip mean, equal weight per clip (at most 200 frames each)
    deltas, poses = [], []
    for name, a in aligned.items():
        pick = np.linspace(0, len(a) - 1, min(len(a), 200)).astype(int)
        deltas.append((a[pick] - clip_means[name]).reshape(len(pick), -1))
        ang = angles[name][pick]
        poses.append(ang - ang.mean(0))
    d, p = np.concatenate(deltas), np.concatenate(poses)
    leak, *_ = np.linalg.lstsq(p, d, rcond=None)  # (3, D): deformation explained (linearly) by head rotation
    leak_dirs, _ = np.linalg.qr(leak.T)  # (D, 3) orthonormal
    d_clean = d - (d @ leak_dirs) @ leak_dirs.T
    exp_dirs, exp_std = _pca(d_clean, num_expression)
    # identity: differences between people that expression cannot explain (otherwise a single photo's
    # expression would be absorbed by identity), and that are not head-pose leakage either
    id_data = (person_means - mean).reshape(len(person_means), -1)
    for dirs in (exp_dirs, leak_dirs):
        id_data = id_data - (id_data @ dirs) @ dirs.T
    id_basis, id_std = _pca(id_data, min(num_identity, len(groups) - 1))
    log.info("identity: %d people, expression: %d frames from %d clips", len(groups), len(d), len(deltas))
    return LinearFaceModel(
        name=DEFAULT_FACE_MODEL,
        mean=mean,
        identity_basis=id_basis * id_std,  # unit-variance coefficients
        identity_std=np.ones_like(id_std),
        expression_basis=exp_dirs * exp_std,
        expression_std=np.ones_like(exp_std),
        triangles=mesh_triangles(),
        rigid_indices=RIGID_INDICES,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--videos", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--cache", type=Path, default=Path("runs/face_model_landmarks.npz"))
    parser.add_argument("--max-frames", type=int, default=150)
    parser.add_argument("--stride", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    listed = read_identity_groups(args.videos)
    names = sorted(
        p.name for p in args.videos.iterdir() if p.suffix.lower() in (".mp4", ".mov", ".mkv", ".webm")
    )
    groups = {name: listed.get(name, name) for name in names}
    cached = dict(np.load(args.cache, allow_pickle=False)) if args.cache.is_file() else {}
    clips = {}
    for name in tqdm(sorted(groups), desc="tracking faces", file=sys.stderr):
        if name not in cached:
            try:
                cached[name] = track_video_landmarks(args.videos / name, args.max_frames, args.stride)
            except (OSError, RuntimeError, ValueError) as exc:
                log.warning("skipping %s: %s", name, exc)
                continue
        clips[name] = (groups[name], cached[name])
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.cache, **cached)
    model = build_face_model(clips)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.output)
    log.info(
        "wrote %s (%d identity, %d expression components)",
        args.output,
        model.num_identity,
        model.num_expression,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
