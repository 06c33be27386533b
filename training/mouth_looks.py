"""Fitted mouth looks for the mouth look network (`pipeline.mouth_look_net`): its training targets.

    python -m training.mouth_looks pairs --videos ../shared/data/videos --pairs runs/mouth_looks
    OMP_NUM_THREADS=1 python -m training.mouth_looks train --pairs runs/mouth_looks \\
        --videos ../shared/data/videos --out runs/mouth_look --minutes 20
    python -m training.mouth_looks judge --videos ../shared/data/videos --pairs runs/mouth_looks \\
        --weights runs/mouth_look

For each of the rule's cross-frame pairs (`training.mouth_pairs`: same clip, source closed,
target open; the truth from the native-resolution frame through the 96 px mouth box) the
geometric renderer draws the source with the target's coefficients, and the painted gap's
`MouthLook` is fitted to the real target frame: for each point of a small grid of its shape knobs
(the floor's lightening, how much of the upper and lower teeth shows) the cavity's, tongue's and
teeth's colours are solved in closed form (ridge least squares per channel over the box: the
paint is linear in them, `_colour_basis`), clipped into their ranges, and the grid point whose
real repainting is closest to the truth is kept. Training identity groups are fitted; held-out
pairs keep only what the judge needs (the source crops, the clip's coefficients, the box, the
truth). One .npz per clip.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from core.coefficients import MotionSequence
from core.errors import PIRenderError
from pipeline.engines import EngineRegistry
from pipeline.geometric import GeometricRenderer, PreviewSettings
from pipeline.mouth_look import LOOK_RANGES, MouthLook
from pipeline.mouth_look_net import (
    MouthLookConfig,
    MouthLookNet,
    lip_colour,
    look_condition,
    mouth_opening,
    source_patch,
)
from pipeline.mouth_paint import gap_layer
from reconstruction.video import VIDEO_EXTENSIONS
from training.mouth_pairs import (
    PairOptions,
    PerceptualDistance,
    analyse_clip,
    clip_split,
    cut_patch,
    mouth_box,
    mouth_ratio,
    native_patch,
    native_to_patch,
    region_metrics,
    select_pairs,
)
from weights.loading import write_json

__all__ = ["fit_look", "build_pairs", "train", "judge", "main"]

logger = logging.getLogger(__name__)

#: The shape knobs' grid: floor, upper teeth, lower teeth (the corners and tongue share stay).
GRID = [(f, u, lo) for f in (0.1, 0.4, 0.8) for u in (0.7, 1.0) for lo in (0.0, 1.0)]
#: Steps (look units) by which each colour's basis is measured.
_STEPS = {"cavity": 50.0, "tongue": 50.0, "teeth": -100.0}


def _layer_image(shape: tuple[int, int], layer: tuple, values: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 zero image with `values` (h, w, 3) placed in the layer's box."""
    (x0, y0, x1, y1), _, _ = layer
    out = np.zeros((*shape, 3), np.float32)
    out[y0:y1, x0:x1] = values
    return out


def _colour_basis(renderer: GeometricRenderer, state, mouth, look: MouthLook) -> tuple | None:
    """The gap's (h, w) alpha and colour at `look`, and per colour (cavity, tongue, teeth) the
    (h, w, 3) change of colour per look unit (the paint is linear in them, up to clipping)."""
    shape, args = state.size, (state.face_size, state.exposure, renderer.settings.teeth)
    layer = gap_layer(shape, mouth, *args, look=look)
    if layer is None:
        return None
    basis = []
    for name, step in _STEPS.items():
        moved = tuple(v + step for v in getattr(look, name))
        other = gap_layer(shape, mouth, *args, look=dataclasses.replace(look, **{name: moved}))
        basis.append((other[2] - layer[2]) / step)
    return layer, basis


