import time

from benchmarks.timing import interleaved_ms, paired_toggle_ms, summary_ms


def test_paired_toggle_times_each_setting_and_reads_the_difference():
    state = {"on": False, "calls": []}

    def toggle(on: bool) -> None:
        state["on"] = on

    def call() -> None:
        state["calls"].append(state["on"])
        if state["on"]:
            time.sleep(0.004)

    (wall_off, wall_on, wall_added), _cpu = paired_toggle_ms(toggle, call, 6, warm=1)
    assert state["calls"].count(True) == state["calls"].count(False) == 7
    assert state["calls"][:4] == [True, False, False, True]  # the order alternates
    assert wall_on - wall_off > 3.0
    assert 3.0 < wall_added < 40.0


def test_interleaved_ways_take_turns_and_summaries_are_ordered():
    order = []
    times = interleaved_ms({"a": order.append, "b": lambda i: order.append(-i)}, 3)
    assert order == [0, 0, 1, -1, 2, -2]
    assert set(times) == {"a", "b"} and all(len(t) == 3 for t in times.values())
    summary = summary_ms([3.0, 1.0, 2.0, 10.0])
    assert summary["min_ms"] == 1.0 and summary["median_ms"] == 2.5 and summary["p90_ms"] == 3.0
