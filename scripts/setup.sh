#!/usr/bin/env bash
# Sets notedraft up on a fresh Debian machine and drafts a note from a generated sample dictation:
#   1. system packages (build tools, ALSA headers, espeak-ng and sox for the sample and the tests)
#   2. the notedraft binary (release build)
#   3. the speech model (verified; converted locally where the official download cannot be reached)
#   4. a sample dictation spoken by espeak-ng, drafted into ./sample-draft/
set -euo pipefail
cd "$(dirname "$0")/.."

model="${NOTEDRAFT_SETUP_MODEL:-base}"
say() { printf '\n== %s\n' "$*"; }

packages=(build-essential cmake clang libclang-dev libasound2-dev pkg-config espeak-ng sox libsox-fmt-all ffmpeg curl ca-certificates python3-pip time)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "Installing system packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "Rust is not installed: install it from https://rustup.rs and run this script again." >&2
  exit 1
fi

say "Building notedraft (release)"
cargo build --release --locked

say "Fetching the speech model ($model)"
scripts/fetch-model.sh "$model"

say "Drafting a note from a sample dictation"
mkdir -p sample-draft
espeak-ng -v en-us -s 165 -w sample-draft/sample-dictation.wav -f scripts/sample-dictation.txt
./target/release/notedraft draft sample-draft/sample-dictation.wav --model "$model" --out sample-draft
