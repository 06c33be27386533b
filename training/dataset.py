"""Prepared video datasets and the training pairs of PIRenderer (paper section 3.4).

On disk (written by `pirender prepare`, read here and by the evaluator):

    <dataset>/manifest.json          format, face model, frame size, splits, counts, skipped videos
    <dataset>/videos/<name>.npz      one file per video (numpy .npz, no pickle):
        images (N,) uint8            the T frames as concatenated JPEG (or PNG) files
        offsets (T + 1,) int64       byte range of frame t: images[offsets[t]:offsets[t + 1]]
        frame_size ()                side of the square frames in pixels (256)
        expression (T, E), angles (T, 3) radians, translation (T, 3), crop (T, 3), fps (),
        face_model () str, identity (I,) optional, meta_json () str (source, identity group, crop box)

Every frame is a readable image file and every coefficient a plain array, so a dataset can be
inspected with numpy and PIL alone. `PairDataset` samples a target frame and a different
source frame of the same video, and returns the target's descriptor window (clamped at the
ends of the video). `ResumableSampler` is an endless, rank-sharded stream whose position is a
pure function of how many samples were consumed, so a resumed run sees the same data.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler

from core.coefficients import MotionSequence, check_face_model
from core.errors import InputError
from pirender.descriptor import window_indices

__all__ = [
    "DATASET_FORMAT",
    "MANIFEST_NAME",
    "VideoRecord",
    "VideoEntry",
    "DatasetManifest",
    "PairDataset",
    "ResumableSampler",
    "frames_to_tensor",
]

log = logging.getLogger(__name__)

DATASET_FORMAT = "pirender-video-dataset"
DATASET_VERSION = 1
MANIFEST_NAME = "manifest.json"
SPLITS = ("train", "test")


def _encode(frame: np.ndarray, image_format: str, quality: int) -> bytes:
    buf = io.BytesIO()
    image = Image.fromarray(frame)
    if image_format == "jpeg":
        image.save(buf, format="JPEG", quality=quality, subsampling=0)
    elif image_format == "png":
        image.save(buf, format="PNG", compress_level=6)
    else:
        raise InputError(f"image_format must be 'jpeg' or 'png', got {image_format!r}")
    return buf.getvalue()


@dataclass(frozen=True, eq=False)
class VideoRecord:
    """One prepared video: T encoded square frames, their coefficients and metadata.

    `images`/`offsets` hold the encoded frames (see the module docstring); `motion` holds the
    per-frame coefficients; `meta` is JSON-able (source file, identity group, crop box, ...).
    """

    name: str
    images: np.ndarray
    offsets: np.ndarray
    frame_size: int
    motion: MotionSequence
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.offsets.ndim != 1 or self.offsets.shape[0] != len(self.motion) + 1:
            raise InputError(
                f"video '{self.name}': {self.offsets.shape[0] - 1} frames but {len(self.motion)} coefficient rows"
            )

    def __len__(self) -> int:
        return len(self.motion)

    @classmethod
    def from_frames(
        cls,
        name: str,
        frames: np.ndarray | Sequence[np.ndarray],
        motion: MotionSequence,
        meta: dict[str, Any] | None = None,
        *,
        image_format: str = "jpeg",
        quality: int = 95,
    ) -> VideoRecord:
        """Encode (T, S, S, 3) uint8 RGB frames (JPEG quality `quality` without chroma subsampling, or PNG)."""
        arr = [np.asarray(f) for f in frames]
        if not arr or any(f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3 for f in arr):
            raise InputError("frames must be a non-empty sequence of (S, S, 3) uint8 RGB images")
        size = arr[0].shape[0]
        if any(f.shape != (size, size, 3) for f in arr):
            raise InputError(f"all frames must be square and of one size, first is {arr[0].shape}")
        blobs = [_encode(f, image_format, quality) for f in arr]
        offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(b) for b in blobs])
        images = np.frombuffer(b"".join(blobs), dtype=np.uint8).copy()
        return cls(name, images, offsets, int(size), motion, dict(meta or {}))

    def frame(self, index: int) -> np.ndarray:
        """Frame `index` as (S, S, 3) uint8 RGB."""
        if not -len(self) <= index < len(self):
            raise InputError(f"video '{self.name}' has {len(self)} frames, frame {index} was asked for")
        index %= len(self)
        blob = self.images[self.offsets[index] : self.offsets[index + 1]].tobytes()
        with Image.open(io.BytesIO(blob)) as im:
            return np.array(im.convert("RGB"))

    def frames(self, indices: Sequence[int] | None = None) -> np.ndarray:
        """(K, S, S, 3) uint8 frames (all when `indices` is None)."""
        idx = range(len(self)) if indices is None else indices
        return np.stack([self.frame(i) for i in idx])

    def save(self, path: str | Path) -> Path:
        """Write the .npz atomically (a temporary file renamed into place)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        m = self.motion
        arrays: dict[str, np.ndarray] = {
            "images": self.images,
            "offsets": self.offsets,
            "frame_size": np.int64(self.frame_size),
            "expression": m.expression,
            "angles": m.angles,
            "translation": m.translation,
            "crop": m.crop,
            "fps": np.float32(m.fps),
            "face_model": np.array(m.face_model),
            "name": np.array(self.name),
            "meta_json": np.array(json.dumps(self.meta)),
        }
        if m.identity is not None:
            arrays["identity"] = m.identity
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)  # frames are already compressed: no zip compression
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> VideoRecord:
        """Read a video file written by `save` (no pickle); InputError when it is not one."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                motion = MotionSequence.from_arrays(data)
                return cls(
                    str(data["name"]),
                    data["images"],
                    data["offsets"],
                    int(data["frame_size"]),
                    motion,
                    json.loads(str(data["meta_json"])),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise InputError(f"{path} is not a prepared video file ({type(exc).__name__}: {exc})") from None


@dataclass(frozen=True)
class VideoEntry:
    """One video of the manifest: its file (relative to the dataset), split, identity group and size."""

    name: str
    file: str
    split: str
    identity_group: str
    num_frames: int
    fps: float
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class DatasetManifest:
    """The dataset's table of contents (`manifest.json`)."""

    root: Path
    face_model: str
    frame_size: int
    videos: tuple[VideoEntry, ...] = ()
    skipped: tuple[dict[str, str], ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    def split(self, name: str) -> tuple[VideoEntry, ...]:
        if name not in SPLITS:
            raise InputError(f"split must be one of {SPLITS}, got {name!r}")
        return tuple(v for v in self.videos if v.split == name)

    def counts(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for s in SPLITS:
            vids = self.split(s)
            out[s] = {
                "videos": len(vids),
                "frames": sum(v.num_frames for v in vids),
                "identities": len({v.identity_group for v in vids}),
            }
        out["skipped"] = len(self.skipped)
        return out

    def path_of(self, entry: VideoEntry) -> Path:
        return self.root / entry.file

    def load_video(self, entry: VideoEntry) -> VideoRecord:
        return VideoRecord.load(self.path_of(entry))

    def save(self) -> Path:
        """Write manifest.json atomically."""
        data = {
            "format": DATASET_FORMAT,
            "version": DATASET_VERSION,
            "face_model": self.face_model,
            "frame_size": self.frame_size,
            "counts": self.counts(),
            "info": self.info,
            "videos": [v.to_dict() for v in self.videos],
            "skipped": list(self.skipped),
        }
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / MANIFEST_NAME
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, root: str | Path) -> DatasetManifest:
        root = Path(root)
        path = root / MANIFEST_NAME
        if not path.is_file():
            raise InputError(
                f"{root} is not a prepared dataset: {MANIFEST_NAME} is missing (run `pirender prepare`)"
            )
        try:
            data = json.loads(path.read_text())
            if data.get("format") != DATASET_FORMAT:
                raise InputError(f"{path} is not a {DATASET_FORMAT} manifest (format {data.get('format')!r})")
            return cls(
                root=root,
                face_model=str(data["face_model"]),
                frame_size=int(data["frame_size"]),
                videos=tuple(VideoEntry(**v) for v in data["videos"]),
                skipped=tuple(data.get("skipped", [])),
                info=dict(data.get("info", {})),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InputError(f"{path} is malformed ({type(exc).__name__}: {exc})") from None


def frames_to_tensor(frames: np.ndarray, size: int | None = None) -> torch.Tensor:
    """(S, S, 3) or (K, S, S, 3) uint8 -> (3, s, s) or (K, 3, s, s) float32 in [-1, 1], resized to `size`."""
    arr = np.asarray(frames)
    single = arr.ndim == 3
    batch = arr[None] if single else arr
    if size is not None and batch.shape[1] != size:
        batch = np.stack(
            [np.asarray(Image.fromarray(f).resize((size, size), Image.Resampling.BILINEAR)) for f in batch]
        )
    t = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return t[0] if single else t


def jitter_colors(images: torch.Tensor, rng: np.random.Generator, strength: float) -> torch.Tensor:
    """One random photometric change (per-channel gain, brightness, contrast, saturation) applied
    alike to every image of (N, 3, H, W) in [-1, 1]: the pair's geometry and its pixel
    correspondence stay exact, only the colours of person and room vary."""
    gain = 1.0 + strength * rng.uniform(-0.15, 0.15, size=3)
    brightness = strength * rng.uniform(-0.2, 0.2)
    contrast = 1.0 + strength * rng.uniform(-0.3, 0.3)
    saturation = 1.0 + strength * rng.uniform(-0.5, 0.5)
    x = (images + 1.0) / 2.0 * torch.tensor(gain, dtype=images.dtype).view(1, 3, 1, 1)
    gray = x.mean(dim=1, keepdim=True)
    x = gray + saturation * (x - gray)
    mean = x.mean(dim=(1, 2, 3), keepdim=True).mean(dim=0, keepdim=True)
    x = mean + contrast * (x - mean) + brightness
    return (x.clamp(0.0, 1.0) * 2.0 - 1.0).to(images.dtype)


class PairDataset(Dataset):
    """(source, target) frame pairs from the same video, with the target's descriptor window.

    Item `i` is target frame i of the split (videos concatenated); the source is another frame of
    that video drawn from a generator seeded by (seed, epoch, i), so a given key always gives the
    same pair (resumable, and independent of the number of data workers). Keys are ints or the
    (index, epoch) pairs `ResumableSampler` yields.

    Returns a dict: `source`, `target` (3, s, s) in [-1, 1]; `descriptor` (C, window) of the
    target and `source_descriptor` of the source (clamped at the video's ends); `video`,
    `source_frame`, `target_frame` ints.
    `color_jitter` > 0 applies one random photometric change (`jitter_colors`) to all images of an item.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        window: int = 27,
        image_size: int | None = None,
        seed: int = 0,
        face_model: str | None = None,
        coeff_nc: int | None = None,
        cache_size: int = 32,
        color_jitter: float = 0.0,
    ) -> None:
        self.manifest = DatasetManifest.load(root)
        if face_model is not None:
            check_face_model(face_model, self.manifest.face_model, what="generator being trained")
        self.entries = self.manifest.split(split)
        if not self.entries:
            raise InputError(f"the '{split}' split of {root} has no videos ({self.manifest.counts()})")
        self.split = split
        self.window = window
        self.image_size = image_size
        self.seed = seed
        self.coeff_nc = coeff_nc
        self.cache_size = cache_size
        self.color_jitter = color_jitter
        self._cache: OrderedDict[int, tuple[VideoRecord, np.ndarray]] = OrderedDict()
        self._starts = np.concatenate([[0], np.cumsum([e.num_frames for e in self.entries])]).astype(np.int64)

    def __len__(self) -> int:
        return int(self._starts[-1])

    def locate(self, index: int) -> tuple[int, int]:
        """Item index -> (video number, frame number)."""
        if not 0 <= index < len(self):
            raise IndexError(f"item {index} out of range for {len(self)} frames")
        video = int(np.searchsorted(self._starts, index, side="right") - 1)
        return video, int(index - self._starts[video])

    def video(self, number: int) -> tuple[VideoRecord, np.ndarray]:
        """(record, descriptor rows (T, C)) of video `number`, from a small LRU cache."""
        if number in self._cache:
            self._cache.move_to_end(number)
            return self._cache[number]
        record = self.manifest.load_video(self.entries[number])
        rows = record.motion.descriptor_rows().astype(np.float32)
        if self.coeff_nc is not None and rows.shape[1] != self.coeff_nc:
            raise InputError(
                f"video '{record.name}' has {rows.shape[1]} descriptor rows per frame, the generator expects {self.coeff_nc}"
            )
        self._cache[number] = (record, rows)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return record, rows

    def window_of(self, rows: np.ndarray, frame: int) -> torch.Tensor:
        """(C, window) descriptor window centred on `frame`, indices clamped to the video."""
        idx = window_indices(rows.shape[0], self.window)[frame]
        return torch.from_numpy(np.ascontiguousarray(rows[idx].T))

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, epoch = (int(key[0]), int(key[1])) if isinstance(key, (tuple, list)) else (int(key), 0)
        video, target = self.locate(index)
        record, rows = self.video(video)
        n = len(record)
        rng = np.random.default_rng([self.seed, epoch, index])
        source = int(rng.integers(n - 1)) if n > 1 else 0
        if n > 1 and source >= target:
            source += 1  # uniform over the other frames
        images = frames_to_tensor(np.stack([record.frame(source), record.frame(target)]), self.image_size)
        if self.color_jitter > 0:
            images = jitter_colors(images, rng, self.color_jitter)
        return {
            "source": images[0],
            "target": images[1],
            "descriptor": self.window_of(rows, target),
            "source_descriptor": self.window_of(rows, source),
            "video": video,
            "source_frame": source,
            "target_frame": target,
        }


@dataclass
class ResumableSampler(Sampler):
    """Endless stream of (index, epoch) keys, shuffled per epoch and sharded over ranks.

    Each epoch is a permutation of all `num_items` items seeded by (seed, epoch), padded by
    wrapping to a multiple of `world_size` and dealt round-robin to the ranks. `start` is the
    number of keys this rank has already consumed: the stream continues from there, so resuming
    needs only the count of samples taken (steps x batch size).
    """

    num_items: int
    _: KW_ONLY
    rank: int = 0
    world_size: int = 1
    seed: int = 0
    shuffle: bool = True
    start: int = 0

    def __post_init__(self) -> None:
        if self.num_items < 1:
            raise InputError("the sampler needs at least one item")
        if not 0 <= self.rank < self.world_size:
            raise InputError(
                f"need 0 <= rank < world_size, got rank {self.rank}, world size {self.world_size}"
            )
        self.per_rank = -(-self.num_items // self.world_size)  # ceil

    def epoch_order(self, epoch: int) -> np.ndarray:
        """This rank's item indices in epoch `epoch` (length per_rank)."""
        order = (
            np.random.default_rng([self.seed, epoch]).permutation(self.num_items)
            if self.shuffle
            else np.arange(self.num_items)
        )
        padded = np.resize(order, self.per_rank * self.world_size)  # wraps around
        return padded[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        consumed = self.start
        while True:
            epoch, offset = divmod(consumed, self.per_rank)
            order = self.epoch_order(epoch)
            for i in range(offset, self.per_rank):
                yield int(order[i]), epoch
            consumed = (epoch + 1) * self.per_rank
