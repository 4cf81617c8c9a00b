#!/usr/bin/env bash
# The posekit demo on the open-field mouse data carried in data/openfield-mouse.
# Every step is a plain `posekit` command: copy any of them to work on your own data.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${POSEKIT_DEMO_OUT:-$here/demo-output}"
epochs="${POSEKIT_DEMO_EPOCHS:-40}"
data="$here/data/openfield-mouse"
video="$data/videos/m3v1mp4.mp4"
rm -rf "$out"
mkdir -p "$out"

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "1. Create a project for the open-field video" \
  posekit create openfield --experimenter Pranav --videos "$video" \
  --bodyparts snout leftear rightear tailbase --working-directory "$out"
project=$(ls -d "$out"/openfield-Pranav-*)
# Left/right bodyparts are swapped when training images are flipped:
echo "symmetric_pairs: [[leftear, rightear]]" >> "$project/config.yaml"

step "2. Pick 20 visually distinct frames to label (k-means on downsampled frames)" \
  posekit extract-frames "$project" --algo kmeans --n 20

step "3. Bring in 116 frames labeled with DeepLabCut (as if labeled with 'posekit label')" \
  cp -r "$data/labeled-data/m4s1" "$project/labeled-data/"

step "4. Draw the labels for checking" \
  posekit check-labels "$project"

step "5. Split the labeled frames into train (95%) and test (5%) sets" \
  posekit create-dataset "$project" --shuffles 1

step "6. Train the default model (MobileNetV2, ImageNet weights) for $epochs epochs" \
  posekit train "$project" --shuffle 1 --epochs "$epochs"

step "7. Evaluate on the train and test frames" \
  posekit evaluate "$project" --shuffle 1

step "8. Analyze every frame of the video" \
  posekit analyze "$project" "$project/videos/m3v1mp4.mp4" --shuffle 1 --csv

step "9. Draw the keypoints on the video" \
  posekit labeled-video "$project" "$project/videos/m3v1mp4.mp4"

step "10. Plot trajectories, likelihoods and jumps" \
  posekit plot-trajectories "$project" "$project/videos/m3v1mp4.mp4"

cat <<MSG

Done. What was made, all under $project:
  labeled-data/m3v1mp4/              20 frames chosen for labeling (label them: posekit label "$project")
  labeled-data/m4s1_labeled/         the 116 labeled frames drawn for checking (open index.html)
  training-datasets/iteration-0/     the train/test split (split.json)
  posekit-models/iteration-0/        the trained model: checkpoints/best.pt, history.csv, model.json
  posekit-evaluation/iteration-0/    results.json, per_bodypart.csv, test-frames/*.png
  videos/m3v1mp4*.h5 (.csv)          keypoints of every frame (DeepLabCut's analysis format)
  videos/m3v1mp4*_labeled.mp4        the video with keypoints drawn
  videos/plot-poses/m3v1mp4/         trajectories.png, likelihood.png, jumps.png

What the numbers mean: "mean error" is the average distance in pixels between the model's
keypoint and the human label on frames the model never trained on (the test set; DeepLabCut
calls it RMSE). People labeling this kind of data disagree by about 2.7 px. A short demo
schedule leaves the error above that; benchmarks/openfield_accuracy.py trains longer and
records what posekit reaches.
MSG
