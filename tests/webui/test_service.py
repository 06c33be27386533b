"""Video jobs give way to slider previews (`InteractivePace`) through their cancel flag (`JobCancel`)."""

from __future__ import annotations

import time

from webui.service import InteractivePace, JobCancel


def test_a_job_gives_way_only_while_previews_arrive() -> None:
    pace = InteractivePace(window_s=0.2, longest_s=0.05)
    assert pace.give_way(0.01) == 0.0  # nobody drags: full speed
    pace.note("a")
    pace.note("a")
    t0 = time.monotonic()
    assert pace.give_way(0.01) == 0.01  # one user drags: as long as it worked
    pace.note("b")
    assert pace.dragging() == 2
    assert pace.give_way(0.01) == 0.02  # two users: twice as long (each gets an equal share)
    assert pace.give_way(1.0) == 0.05  # never longer than longest_s
    assert time.monotonic() - t0 >= 0.08
    time.sleep(0.25)
    assert pace.dragging() == 0 and pace.give_way(0.02) == 0.0  # the drags stopped


def test_the_cancel_flag_paces_and_still_cancels() -> None:
    pace = InteractivePace(window_s=5.0, longest_s=0.1)
    flag = JobCancel()
    flag.pace = pace
    pace.note()
    busy_until = time.monotonic() + 0.03
    while time.monotonic() < busy_until:  # a render batch
        pass
    t0 = time.monotonic()
    assert not flag.is_set()
    assert time.monotonic() - t0 >= 0.025  # gave way about as long as it worked
    flag.set()
    assert flag.is_set()
    flag.clear()
    flag.pace = None
    t0 = time.monotonic()
    assert not flag.is_set() and time.monotonic() - t0 < 0.01  # no pace: no pause