def fit_look(
    renderer: GeometricRenderer, state, target, crop: np.ndarray, matrix: np.ndarray, truth: np.ndarray
) -> tuple[MouthLook, float, float] | None:
    """The look whose painted gap in the (96, 96, 3) box `matrix` of the default rendering `crop`
    comes closest to `truth`; with its box MSE and the default's; None when nothing is painted."""
    mouth = renderer.mouth_motion(state, target)
    default = gap_layer(state.size, mouth, state.face_size, state.exposure, renderer.settings.teeth)
    if default is None:
        return None
    shape = state.size
    crop = crop.astype(np.float32)
    alpha = default[1][:, :, None]
    base = cut_patch(crop - _layer_image(shape, default, alpha * default[2]), matrix)
    truth = truth.astype(np.float32)
    best = None
    for floor, upper, lower in GRID:
        look = dataclasses.replace(MouthLook(), floor=floor, upper_teeth=upper, lower_teeth=lower)
        made = _colour_basis(renderer, state, mouth, look)
        if made is None:
            continue
        layer, basis = made
        painted = base + cut_patch(_layer_image(shape, layer, alpha * layer[2]), matrix)
        columns = [cut_patch(_layer_image(shape, layer, alpha * b), matrix) for b in basis]
        weight = cut_patch(_layer_image(shape, layer, np.repeat(alpha, 3, axis=2)), matrix)[:, :, 0] > 0.02
        colours = {}
        for c in range(3):
            x = np.stack([col[:, :, c][weight] for col in columns], axis=1).astype(np.float64)
            y = (truth[:, :, c] - painted[:, :, c])[weight].astype(np.float64)
            gram = x.T @ x
            delta = np.linalg.solve(gram + np.diag(0.05 * np.diag(gram) + 1.0), x.T @ y)
            for k, name in enumerate(_STEPS):
                colours.setdefault(name, []).append(getattr(look, name)[c] + delta[k])
        fitted = MouthLook.from_vector(_with_colours(look, colours))
        layer = gap_layer(shape, mouth, state.face_size, state.exposure, renderer.settings.teeth, fitted)
        out = base + cut_patch(_layer_image(shape, layer, alpha * layer[2]), matrix)
        error = float(np.mean((np.clip(out, 0, 255) - truth) ** 2))
        if best is None or error < best[1]:
            best = (fitted, error)
    if best is None:
        return None
    return best[0], best[1], float(np.mean((cut_patch(crop, matrix) - truth) ** 2))


def _with_colours(look: MouthLook, colours: dict[str, list[float]]) -> np.ndarray:
    """`look`'s vector with the fitted colours (not yet clipped into their ranges)."""
    vector = look.to_vector()
    names = [f.name for f in dataclasses.fields(MouthLook)]
    i = 0
    for name in names:
        n = 3 if name in _STEPS else 1
        if name in colours:
            vector[i : i + n] = colours[name]
        i += n
    return vector


def _clip_arrays(clip, registry: EngineRegistry, options: PairOptions, fit: bool) -> dict | None:
    """The pairs of one analysed clip: per pair the source and target frame, the box, the truth,
    the photo's mouth patch and the look's condition, and (with `fit`) the fitted look."""
    pairs = select_pairs(mouth_ratio(clip.analysis.crop_landmarks), options)
    if not pairs:
        return None
    renderer = GeometricRenderer(registry.backend("default").model, PreviewSettings())
    layout, config = renderer.projector.layout, MouthLookConfig()
    states: dict[int, object] = {}
    out: dict[str, list] = {k: [] for k in ("frames", "matrix", "truth", "patch", "condition", "look", "mse")}
    for s, t in pairs:
        if s not in states:
            states[s] = renderer.prepare(clip.analysis.crops[s], clip.motion.frame(s))
        state, target = states[s], clip.motion.frame(t)
        points = renderer.projector.project(target, state.coeffs.identity, state.size)
        matrix = mouth_box(points, layout.mouth)
        truth = native_patch(clip.native[t], native_to_patch(clip, matrix), 96)
        lip = lip_colour(state.source, state.points, layout.lips)
        out["frames"].append((s, t))
        out["matrix"].append(matrix)
        out["truth"].append(truth)
        out["patch"].append(source_patch(state.source, state.points, layout.mouth, config))
        out["condition"].append(look_condition(mouth_opening(points, layout.mouth), lip, state.exposure))
        fitted = None
        if fit:
            crop = renderer.render_frame(state, target).crop
            fitted = fit_look(renderer, state, target, crop, matrix, truth)
        out["look"].append(MouthLook().to_vector() if fitted is None else fitted[0].to_vector())
        out["mse"].append((np.nan, np.nan) if fitted is None else fitted[1:])
    arrays = {k: np.stack(v) for k, v in out.items()}
    sources = sorted(states)
    arrays["source_frames"] = np.array(sources)
    arrays["source_crops"] = np.stack([clip.analysis.crops[s] for s in sources])
    motion = clip.motion
    arrays |= {
        "m_expression": motion.expression,
        "m_angles": motion.angles,
        "m_translation": motion.translation,
        "m_crop": motion.crop,
        "m_fps": np.float32(motion.fps),
        "m_face_model": np.array(motion.face_model),
    }
    if motion.identity is not None:
        arrays["m_identity"] = motion.identity
    return arrays


