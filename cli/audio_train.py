"""`pirender audio-train`: train the audio-to-motion flows on prepared clips.

Runs `audio2motion.training.train_main` with the arguments unchanged (`pirender audio-train --help`
shows its options).
"""

from __future__ import annotations

from cli.command_helpers import Passthrough

HELP = "train the audio-to-motion model on prepared clips (see its --help)"
PASSTHROUGH = True

_COMMAND = Passthrough("audio2motion.training", "train_main")
add_arguments, run_argv, run = _COMMAND.add_arguments, _COMMAND.run_argv, _COMMAND.run
