#!/usr/bin/env bash
# Benchmark day's-end batch drafting on a generated folder of voice memos.
#
# Usage: scripts/bench-batch.sh [MODEL] [MEMOS] [MEMO_SECONDS]
#   MODEL         catalog name or path of a ggml file (default: base)
#   MEMOS         how many memos (default: 10)
#   MEMO_SECONDS  length of each (default: 120)
# Environment: JOBS (the --jobs settings to compare, default "1 2"), THREADS (default 2),
#              FASTER_WHISPER (a python with faster_whisper installed, to compare with; optional),
#              CT2_MODEL (the faster-whisper model folder for it).
#
# The memos are clinical dictations spoken by espeak-ng (scripts/bench/*.txt and more, each memo
# starting from a different paragraph, two voices and speeds), with pauses between paragraphs and
# silence to fill each memo to its length; half are AAC (.m4a) as phones record them, half WAV.
# Printed per setting: wall time, audio minutes drafted per wall-clock minute, peak memory. With
# FASTER_WHISPER set, faster-whisper transcribes the same files with the same model and threads
# (greedy and with its default beam of 5), side by side.
set -euo pipefail

model=${1:-base}
memos=${2:-10}
memo_s=${3:-120}
jobs_list=${JOBS:-1 2}
threads=${THREADS:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${NOTEDRAFT_BIN:-$root/target/release/notedraft}

for tool in espeak-ng sox ffmpeg python3; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (scripts/setup.sh installs it)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "GNU time is needed: apt-get install time" >&2; exit 1; }
[ -n "${NOTEDRAFT_BIN:-}" ] || (cd "$root" && cargo build --release --quiet --bin notedraft)

work=$(mktemp -d "${TMPDIR:-/tmp}/notedraft-bench-batch.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/memos" "$work/parts"

# Paragraphs to draw from: every benchmark script, one paragraph per line.
python3 - "$root" "$work/paragraphs.txt" <<'EOF'
import pathlib, sys
root = pathlib.Path(sys.argv[1])
out = []
for path in sorted((root / "scripts" / "bench").glob("*.txt")) + [root / "scripts" / "sample-dictation.txt"]:
    text = path.read_text()
    for block in text.split("\n\n"):
        line = " ".join(block.split())
        if line:
            out.append(line)
pathlib.Path(sys.argv[2]).write_text("\n".join(out) + "\n")
EOF
mapfile -t paragraphs <"$work/paragraphs.txt"
voices=(en-us en-us+m3)
speeds=(160 170)

total_audio=0
for i in $(seq 0 $((memos - 1))); do
  parts=()
  length=0
  k=$i
  # At least one paragraph; then more until the memo is nearly full.
  while [ ${#parts[@]} -eq 0 ] || python3 -c "import sys; sys.exit(0 if $length < $memo_s - 25 else 1)"; do
    p=${paragraphs[$((k % ${#paragraphs[@]}))]}
    f=$work/parts/$i-$k.wav
    espeak-ng -v "${voices[$((i % 2))]}" -s "${speeds[$((i % 2))]}" -w "$f.raw.wav" "$p"
    sox "$f.raw.wav" -r 16000 -c 1 -b 16 "$f" pad 0 1.5
    parts+=("$f")
    length=$(python3 -c "print($length + $(soxi -D "$f"))")
    k=$((k + 1))
  done
  memo=$work/memos/memo-$(printf '%02d' "$i")
  sox "${parts[@]}" "$memo.joined.wav"
  # Fill to the memo's length with silence (the recorder left running), or cut to it.
  sox "$memo.joined.wav" "$memo.full.wav" pad 0 "$memo_s" trim 0 "$memo_s" 2>/dev/null
  rm -f "$memo.joined.wav"
  if [ $((i % 2)) -eq 0 ]; then
    ffmpeg -loglevel error -y -i "$memo.full.wav" -c:a aac -b:a 64k "$memo.m4a"
    rm -f "$memo.full.wav"
  else
    mv "$memo.full.wav" "$memo.wav"
  fi
done
total_audio=0
for f in "$work"/memos/*; do
  d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f")
  total_audio=$(python3 -c "print($total_audio + $d)")
done
audio_min=$(python3 -c "print($total_audio / 60)")
printf 'notedraft batch: %s memos of about %s s (%.1f audio minutes), model %s, %s threads, %s cores\n' \
  "$memos" "$memo_s" "$audio_min" "$model" "$threads" "$(nproc)"
printf '%-34s %8s %16s %9s\n' setting wall_s audio_min/min peak_mib

report() { # label wall_s rss_kb
  python3 -c "print(f'{\"$1\":<34} {$2:8.1f} {$audio_min / ($2 / 60):16.1f} {$3 / 1024:9.0f}')"
}

timed() { # label command...
  local label=$1; shift
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/out" 2>"$work/err" || {
    echo "$label failed:" >&2; tail -5 "$work/err" >&2; exit 1; }
  read -r wall rss <"$work/time"
  report "$label" "$wall" "$rss"
}

for jobs in $jobs_list; do
  rm -rf "$work/drafts"
  timed "notedraft --jobs $jobs" "$bin" batch "$work/memos" --model "$model" --threads "$threads" \
    --jobs "$jobs" --out "$work/drafts"
done

if [ -n "${FASTER_WHISPER:-}" ]; then
  [ -n "${CT2_MODEL:-}" ] || { echo "set CT2_MODEL to the faster-whisper model folder" >&2; exit 1; }
  for beam in 1 5; do
    timed "faster-whisper beam $beam" "$FASTER_WHISPER" - "$CT2_MODEL" "$threads" "$beam" "$work/memos" <<'EOF'
import pathlib, sys
from faster_whisper import WhisperModel
model_dir, threads, beam, folder = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
model = WhisperModel(model_dir, device="cpu", cpu_threads=threads, compute_type="default")
for path in sorted(pathlib.Path(folder).iterdir()):
    segments, _ = model.transcribe(str(path), language="en", beam_size=beam)
    print(path.name, " ".join(s.text for s in segments)[:60])
EOF
  done
fi