def build_pairs(videos: Path, folder: Path, options: PairOptions | None = None) -> None:
    """Cache every clip's pairs in `folder` (one .npz per clip, resumable); training clips fitted."""
    options = options or PairOptions()
    folder.mkdir(parents=True, exist_ok=True)
    split = clip_split(videos)
    registry = EngineRegistry(fast=False)
    for path in sorted(p for p in videos.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS):
        target, empty = folder / f"{path.stem}.npz", folder / f"{path.stem}.none"
        if target.exists() or empty.exists():
            continue
        start = time.perf_counter()
        try:
            clip = analyse_clip(path, registry, options)
            arrays = _clip_arrays(clip, registry, options, fit=split.get(path.stem) == "train")
        except PIRenderError as exc:
            logger.warning("skipping %s: %s", path.name, exc)
            arrays = None
        if arrays is None:
            empty.write_text("no usable pair\n")
            continue
        np.savez_compressed(target, **arrays)
        mse = arrays["mse"]
        logger.info(
            "%s (%s): %d pairs, fitted MSE %.1f vs default %.1f, %.1f s",
            path.stem, split.get(path.stem), len(mse), np.nanmean(mse[:, 0]), np.nanmean(mse[:, 1]),
            time.perf_counter() - start,
        )  # fmt: skip


