"""`pirender audio-prepare`: talking videos with sound -> audio-to-motion training clips.

Runs `audio2motion.prepare.main` with the arguments unchanged (`pirender audio-prepare --help`
shows its options).
"""

from __future__ import annotations

from cli.command_helpers import Passthrough

HELP = "prepare audio-to-motion training clips from talking videos with sound (see its --help)"
PASSTHROUGH = True

_COMMAND = Passthrough("audio2motion.prepare")
add_arguments, run_argv, run = _COMMAND.add_arguments, _COMMAND.run_argv, _COMMAND.run
