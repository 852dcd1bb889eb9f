#!/usr/bin/env bash
# Speak a dictation script with espeak-ng into a 16-bit mono WAV, with a pause between paragraphs.
# Usage: scripts/bench/speak.sh SCRIPT.txt OUT.wav [VOICE] [WORDS_PER_MINUTE] [PAUSE_MS]
set -euo pipefail
script=$1 out=$2 voice=${3:-en-us} speed=${4:-160} pause_ms=${5:-1500}
command -v espeak-ng >/dev/null || { echo "espeak-ng is needed: sudo apt-get install espeak-ng" >&2; exit 1; }
# Paragraphs (separated by blank lines) become SSML with a break between them.
ssml=$(awk -v pause="$pause_ms" '
  BEGIN { RS = ""; printf "<speak>" }
  { gsub(/&/, "and"); gsub(/</, ""); gsub(/>/, ""); if (NR > 1) printf "<break time=\"%dms\"/>", pause; printf "%s ", $0 }
  END { printf "</speak>" }' "$script")
espeak-ng -m -v "$voice" -s "$speed" -w "$out" "$ssml"