def _load(folder: Path, clips: list[str], keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    parts: dict[str, list] = {k: [] for k in keys}
    for clip in clips:
        path = folder / f"{clip}.npz"
        if path.is_file():
            with np.load(path) as data:
                for k in keys:
                    parts[k].append(data[k])
    return {k: np.concatenate(v) for k, v in parts.items()}


def _unit(looks: np.ndarray) -> np.ndarray:
    low, high = LOOK_RANGES[:, 0], LOOK_RANGES[:, 1]
    return np.clip((looks - low) / (high - low), 0.0, 1.0)


def train(videos: Path, folder: Path, out: Path, minutes: float, batch: int = 32, seed: int = 0) -> dict:
    """Regress the network to the training pairs' fitted looks (MSE in each entry's range);
    save it with the training pairs' mean look (the ablation's constant) in `out`."""
    split = clip_split(videos)
    clips = sorted(c for c, s in split.items() if s == "train")
    data = _load(folder, clips, ("patch", "condition", "look", "mse"))
    fitted = np.isfinite(data["mse"][:, 0])
    patch = torch.from_numpy(data["patch"][fitted].astype(np.float32) / 127.5 - 1.0).permute(0, 3, 1, 2)
    condition = torch.from_numpy(data["condition"][fitted])
    target = torch.from_numpy(_unit(data["look"][fitted]).astype(np.float32))
    mean_look = MouthLook.from_vector(data["look"][fitted].mean(axis=0))
    torch.manual_seed(seed)
    model = MouthLookNet()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    start, step, losses = time.perf_counter(), 0, []
    generator = torch.Generator().manual_seed(seed)
    while time.perf_counter() - start < 60.0 * minutes:
        index = torch.randint(0, len(target), (batch,), generator=generator)
        x, c = patch[index], condition[index]
        if torch.rand(1, generator=generator).item() < 0.5:
            x = x.flip(3)  # a mirrored photo has the same mouth
        loss = torch.mean((model(x, c) - target[index]) ** 2)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        step += 1
        if step % 200 == 0:
            logger.info("step %d: loss %.4f", step, float(np.mean(losses[-200:])))
    model.eval()
    model.save_pretrained(out)
    spread = float(torch.mean((target - target.mean(0)) ** 2))
    record = {
        "steps": step,
        "minutes": (time.perf_counter() - start) / 60.0,
        "pairs": int(fitted.sum()),
        "clips": len(clips),
        "final_loss": float(np.mean(losses[-200:])),
        "constant_loss": spread,
        "mean_look": dataclasses.asdict(mean_look),
    }
    write_json(out / "training.json", record)
    return record


def judge(videos: Path, folder: Path, weights: Path) -> dict:
    """Held-out metrics of the geometric engine with the painter's look, the training pairs' mean
    look (no network) and the network's, on the rule's held-out pairs."""
    split = clip_split(videos)
    held = sorted(c for c, s in split.items() if s == "held_out")
    record = json.loads((weights / "training.json").read_text())
    constant = MouthLook(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in record["mean_look"].items()}
    )
    net = MouthLookNet.from_pretrained(weights)
    registry = EngineRegistry(fast=False)
    renderer = GeometricRenderer(registry.backend("default").model, PreviewSettings())
    layout = renderer.projector.layout
    outputs: dict[str, list] = {"geometric": [], "constant": [], "network": [], "truth": []}
    for clip in held:
        path = folder / f"{clip}.npz"
        if not path.is_file():
            continue
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        motion = MotionSequence.from_arrays({k[2:]: v for k, v in arrays.items() if k.startswith("m_")})
        states = {
            int(s): renderer.prepare(crop, motion.frame(int(s)))
            for s, crop in zip(arrays["source_frames"], arrays["source_crops"], strict=True)
        }
        for (s, t), matrix, truth in zip(arrays["frames"], arrays["matrix"], arrays["truth"], strict=True):
            state, target = states[int(s)], motion.frame(int(t))
            points = renderer.projector.project(target, state.coeffs.identity, state.size)
            lip = lip_colour(state.source, state.points, layout.lips)
            condition = look_condition(mouth_opening(points, layout.mouth), lip, state.exposure)
            patch = source_patch(state.source, state.points, layout.mouth, net.config)
            with torch.inference_mode():
                x = torch.from_numpy(patch.astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]
                look = net.to_looks(net(x, torch.from_numpy(condition)[None]))[0]
            for name, chosen in (("geometric", None), ("constant", constant), ("network", look)):
                renderer.settings = dataclasses.replace(renderer.settings, mouth_look=chosen)
                outputs[name].append(cut_patch(renderer.render_frame(state, target).crop, matrix))
            outputs["truth"].append(truth)
    perceptual = PerceptualDistance()

    def tensor(images: list) -> torch.Tensor:
        return torch.from_numpy(np.stack(images).astype(np.float32) / 127.5 - 1.0).permute(0, 3, 1, 2)

    truth = tensor(outputs.pop("truth"))
    result = {name: region_metrics(tensor(images), truth, perceptual) for name, images in outputs.items()}
    write_json(weights / "judge.json", result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fit, train and judge the mouth look network.")
    parser.add_argument("command", choices=("pairs", "train", "judge"))
    parser.add_argument("--videos", type=Path, default=Path("../shared/data/videos"))
    parser.add_argument("--pairs", type=Path, default=Path("runs/mouth_looks"))
    parser.add_argument("--out", type=Path, default=Path("runs/mouth_look"))
    parser.add_argument("--weights", type=Path, default=Path("runs/mouth_look"))
    parser.add_argument("--minutes", type=float, default=20.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.command == "pairs":
        build_pairs(args.videos, args.pairs)
    elif args.command == "train":
        sys.stdout.write(json.dumps(train(args.videos, args.pairs, args.out, args.minutes), indent=1) + "\n")
    else:
        sys.stdout.write(json.dumps(judge(args.videos, args.pairs, args.weights), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
