"""Face detection and 478-point landmarks (the first geometric step of reconstruction).

The landmarks drive everything after them: the renderer crop (`reconstruction/crop.py`), the
five points of Deep3DFaceRecon's 224-px alignment and the project's own
landmark fit. We use MediaPipe 0.10.14's face mesh (`mp.solutions.face_mesh`, refined: 468
mesh points + 10 iris points), whose models ship inside the wheel, so nothing is downloaded.

Coordinates: full-resolution image pixels, OpenCV convention (the centre of pixel (col, row)
is at x = col, y = row; x right, y down), z with the same scale as x (MediaPipe's relative
depth times the image width; smaller = nearer the camera), float32.

Two passes find faces: the face mesh on the whole (downscaled) image, which misses faces that
are small in the frame; then MediaPipe's full-range face detector on the whole image and on
overlapping tiles, and the face mesh again on a crop around every box not already covered.
Every face the mesh returns is confirmed by MediaPipe's short-range face detector on a crop around
it (the mesh alone once put a face on a building's windows beside a real one, and that larger
false face was the one chosen). The face chosen for editing is found again on a level copy when it is rolled by more than
`LEVEL_ROLL` degrees (the mesh places a strongly rolled face's lips and contour a few pixels off).
`reconstruction.tracking.FaceTracker` follows one person through a clip with the same models.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from core.context import Closeable
from core.errors import FaceTooSmallError, InputError, NoFaceError
from core.images import check_rgb8

__all__ = [
    "NUM_LANDMARKS",
    "LEVEL_ROLL",
    "LANDMARKS68_INDICES",
    "FIVE_POINT_NAMES",
    "DetectedFace",
    "DetectionResult",
    "FaceDetector",
    "face_box_iou",
    "mesh_to_pixels",
    "padded_region",
]

logger = logging.getLogger(__name__)

#: Points of the refined face mesh (468 mesh + 2 x 5 iris points).
NUM_LANDMARKS = 478

# Mesh indices. MediaPipe names eyes from the subject's point of view: its "right" eye lies on
# the image's left side in an upright photo (and in a mirrored one: the model sees no mirror).
_EYE_IMAGE_LEFT = (33, 160, 158, 133, 153, 144)  # outer corner, 2 upper lid, inner corner, 2 lower lid
_EYE_IMAGE_RIGHT = (362, 385, 387, 263, 373, 380)  # inner corner, 2 upper lid, outer corner, 2 lower lid
_NOSE_TIP = 1
_MOUTH_IMAGE_LEFT = 61
_MOUTH_IMAGE_RIGHT = 291

FIVE_POINT_NAMES = ("eye_image_left", "eye_image_right", "nose_tip", "mouth_image_left", "mouth_image_right")

#: Mesh index for each of the 68 points of the iBUG 300-W layout (dlib, FAN, Deep3DFaceRecon).
#: Chosen by hand from the mesh topology: the jaw (0-16) takes every other point of the mesh's
#: face oval from cheek (level with the eyes) round the chin to the other cheek; brows (17-26)
#: the upper brow line; nose bridge (27-30) and base (31-35); eyes (36-47) the six-point lid
#: contours; lips (48-67) the outer and inner contours. Index 0 of the 68 layout is on the
#: image's left in an upright photo. The mesh's oval is the silhouette of a frontal face only,
#: like the 68-point jaw, so the correspondence is approximate for turned heads.
# fmt: off
LANDMARKS68_INDICES: tuple[int, ...] = (
    # jaw 0-16
    234, 93, 132, 58, 172, 136, 150, 176, 152, 400, 379, 365, 397, 288, 361, 323, 454,
    # brows 17-21 (image left, outer to inner), 22-26 (image right, inner to outer)
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # nose bridge 27-30, nose base 31-35
    6, 197, 195, 1, 98, 97, 2, 326, 327,
    # eyes 36-41 (image left), 42-47 (image right)
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    # outer lips 48-59
    61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,
    # inner lips 60-67
    78, 81, 13, 311, 308, 402, 14, 178,
)
# fmt: on

Box = tuple[float, float, float, float]

#: Roll (degrees, from the line between the eye centres) beyond which `FaceDetector.detect_one`
#: finds the face again on a copy turned level. Measured on img1 and img3 turned by 40 degrees: the
#: mesh of the rolled photo puts the inner lips 3.2-5.1 px (mean) from where the mesh of the photo
#: puts them, the level copy's mesh 2.0-2.2 px, within what a turn of a level photo by 1-3
#: degrees moves them (2.6-3.7 px). Below 15 degrees the level copy gains nothing measurable.
LEVEL_ROLL = 15.0

#: A face the mesh found is kept when the short-range detector, run on a square crop this many
#: times the face's box, finds a face centred inside that box with at least `min_confidence`.
#: Measured on the 146 faces the mesh finds in the 119 photos of ../shared/data/images: the 145
#: real faces score 0.69-0.94 (profiles, a face turned 90 degrees, a monkey, a drawing), the one false
#: face (windows of a building) 0.00 (on a tighter 1.6x crop it still scored 0.52).
_CONFIRM_CROP = 2.4

# Smallest face, as a fraction of the image side, that MediaPipe's full-range detector finds
# reliably (measured on the astronaut: 7 % found, 5 % missed); 8 % leaves a margin.
_MIN_FACE_FRACTION = 0.08


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, dtype=np.float32, copy=True)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class DetectedFace:
    """One face: landmarks (478, 3) float32 in full-image pixels, its box, size and rank.

    `bbox` is (x0, y0, x1, y1) of the landmarks in pixels; `size` is the longer side of that box
    in pixels; `index` is the rank among the faces of the image (0 = largest).
    """

    landmarks: np.ndarray
    bbox: Box
    size: float
    index: int = 0

    def __post_init__(self) -> None:
        lm = np.asarray(self.landmarks)
        if lm.ndim != 2 or lm.shape[0] != NUM_LANDMARKS or lm.shape[1] not in (2, 3):
            raise InputError(f"face landmarks must have shape ({NUM_LANDMARKS}, 3), got {lm.shape}")
        if lm.shape[1] == 2:
            lm = np.concatenate([lm, np.zeros((NUM_LANDMARKS, 1), lm.dtype)], axis=1)
        object.__setattr__(self, "landmarks", _readonly(lm))

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray, index: int = 0) -> DetectedFace:
        """Build a face from (478, 2|3) landmarks, deriving box and size."""
        lm = np.asarray(landmarks, dtype=np.float32)
        if lm.ndim != 2 or lm.shape[0] != NUM_LANDMARKS:
            raise InputError(f"face landmarks must have shape ({NUM_LANDMARKS}, 3), got {lm.shape}")
        if not np.all(np.isfinite(lm)):
            raise InputError("face landmarks contain NaN or infinite values")
        x0, y0 = (float(v) for v in lm[:, :2].min(axis=0))
        x1, y1 = (float(v) for v in lm[:, :2].max(axis=0))
        return cls(landmarks=lm, bbox=(x0, y0, x1, y1), size=max(x1 - x0, y1 - y0), index=index)

    @property
    def centre(self) -> np.ndarray:
        """(2,) centre of the box, pixels."""
        x0, y0, x1, y1 = self.bbox
        return np.array([(x0 + x1) / 2, (y0 + y1) / 2], dtype=np.float32)

    def five_points(self) -> np.ndarray:
        """(5, 2) float32 pixels: eye centres, nose tip, mouth corners, image-left point first.

        This is the order Deep3DFaceRecon's alignment expects (its eye 1 is the eye on the image's
        left in an upright photo). Eye centres are the mean of the six lid-contour points, which
        unlike the iris do not move with the gaze.
        """
        lm = self.landmarks
        return np.stack(
            [
                lm[list(_EYE_IMAGE_LEFT), :2].mean(axis=0),
                lm[list(_EYE_IMAGE_RIGHT), :2].mean(axis=0),
                lm[_NOSE_TIP, :2],
                lm[_MOUTH_IMAGE_LEFT, :2],
                lm[_MOUTH_IMAGE_RIGHT, :2],
            ]
        ).astype(np.float32)

    def roll(self) -> float:
        """Degrees the line from the image-left eye centre to the image-right one turns clockwise
        on screen from the horizontal (y down): 0 for an upright face."""
        eyes = self.five_points()[:2]
        dx, dy = eyes[1] - eyes[0]
        return math.degrees(math.atan2(float(dy), float(dx)))

    def landmarks68(self) -> np.ndarray:
        """(68, 2) float32 pixels in the iBUG 68-point layout (see `LANDMARKS68_INDICES`)."""
        return np.ascontiguousarray(self.landmarks[list(LANDMARKS68_INDICES), :2])

    def with_index(self, index: int) -> DetectedFace:
        return DetectedFace(landmarks=self.landmarks, bbox=self.bbox, size=self.size, index=index)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able record (landmarks as nested lists)."""
        return {
            "landmarks": self.landmarks.tolist(),
            "bbox": list(self.bbox),
            "size": self.size,
            "index": self.index,
        }


