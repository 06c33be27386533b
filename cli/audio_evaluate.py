"""`pirender audio-evaluate`: held-out likelihood and lip-sync proxy of an audio-to-motion model.

Runs `audio2motion.evaluate.evaluate_main` with the arguments unchanged (`pirender audio-evaluate --help`
shows its options).
"""

from __future__ import annotations

from cli.command_helpers import Passthrough

HELP = "evaluate an audio-to-motion model on held-out clips (NLL, lip-sync proxy; see its --help)"
PASSTHROUGH = True

_COMMAND = Passthrough("audio2motion.evaluate", "evaluate_main")
add_arguments, run_argv, run = _COMMAND.add_arguments, _COMMAND.run_argv, _COMMAND.run
