#!/usr/bin/env bash
# Rebuilds guard/ (the real-scan guard set) from its three public CC-BY-4.0 sources, pinned to the commits it
# was built from: every transcribed printed line cut from its page, at most 350 lines a source (whole pages in
# hash order), 60 % of pages held out as the guard (test split), the rest for training's general mix-in.
# Usage: bash recipes/guard.sh [WORKDIR]   (needs git and network; then `dvc add guard`)
set -euo pipefail
work="${1:-$(mktemp -d)}"
fetch() {  # repo commit -> $work/name
  local name="${1##*/}"
  [ -d "$work/$name" ] || git clone --quiet "https://github.com/$1" "$work/$name"
  git -C "$work/$name" checkout --quiet "$2"
}
fetch FloChiff/ehri-dataset 20a5e002031c1f9e66176133b4602ed439db6521
fetch FoNDUE-HTR/FONDUE-EN-PRINT-20 a752991254908a77080d029e5dbf62bc15f22361
fetch HTR-United/tapuscorpus f18a6afe067bdb213d58ba2b69c3a04013149685
rm -rf guard
common=(-o guard -f alto --licence CC-BY-4.0 --max-lines 350 --test-share 0.6)
ocrops data import "$work/ehri-dataset/data/english" "${common[@]}" \
  --source-name "EHRI dataset (English typewritten)" --url https://github.com/FloChiff/ehri-dataset
ocrops data import "$work/FONDUE-EN-PRINT-20/data" "${common[@]}" \
  --source-name "FONDUE-EN-PRINT-20 (English print)" --url https://github.com/FoNDUE-HTR/FONDUE-EN-PRINT-20
# Tapuscorpus marks handwritten words "~~~" (lines left out), underlining "_" and superscript "^" (removed)
ocrops data import "$work/tapuscorpus/data" "${common[@]}" --skip '~~~' --strip '_^' \
  --source-name "Tapuscorpus (French typewritten)" --url https://github.com/HTR-United/tapuscorpus
