import numpy as np

from benchmarks.fault_survey_sheet import EXAMPLES, Fault, parse_edit, ranked, read_faults, region, region_for
from reconstruction.controls import CONTROL_NAMES


def test_a_photo_counts_once_per_kind_at_its_worst_glare():
    faults = [
        Fault("a.jpg", "yaw=30", "jaw_turn", 2, ""),
        Fault("a.jpg", "yaw=-30", "jaw_turn", 3, ""),
        Fault("b.jpg", "yaw=30", "jaw_turn", 1, ""),
        Fault("b.jpg", "close_eyes=1", "shut_lids", 3, ""),
    ]
    assert ranked(faults) == [("jaw_turn", 2, 2.0, 4), ("shut_lids", 1, 3.0, 3)]


def test_the_crop_follows_the_kind_and_the_side_named():
    assert region_for(Fault("a", "close_eyes=1", "shut_lids", 2, "")) == "eyes"
    assert region_for(Fault("a", "open_mouth=1", "occluder", 3, "")) == "mouth"
    assert region_for(Fault("a", "yaw=-30", "occluder", 2, "hand")) == "head"
    assert region_for(Fault("a", "yaw=30", "near_rim", 2, "cheek (picture left)")) == "left"


def test_a_region_stays_inside_the_photo():
    points = np.zeros((478, 3))
    points[:, :2] = np.random.default_rng(0).uniform(10, 90, (478, 2))
    for name in ("mouth", "eyes", "jaw", "head", "left", "right"):
        x0, y0, x1, y1 = region(points, name, (100, 120))
        assert 0 <= x0 < x1 <= 120 and 0 <= y0 < y1 <= 100


def test_the_recorded_faults_name_real_controls_and_every_example_kind():
    faults = read_faults()
    names = set(CONTROL_NAMES)
    assert all(set(parse_edit(f.edit)) <= names and 1 <= f.glare <= 3 for f in faults)
    assert set(EXAMPLES) <= {f.kind for f in faults}
