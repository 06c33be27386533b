"""`pirender evaluate-lipsync`: does the animated mouth follow the speech, on real talking-head clips?

Runs `training.evaluation.lipsync.main` with the arguments unchanged, except that the clips'
folder may come first without its flag: `pirender evaluate-lipsync VIDEOS --model DIR` is
`--videos VIDEOS --model DIR` (`pirender evaluate-lipsync --help` shows every option).
"""

from __future__ import annotations

from cli.command_helpers import Passthrough

HELP = (
    "lip-sync of an audio-to-motion model on real clips: mouth-opening r, amplitude, silence (see its --help)"
)
PASSTHROUGH = True

_COMMAND = Passthrough("training.evaluation.lipsync", leading_folder="--videos")
add_arguments, run_argv, run = _COMMAND.add_arguments, _COMMAND.run_argv, _COMMAND.run
