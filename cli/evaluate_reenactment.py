"""`pirender evaluate-reenactment`: a clip's first frame driven by its own video, against the real frames.

Runs `training.evaluation.self_reenactment.main` with the arguments unchanged, except that the
clips' folder may come first without its flag: `pirender evaluate-reenactment VIDEOS` is
`--videos VIDEOS` (`pirender evaluate-reenactment --help` shows every option).
"""

from __future__ import annotations

from cli.command_helpers import Passthrough

HELP = "self-reenactment of real clips: PSNR in face/mouth/eye boxes and mouth-opening ratio (see its --help)"
PASSTHROUGH = True

_COMMAND = Passthrough("training.evaluation.self_reenactment", leading_folder="--videos")
add_arguments, run_argv, run = _COMMAND.add_arguments, _COMMAND.run_argv, _COMMAND.run
