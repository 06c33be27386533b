#!/usr/bin/env bash
# Train a PIRenderer of your own on the shared clips, compare it with the geometric preview on
# held-out people, and say how to install it for the app.
#
#   bash scripts/train_own_renderer.sh [SHARED_DATA_DIR] [STEPS] [GENERATOR] [SPLIT_SEED]
#
# GENERATOR: released (default: the paper's architecture), small, or a generator config.json.
# SPLIT_SEED: seed of the identity split (default 0: dataset runs/ds_full, run folder
# runs/GENERATOR; otherwise runs/ds_seedN and runs/GENERATOR-seedN).
#
# 1. prepare: tracked 256 px crops + default-model coefficients of the shared clips, split by
#    identity (15 % of the identity groups held out)
# 2. train: the paper's two phases (the first half of the steps trains the warping stage alone),
#    one intra-op thread per process; the EMA weights are exported to $RUN/export
# 3. evaluate against the geometric preview on the held-out clips ($RUN/eval/report.md)
# The released architecture needs a GPU to learn much in a reasonable time; on two CPU cores use
# few steps or the small config to check the whole path. docs/OWN_RENDERER.md has the measured results.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${1:-../shared/data}"
STEPS="${2:-2000}"
GENERATOR="${3:-released}"
SEED="${4:-0}"
NAME="$(basename "$GENERATOR" .json)"
if [ "$SEED" = 0 ]; then DATA=runs/ds_full RUN="runs/$NAME"; else DATA="runs/ds_seed$SEED" RUN="runs/$NAME-seed$SEED"; fi
source .venv/bin/activate

pirender prepare "$SHARED/videos" "$DATA" --test-fraction 0.15 --seed "$SEED" --no-progress
OMP_NUM_THREADS=1 pirender train "$DATA" "$RUN" --generator "$GENERATOR" \
  --warp-iterations $((STEPS / 2)) --total-iterations "$STEPS" --batch-size 4 --num-workers 1 \
  --log-every 25 --sample-every 500 --checkpoint-every 250 --keep-checkpoints 2 \
  --color-jitter 1.0 --tensorboard false --amp off
OMP_NUM_THREADS=1 pirender evaluate "$RUN/export" "$DATA" --compare geometric:default \
  --max-frames 30 -o "$RUN/eval"
cat "$RUN/eval/report.md"
# install it for the app (the `own` engine) when it beats the geometric preview on most metrics:
#   WEIGHTS="${PIRENDER_WEIGHTS_DIR:-$HOME/.cache/pirender/weights}"
#   rm -rf "$WEIGHTS/renderer" && cp -r "$RUN/export" "$WEIGHTS/renderer"
