#!/usr/bin/env bash
# Benchmark transcription on a fixed, generated 90-second clinical dictation.
#
# Usage: scripts/bench-transcribe.sh [MODEL] [THREADS] [REPEATS]
#   MODEL    catalog name (base, tiny.en, ...) or path to a ggml file (default: base)
#   THREADS  CPU threads (default: 2)
#   REPEATS  runs of each program; the median is reported (default: 3)
#
# Prints the real-time factor (processing seconds / audio seconds), model load time, peak memory,
# word error rate against the script and clinical-term recall for notedraft, and the same for
# whisper.cpp's own whisper-cli side by side when it is found ($WHISPER_CLI, or
# /tmp/whispercpp/build/bin/whisper-cli). Extra scripts and voices: set BENCH_SCRIPT, BENCH_VOICE,
# BENCH_SPEED. The machines this runs on are noisy: compare programs within one run, not across runs.
set -euo pipefail

model=${1:-base}
threads=${2:-2}
repeats=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
script=${BENCH_SCRIPT:-$root/scripts/bench/dictation-90s.txt}
voice=${BENCH_VOICE:-en-us}
speed=${BENCH_SPEED:-160}

need() { command -v "$1" >/dev/null 2>&1; }
if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (for peak memory)..." >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq time >/dev/null; else sudo apt-get install -y -qq time >/dev/null; fi
fi
need espeak-ng || { echo "espeak-ng is needed: apt-get install espeak-ng" >&2; exit 1; }
need sox || { echo "sox is needed: apt-get install sox" >&2; exit 1; }

# Model file, for whisper-cli (notedraft resolves names itself).
if [ -f "$model" ]; then
  model_file=$model
else
  model_file=""
  for dir in "${NOTEDRAFT_MODELS_DIR:-}" "$root/models" "${XDG_DATA_HOME:-$HOME/.local/share}/notedraft/models"; do
    if [ -n "$dir" ] && [ -f "$dir/ggml-$model.bin" ]; then model_file=$dir/ggml-$model.bin; break; fi
  done
  [ -n "$model_file" ] || { echo "model $model not found: run scripts/fetch-model.sh $model" >&2; exit 1; }
fi

(cd "$root" && cargo build --release --quiet --bin notedraft --example score)
bin=${NOTEDRAFT_BIN:-$root/target/release/notedraft}
score=$root/target/release/examples/score

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$root/scripts/bench/speak.sh" "$script" "$work/speech.wav" "$voice" "$speed"
# whisper-cli reads 16 kHz 16-bit WAV only; both programs get this same file.
sox "$work/speech.wav" -r 16000 -c 1 -b 16 "$work/dictation.wav"
audio_s=$(soxi -D "$work/dictation.wav")

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
field() { sed -n "s/.*$1[^0-9]*\([0-9.:]*\).*/\1/p" "$2" | tail -1; }
to_s() { awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }'; }

# One run of a program under GNU time: name, then the command. Appends "wall load rss_kb" to
# $work/NAME.runs and keeps the transcript of the last run in $work/NAME.out.
run_once() {
  local name=$1; shift
  /usr/bin/time -v -o "$work/time.txt" "$@" >"$work/$name.out" 2>"$work/$name.err" || {
    echo "$name failed:" >&2; tail -5 "$work/$name.err" >&2; exit 1; }
  local wall rss load
  wall=$(field 'Elapsed (wall clock) time' "$work/time.txt" | to_s)
  rss=$(field 'Maximum resident set size' "$work/time.txt")
  # notedraft logs its model load with -v; whisper-cli prints "load time = X ms".
  load=$(sed -n 's/.*speech model loaded in \([0-9.]*\) s.*/\1/p' "$work/$name.err" | tail -1)
  [ -n "$load" ] || load=$(sed -n 's/.*load time = *\([0-9.]*\) ms.*/\1/p' "$work/$name.err" | awk '{ print $1 / 1000 }' | tail -1)
  echo "$wall ${load:-0} $rss" >>"$work/$name.runs"
}

report() { # name
  local name=$1 wall load rss scored
  wall=$(cut -d' ' -f1 "$work/$name.runs" | median)
  load=$(cut -d' ' -f2 "$work/$name.runs" | median)
  rss=$(cut -d' ' -f3 "$work/$name.runs" | median)
  scored=$("$score" "$script" "$work/$name.out")
  awk -v n="$name" -v a="$audio_s" -v w="$wall" -v l="$load" -v r="$rss" -v s="$scored" 'BEGIN {
    printf "%-12s audio %5.1f s  wall %6.2f s  RTF %5.3f (%5.3f without load)  load %5.2f s  peak %4.0f MiB  %s\n",
      n, a, w, w / a, (w - l) / a, l, r / 1024, s }'
}

echo "model $model_file, $threads threads, median of $repeats runs, $(nproc) cores"
cli=${WHISPER_CLI:-/tmp/whispercpp/build/bin/whisper-cli}
[ -x "$cli" ] || echo "whisper-cli not found (set WHISPER_CLI to compare with whisper.cpp's own tool)"
# Interleave the programs so that both see the same background load.
for _ in $(seq "$repeats"); do
  run_once notedraft "$bin" -v transcribe --model "$model_file" --threads "$threads" "$work/dictation.wav"
  if [ -x "$cli" ]; then
    run_once whisper-cli "$cli" -m "$model_file" -t "$threads" -l en -nt -f "$work/dictation.wav"
  fi
done
report notedraft
if [ -x "$cli" ]; then report whisper-cli; fi
