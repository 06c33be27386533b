"""Small raw Basel Face Model files with the structure of the real ones (for building tests).

`write_raw_bfm(folder)` writes 01_MorphableModel.mat, Exp_Pca.bin, std_exp.txt, BFM_front_idx.mat,
BFM_exp_idx.mat and facemodel_info.mat for 40 BFM09 vertices, 30 expression-basis vertices and a
20-vertex front face, and returns the arrays for hand computation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.io import savemat

BFM_VERTICES, EXP_VERTICES, FRONT_VERTICES = 40, 30, 20
SHAPE_COMPONENTS, EXP_COMPONENTS = 90, 79


def write_raw_bfm(folder: Path, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    b3, e3 = 3 * BFM_VERTICES, 3 * EXP_VERTICES
    raw = {
        "shapeMU": rng.normal(0, 5e4, (b3, 1)).astype(np.float32),
        "shapePC": rng.normal(0, 1, (b3, SHAPE_COMPONENTS)).astype(np.float32),
        "shapeEV": rng.uniform(1e3, 5e3, (SHAPE_COMPONENTS, 1)).astype(np.float32),
        "texMU": rng.uniform(0, 255, (b3, 1)).astype(np.float32),
        "texPC": rng.normal(0, 1, (b3, SHAPE_COMPONENTS)).astype(np.float32),
        "texEV": rng.uniform(1, 50, (SHAPE_COMPONENTS, 1)).astype(np.float32),
    }
    savemat(folder / "01_MorphableModel.mat", raw)
    exp_mean = rng.normal(0, 1, e3).astype(np.float32)
    exp_components = rng.normal(0, 1, (EXP_COMPONENTS, e3)).astype(
        np.float32
    )  # stored one component after another
    with (folder / "Exp_Pca.bin").open("wb") as fh:
        fh.write(np.array([EXP_COMPONENTS], dtype="<i4").tobytes())
        fh.write(exp_mean.astype("<f4").tobytes())
        fh.write(exp_components.astype("<f4").tobytes())
    std_exp = rng.uniform(1e4, 5e5, EXP_COMPONENTS)
    np.savetxt(folder / "std_exp.txt", std_exp)
    trim = (rng.permutation(BFM_VERTICES)[:EXP_VERTICES] + 1).astype(np.uint16)[:, None]  # 1-based
    front = (np.sort(rng.permutation(EXP_VERTICES)[:FRONT_VERTICES]) + 1).astype(np.float32)[:, None]
    savemat(folder / "BFM_exp_idx.mat", {"trimIndex": trim})
    savemat(folder / "BFM_front_idx.mat", {"idx": front})
    tri = np.stack([np.arange(18), np.arange(1, 19), np.arange(2, 20)], axis=1) + 1
    topology = {
        "tri": tri.astype(np.float32),
        "point_buf": rng.integers(1, 19, (FRONT_VERTICES, 8)).astype(np.float32),
        "keypoints": rng.integers(1, FRONT_VERTICES + 1, (1, 68)).astype(np.float32),
        "frontmask2_idx": np.arange(1, 11, dtype=np.float32)[:, None],
        "skinmask": np.ones((1, FRONT_VERTICES), np.float32),
        "tri_mask2": tri[:5].astype(np.float32),
    }
    savemat(folder / "facemodel_info.mat", topology)
    return {
        **raw,
        "exp_components": exp_components,
        "std_exp": std_exp,
        "trim": trim,
        "front": front,
        **topology,
    }
