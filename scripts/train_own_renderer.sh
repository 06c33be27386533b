#!/usr/bin/env bash
# Reproduce the project's own renderer (weights/files/renderer) from ../shared/data (issue 8).
#
#   bash scripts/train_own_renderer.sh [SHARED_DATA_DIR] [STEPS] [GENERATOR] [SPLIT_SEED]
#
# GENERATOR: refiner (default, colour/shading only), refiner-flow (+ residual flow; 1000 steps
# for the second candidate in docs/OWN_RENDERER.md), refiner-hair (that flow kept off the face:
# hair, ears, neck and outline only; third candidate) or hair-flow (that flow alone, no colour
# correction; fourth candidate, judged on SPLIT_SEED 1) or hair-flow-person (that flow near the
# person only; fifth candidate, judged on SPLIT_SEED 6).
# SPLIT_SEED: seed of the identity split (default 0: dataset runs/ds_full, run folder
# runs/GENERATOR; otherwise runs/ds_seedN and runs/GENERATOR-seedN).
#
# 1. prepare: tracked 256 px crops + default-model coefficients of the 69 shared clips, split by
#    identity (15 % of the identity groups held out, seed 0)          ~5 min on 2 CPU cores
# 2. train: the geometric refiner (GeneratorConfig.geometric_refiner: colour/shading corrections
#    inside the region the preview moved), pixel losses, colour jitter 1.0, batch 4,
#    one intra-op thread (fastest on 2 shared cores)                     ~1 s per step
# 3. training ends by exporting the EMA weights to $RUN/export
# 4. evaluate it against the geometric preview on the held-out clips, then ship it to weights/files/renderer
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${1:-../shared/data}"
STEPS="${2:-2000}"
GENERATOR="${3:-refiner}"
SEED="${4:-0}"
if [ "$SEED" = 0 ]; then DATA=runs/ds_full RUN="runs/$GENERATOR"; else DATA="runs/ds_seed$SEED" RUN="runs/$GENERATOR-seed$SEED"; fi
source .venv/bin/activate

pirender prepare "$SHARED/videos" "$DATA" --test-fraction 0.15 --seed "$SEED" --no-progress
OMP_NUM_THREADS=1 pirender train "$DATA" "$RUN" --generator "$GENERATOR" \
  --warp-iterations 0 --total-iterations "$STEPS" --batch-size 4 --num-workers 1 \
  --log-every 25 --sample-every 500 --checkpoint-every 250 --keep-checkpoints 2 \
  --loss-pixel-only true --color-jitter 1.0 --tensorboard false --amp off --optim-lr 2e-4 --optim-lr-decay-steps 4500
OMP_NUM_THREADS=1 pirender evaluate "$RUN/export" "$DATA" --compare geometric:default \
  --max-frames 30 -o "$RUN/eval"
cat "$RUN/eval/report.md"
# ship it only when it beats the geometric preview on most metrics of that table:
#   rm -rf weights/files/renderer && cp -r "$RUN/export" weights/files/renderer
