"""Training clips from real talking videos: motion + audio reference + identity group, resumable."""

from __future__ import annotations

import json

import pytest

from audio2motion.dataset import discover_clips
from audio2motion.prepare import prepare_clips
from core.coefficients import DEFAULT_FACE_MODEL, MotionSequence

CLIP = "Hangz-nju-cuhk__Talking-Face_PC-AVS__00067.mp4"


@pytest.mark.realdata
@pytest.mark.slow
def test_prepare_real_clip(shared_data, tmp_path, monkeypatch):
    source = shared_data / "videos" / CLIP
    if not source.is_file():
        pytest.skip(f"{CLIP} not in the shared data")
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / CLIP).symlink_to(source)  # read in place
    (videos / "MANIFEST.tsv").write_text(f"file\thas_audio\tnote\n{CLIP}\tyes\tidentity_group=person_a\n")
    monkeypatch.chdir(tmp_path)  # folders given relative to the working directory, as on the command line
    videos, out = videos.relative_to(tmp_path), tmp_path.joinpath("clips").relative_to(tmp_path)
    assert prepare_clips(videos, out, max_seconds=2.0) == [CLIP[:-4]]
    motion = MotionSequence.load_npz(out / f"{CLIP[:-4]}.npz")
    assert motion.face_model == DEFAULT_FACE_MODEL and len(motion) == 50
    meta = json.loads((out / f"{CLIP[:-4]}.json").read_text())
    assert meta["group"] == "person_a"
    (clip,) = discover_clips(out)
    assert clip.media_path.is_file()  # the recorded media path is found from the clip folder
    # resumable: a second run finds the clip and does not redo it
    before = (out / f"{CLIP[:-4]}.npz").stat().st_mtime_ns
    assert prepare_clips(videos, out, max_seconds=2.0) == [CLIP[:-4]]
    assert (out / f"{CLIP[:-4]}.npz").stat().st_mtime_ns == before