@dataclass(frozen=True, eq=False)
class DetectionResult:
    """The face chosen for editing plus what else was found.

    `faces` holds every face found, largest first; `image_size` is (H, W) in pixels.
    """

    face: DetectedFace
    num_faces: int
    faces: tuple[DetectedFace, ...] = field(default_factory=tuple)
    image_size: tuple[int, int] = (0, 0)


def face_box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _downscale(image: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink so the longest side is at most `max_side` (area filter); returns the image itself if small."""
    h, w = image.shape[:2]
    longest = max(h, w)
    if longest <= max_side:
        return image
    f = max_side / longest
    size = (max(1, round(w * f)), max(1, round(h * f)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def mesh_to_pixels(face_landmarks: Any, x0: float, y0: float, width: float, height: float) -> np.ndarray:
    """MediaPipe normalised landmarks of an image covering [x0, x0+width) x [y0, y0+height) -> (478, 3).

    x_norm * width is an edge coordinate (0 = left edge of the first pixel); we subtract 0.5 for
    the pixel-centre convention. z is scaled by the width, as MediaPipe documents.
    """
    pts = np.array([(p.x, p.y, p.z) for p in face_landmarks.landmark], dtype=np.float64)
    out = np.empty_like(pts)
    out[:, 0] = x0 + pts[:, 0] * width - 0.5
    out[:, 1] = y0 + pts[:, 1] * height - 0.5
    out[:, 2] = pts[:, 2] * width
    return out.astype(np.float32)


def _tile_origins(length: int, tile: int) -> list[int]:
    """Start offsets of tiles covering `length`, neighbours overlapping by at least 15 % of a tile."""
    if length <= tile:
        return [0]
    n = math.ceil((length - tile) / (0.85 * tile)) + 1
    return sorted({round(v) for v in np.linspace(0, length - tile, n)})


class FaceDetector(Closeable):
    """Finds faces and their 478 landmarks in still photos; reusable and thread-safe.

    Holds the MediaPipe graphs (built once, ~0.2 s); one lock per instance serialises calls,
    so share one detector between threads or give each worker its own for parallelism.

    Args:
        max_detect_side: images are shrunk to this longest side for detection; landmarks are
            mapped back to full resolution.
        min_confidence: detector score threshold in [0, 1].
        search_small_faces: run the second pass (full-range detector on the image and on
            tiles, then the mesh on crops) when the first pass found fewer faces than asked.
        min_face_size: smallest face (full-image pixels) the second pass sets out to find; it
            decides whether and how finely to tile (at most 4 x 4 tiles of the image shrunk to
            `max_detect_side`, so in very large photos the floor is higher). Smaller faces may
            still be found.
        max_faces_limit: most faces the mesh looks for in one pass.
    """

    def __init__(
        self,
        *,
        max_detect_side: int = 1024,
        min_confidence: float = 0.5,
        search_small_faces: bool = True,
        min_face_size: int = 48,
        max_faces_limit: int = 10,
    ) -> None:
        if max_detect_side < 64:
            raise InputError(f"max_detect_side must be at least 64 pixels, got {max_detect_side}")
        if not 0.0 < min_confidence < 1.0:
            raise InputError(f"min_confidence must be in (0, 1), got {min_confidence}")
        import mediapipe as mp  # heavy: imported when a detector is built, not with this module

        self.max_detect_side = int(max_detect_side)
        self.min_confidence = float(min_confidence)
        self.search_small_faces = bool(search_small_faces)
        self.min_face_size = max(8, int(min_face_size))
        self.max_faces_limit = int(max_faces_limit)
        self._lock = threading.Lock()
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=self.max_faces_limit,
            refine_landmarks=True,
            min_detection_confidence=self.min_confidence,
        )
        self._crop_mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=2,
            refine_landmarks=True,
            min_detection_confidence=self.min_confidence,
        )
        # model_selection=0: the short-range model, for a face filling a good part of the crop.
        self._confirm = mp.solutions.face_detection.FaceDetection(
            model_selection=0, min_detection_confidence=self.min_confidence
        )
        # model_selection=1: the full-range model (faces up to ~5 m, i.e. small in the frame).
        self._boxes = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=self.min_confidence
        )
        self._closed = False

    def close(self) -> None:
        """Release the MediaPipe graphs."""
        with self._lock:
            if not self._closed:
                self._mesh.close()
                self._crop_mesh.close()
                self._boxes.close()
                self._confirm.close()
                self._closed = True

    def detect(self, image: np.ndarray, max_faces: int = 5) -> list[DetectedFace]:
        """All faces of a (H, W, 3) uint8 RGB image, largest first, at most `max_faces`."""
        image = check_rgb8(image)
        if not 1 <= max_faces <= self.max_faces_limit:
            raise InputError(f"max_faces must be in [1, {self.max_faces_limit}], got {max_faces}")
        with self._lock:
            if self._closed:
                raise InputError("This FaceDetector was closed; build a new one.")
            h, w = image.shape[:2]
            small = _downscale(image, self.max_detect_side)
            result = self._mesh.process(small)
            faces = [
                mesh_to_pixels(f, 0.0, 0.0, float(w), float(h)) for f in (result.multi_face_landmarks or [])
            ]
            found = [DetectedFace.from_landmarks(lm) for lm in faces]
            if self.search_small_faces and len(found) < max_faces:
                found += self._second_pass(image, small, found)
            found = _deduplicate(found)
            confirmed = [f for f in found if self._confirmed(image, f)]
        if len(confirmed) < len(found):
            logger.debug("detect: %d face(s) not confirmed by the detector", len(found) - len(confirmed))
        found = confirmed
        found.sort(key=lambda f: f.size, reverse=True)
        logger.debug("detect: %d face(s) in a %dx%d image", len(found), w, h)
        return [f.with_index(i) for i, f in enumerate(found[:max_faces])]

    def detect_one(self, image: np.ndarray, face_index: int = 0, min_size: float = 64) -> DetectionResult:
        """The face to edit: the `face_index`-th largest, at least `min_size` pixels.

        Raises NoFaceError when there is none, FaceTooSmallError when it is smaller than
        `min_size` (both say what to do), InputError for a face_index beyond the faces found.
        """
        if face_index < 0:
            raise InputError(f"face_index must be >= 0, got {face_index}")
        image = check_rgb8(image)
        faces = self.detect(image, max_faces=min(self.max_faces_limit, max(5, face_index + 1)))
        h, w = image.shape[:2]
        if not faces:
            raise NoFaceError(
                f"No face found in the {w}x{h} image: use a photo where one face is clearly visible, "
                "frontal or up to ~45 degrees, not covered and reasonably lit."
            )
        if face_index >= len(faces):
            raise InputError(
                f"Face number {face_index} was asked for, but only {len(faces)} face(s) were found "
                f"(numbered 0 to {len(faces) - 1}, largest first)."
            )
        face = faces[face_index]
        if abs(face.roll()) > LEVEL_ROLL:
            with self._lock:
                face = self._found_level(image, face).with_index(face.index)
            faces[face_index] = face
        if face.size < min_size:
            raise FaceTooSmallError(
                f"The face found is {face.size:.0f} pixels tall/wide; at least {min_size:.0f} pixels are "
                "needed. Use a photo where the face is larger (closer, or less zoomed out), or crop the "
                "photo around the face without shrinking it."
            )
        return DetectionResult(face=face, num_faces=len(faces), faces=tuple(faces), image_size=(h, w))

    def _second_pass(
        self, image: np.ndarray, small: np.ndarray, known: Sequence[DetectedFace]
    ) -> list[DetectedFace]:
        """Faces the whole-image mesh missed: detector boxes (whole image + tiles), then mesh on crops."""
        h, w = image.shape[:2]
        sh, sw = small.shape[:2]
        sx, sy = w / sw, h / sh
        boxes: list[tuple[float, Box]] = []
        regions = [(0, 0, sw, sh)]
        longest = max(sh, sw)
        # The full-range detector finds faces down to ~7 % of the side of what it is given; tile
        # (at most 4 x 4) when the whole image is too large for a min_face_size face.
        tile = max(192, round(self.min_face_size * sw / w / _MIN_FACE_FRACTION), math.ceil(longest / 3.4))
        if tile < longest:
            regions += [
                (x, y, min(tile, sw), min(tile, sh))
                for y in _tile_origins(sh, tile)
                for x in _tile_origins(sw, tile)
            ]
        for rx, ry, rw, rh in regions:
            view = np.ascontiguousarray(small[ry : ry + rh, rx : rx + rw])
            for det in self._boxes.process(view).detections or []:
                rb = det.location_data.relative_bounding_box
                x0 = (rx + rb.xmin * rw) * sx
                y0 = (ry + rb.ymin * rh) * sy
                box = (x0, y0, x0 + rb.width * rw * sx, y0 + rb.height * rh * sy)
                boxes.append((float(det.score[0]), box))
        boxes.sort(key=lambda sb: sb[0], reverse=True)
        new: list[DetectedFace] = []
        taken: list[Box] = [f.bbox for f in known]
        for _, box in boxes:
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            if any(t[0] <= cx <= t[2] and t[1] <= cy <= t[3] for t in taken):
                continue
            face = self._mesh_on_box(image, box)
            taken.append(box)
            if face is not None:
                new.append(face)
                taken.append(face.bbox)
        if new:
            logger.debug("second pass found %d more face(s)", len(new))
        return new

    def _confirmed(self, image: np.ndarray, face: DetectedFace) -> bool:
        """Whether the short-range detector sees a face centred in `face`'s box (see `_CONFIRM_CROP`)."""
        x0, y0, x1, y1 = face.bbox
        side = max(16, round(_CONFIRM_CROP * max(x1 - x0, y1 - y0)))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        crop = _downscale(padded_region(image, round(cx - side / 2), round(cy - side / 2), side, side), 256)
        half = 0.5 / _CONFIRM_CROP
        for det in self._confirm.process(np.ascontiguousarray(crop)).detections or []:
            box = det.location_data.relative_bounding_box
            if abs(box.xmin + box.width / 2 - 0.5) < half and abs(box.ymin + box.height / 2 - 0.5) < half:
                return True
        return False

    def _found_level(self, image: np.ndarray, face: DetectedFace) -> DetectedFace:
        """`face` found again on a copy of its surroundings turned level about its centre (a
        square 2.4 times its size, edge pixels repeated beyond the photo: nothing of the face is
        cut), its landmarks turned back; `face` itself when the level copy shows none there."""
        centre = face.centre
        side = max(16, round(2.4 * face.size))
        turn = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), face.roll(), 1.0)
        turn[:, 2] += side / 2 - centre
        level = cv2.warpAffine(
            image, turn, (side, side), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
        )
        result = self._mesh.process(np.ascontiguousarray(_downscale(level, self.max_detect_side)))
        found = [
            mesh_to_pixels(f, 0.0, 0.0, float(side), float(side)) for f in result.multi_face_landmarks or []
        ]
        near = [lm for lm in found if np.hypot(*(lm[:, :2].mean(axis=0) - side / 2)) < 0.25 * face.size]
        if not near:
            return face
        landmarks = min(near, key=lambda lm: float(np.hypot(*(lm[:, :2].mean(axis=0) - side / 2)))).copy()
        back = cv2.invertAffineTransform(turn)
        landmarks[:, :2] = landmarks[:, :2] @ back[:, :2].T + back[:, 2]
        logger.debug("face rolled by %.1f degrees found again level", face.roll())
        return DetectedFace.from_landmarks(landmarks)

    def _mesh_on_box(self, image: np.ndarray, box: Box) -> DetectedFace | None:
        """Run the mesh on a square crop (2.4x the box, at most 512 px) of the full-resolution image."""
        h, w = image.shape[:2]
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        side = max(16, round(2.4 * max(box[2] - box[0], box[3] - box[1])))
        x0, y0 = round(cx - side / 2), round(cy - side / 2)
        crop = padded_region(image, x0, y0, side, side)
        scaled = _downscale(crop, 512)
        result = self._crop_mesh.process(np.ascontiguousarray(scaled))
        best, best_dist = None, math.inf
        for f in result.multi_face_landmarks or []:
            lm = mesh_to_pixels(f, float(x0), float(y0), float(side), float(side))
            face = DetectedFace.from_landmarks(lm)
            fx, fy = face.centre
            if not (box[0] <= fx <= box[2] and box[1] <= fy <= box[3]):
                continue  # another face inside the crop, not the one the box was for
            dist = math.hypot(fx - cx, fy - cy)
            if dist < best_dist:
                best, best_dist = face, dist
        return best


def padded_region(image: np.ndarray, x0: int, y0: int, width: int, height: int) -> np.ndarray:
    """image[y0:y0+height, x0:x0+width] with out-of-image parts filled by edge replication."""
    h, w = image.shape[:2]
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(w, x0 + width), min(h, y0 + height)
    if cx1 <= cx0 or cy1 <= cy0:
        return np.zeros((height, width, 3), np.uint8)
    inner = image[cy0:cy1, cx0:cx1]
    pads = (cy0 - y0, y0 + height - cy1, cx0 - x0, x0 + width - cx1)
    if any(pads):
        return cv2.copyMakeBorder(inner, *pads, borderType=cv2.BORDER_REPLICATE)
    return inner


def _deduplicate(faces: list[DetectedFace], iou: float = 0.5) -> list[DetectedFace]:
    kept: list[DetectedFace] = []
    for f in faces:
        if all(face_box_iou(f.bbox, k.bbox) < iou for k in kept):
            kept.append(f)
    return kept
