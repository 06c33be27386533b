"""`pirender coeffs`: a real run prints only the project's lines; the JSON has the head pose in degrees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli.coeffs import _with_degrees, head_pose_degrees

REPO = Path(__file__).resolve().parents[2]


def test_head_pose_degrees_of_one_pose_and_of_a_sequence() -> None:
    pose = head_pose_degrees(np.radians([10.0, -20.0, 5.0]))  # pitch, yaw, roll
    assert pose == pytest.approx({"yaw": -20.0, "pitch": 10.0, "roll": 5.0})
    frames = head_pose_degrees(np.radians([[10.0, -20.0, 5.0], [0.0, 30.0, 0.0]]))
    assert frames["yaw"] == pytest.approx([-20.0, 30.0]) and frames["pitch"] == pytest.approx([10.0, 0.0])


def test_coeffs_run_is_quiet_and_writes_degrees(astronaut: np.ndarray, tmp_path: Path) -> None:
    photo, out = tmp_path / "astronaut.png", tmp_path / "coeffs.json"
    Image.fromarray(astronaut).save(photo)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "coeffs", str(photo), "-o", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no TensorFlow Lite / absl / protobuf lines or warnings
    lines = done.stdout.splitlines()
    assert lines[0].startswith("faces found: 1") and lines[-1] == f"wrote {out}"
    assert all(line.split(":")[0] in ("faces found", "head pose", "coefficients") for line in lines[:-1])
    record = json.loads(out.read_text())["coefficients"]
    keys = list(record)
    assert keys[keys.index("angles") + 1 : keys.index("angles") + 4] == ["yaw", "pitch", "roll"]
    pitch, yaw, roll = np.degrees(record["angles"])
    assert (record["yaw"], record["pitch"], record["roll"]) == pytest.approx((yaw, pitch, roll))
    assert f"yaw {record['yaw']:+.1f}" in done.stdout


def test_video_record_gets_per_frame_degrees_after_its_angles() -> None:
    angles = np.radians([[10.0, -20.0, 5.0], [0.0, 30.0, 0.0]]).tolist()
    record = _with_degrees({"kind": "video", "angles": angles, "translation": [[0, 0, 0]] * 2}, angles)
    assert list(record) == ["kind", "angles", "yaw", "pitch", "roll", "translation"]
    assert record["yaw"] == pytest.approx([-20.0, 30.0]) and record["roll"] == pytest.approx([5.0, 0.0])
