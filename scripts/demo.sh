#!/usr/bin/env bash
# The posekit demo on the open-field mouse data carried in data/openfield-mouse.
# Every step is a plain `posekit` command: copy any of them to work on your own data.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${POSEKIT_DEMO_OUT:-$here/demo-output}"
data="$here/data/openfield-mouse"
rm -rf "$out"
mkdir -p "$out"

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "1. Create a project for the open-field video" \
  posekit create openfield --experimenter demo --videos "$data/videos/m3v1mp4.mp4" \
  --bodyparts snout leftear rightear tailbase \
  --working-directory "$out"
project=$(ls -d "$out"/openfield-demo-*)

step "2. Pick 20 visually distinct frames to label (k-means on downsampled frames)" \
  posekit extract-frames "$project" --algo kmeans --n 20

step "3. Open the labeled DeepLabCut project shipped with posekit, as it is, and copy it" \
  cp -r "$data" "$out/openfield-dlc"

step "4. Draw its 116 hand-labeled frames for checking" \
  posekit check-labels "$out/openfield-dlc"

cat <<MSG

Done. What was made:
  $project                      new project (config.yaml, videos/, labeled-data/ ...)
  $project/labeled-data/m3v1mp4/  20 frames chosen for labeling (img<frame>.png)
  $out/openfield-dlc/labeled-data/m4s1_labeled/  labeled frames drawn for checking (open index.html)

Label the new frames in your browser with:  posekit label "$project"
Training, evaluation and video analysis are not in posekit yet; this demo stops at
frame selection and label checking.
MSG
