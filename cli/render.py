"""`pirender render`: run the generator on a 256x256 crop and a motion file (a low-level tool).

For photo editing use `pirender edit`; this command is for checking weights and motion files.
"""

from __future__ import annotations

import argparse
import logging

import numpy as np
from PIL import Image

from core.coefficients import MotionSequence
from pirender.checkpoint import load_generator
from pirender.session import RenderSession

HELP = "render a 256x256 source crop with the motion of an .npz motion file (first frame, or all frames)"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("weights", help="public checkpoint (.pt) or our model directory")
    parser.add_argument("source", help="source crop image (resized to the model's resolution)")
    parser.add_argument("motion", help="MotionSequence .npz (see `pirender coeffs`)")
    parser.add_argument("-o", "--output", required=True, help="output .png (first frame)")
    parser.add_argument("--frame", type=int, default=0, help="which frame of the motion to render")


def run(args: argparse.Namespace) -> int:
    model = load_generator(args.weights)
    size = model.config.image_size
    image = np.asarray(Image.open(args.source).convert("RGB").resize((size, size), Image.BICUBIC))
    motion = MotionSequence.load_npz(args.motion)
    session = RenderSession(model, image)
    Image.fromarray(session.render_image(motion.frame(args.frame))).save(args.output)
    log.info("wrote %s", args.output)
    return 0
