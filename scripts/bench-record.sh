#!/usr/bin/env bash
# Benchmark live dictation: how long after the clinician stops is the draft on disk?
#
# Usage: scripts/bench-record.sh [MODEL] [MINUTES ...]
#   MODEL    catalog name or path of a ggml file (default: base)
#   MINUTES  lengths of dictation to measure (default: 1 3 10)
# Environment: REPEATS (runs per length, default 3; the median is reported), THREADS (default 2),
#              STOP (enter or spoken, default enter).
#
# A SOAP dictation of at least the given length (headings, the sentences of
# scripts/sample-dictation.txt and more, whole paragraphs repeated) is spoken by espeak-ng and played
# in real time by the project's virtual microphone (tests/vmic/vmic.c, an ALSA plugin) into the real
# `notedraft record`. With STOP=enter, Enter is
# pressed one second after the last word (about when a person reaches for the key); with
# STOP=spoken, the dictation ends with "End of dictation." and the time counts from the end of
# those words. Printed per run: the time from the stop to the draft file on disk (measured from
# outside), the time notedraft reports from noticing the stop, and peak memory.
set -euo pipefail

model=${1:-base}
shift || true
minutes=("$@")
[ ${#minutes[@]} -gt 0 ] || minutes=(1 3 10)
repeats=${REPEATS:-3}
threads=${THREADS:-2}
stop=${STOP:-enter}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${NOTEDRAFT_BIN:-$root/target/release/notedraft}

for tool in espeak-ng sox cc python3; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (scripts/setup.sh installs it)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "GNU time is needed: apt-get install time" >&2; exit 1; }
[ -n "${NOTEDRAFT_BIN:-}" ] || (cd "$root" && cargo build --release --quiet --bin notedraft)

work=$(mktemp -d "${TMPDIR:-/tmp}/notedraft-bench-record.XXXXXX")
trap 'rm -rf "$work"' EXIT
cc -O2 -Wall -DPIC -shared -fPIC -o "$work/libasound_module_pcm_vmic.so" "$root/tests/vmic/vmic.c" -lasound

# One pass of the dictation, as paragraphs with a heading each.
cat >"$work/pass.txt" <<'EOF'
Subjective. Client reports she slept better this week, about six hours a night. She said she finally told her sister how she felt, and that the conversation went better than she feared. She had one panic attack at work on Tuesday and used paced breathing.
Objective. She arrived on time, casually dressed, affect brighter than last week. PHQ-9 was eleven, down from sixteen. GAD-7 was nine. She denies suicidal ideation, intent or plan, and denies homicidal ideation. We practiced cognitive restructuring with a thought record about the panic attack.
Assessment. Depressive symptoms are improving, now in the moderate range. Anxiety remains mild to moderate. Risk is low. She is making progress toward her goal of returning to full time work.
Plan. Continue weekly CBT. One thought record a day as homework. Next session in one week. Coordinate with her psychiatrist about the sertraline dose.
EOF

make_dictation() { # SECONDS OUT.wav
  # Whole paragraphs, repeated until the dictation is at least SECONDS long: a clinician stops
  # after a sentence, not in the middle of a word.
  local want=$1 out=$2 parts=() total=0 i=0 n
  sox -n -b 16 -r 48000 -c 1 "$work/gap.wav" trim 0 1.2
  n=$(wc -l <"$work/pass.txt")
  for k in $(seq 1 "$n"); do
    sed -n "${k}p" "$work/pass.txt" >"$work/paragraph.txt"
    espeak-ng -v en-us -s 160 -w "$work/paragraph-raw.wav" -f "$work/paragraph.txt"
    sox "$work/paragraph-raw.wav" -b 16 -r 48000 -c 1 "$work/paragraph-$k.wav"
  done
  while python3 -c "import sys; sys.exit(0 if $total < $want else 1)"; do
    local paragraph=$work/paragraph-$((i % n + 1)).wav
    [ ${#parts[@]} -eq 0 ] || parts+=("$work/gap.wav")
    parts+=("$paragraph")
    total=$(python3 -c "print($total + $(soxi -D "$paragraph") + 1.2)")
    i=$((i + 1))
  done
  if [ ${#parts[@]} -eq 1 ]; then
    cp "${parts[0]}" "$out"
  else
    sox "${parts[@]}" "$out"
  fi
  if [ "$stop" = spoken ]; then
    espeak-ng -v en-us -s 160 -w "$work/end-raw.wav" "End of dictation."
    sox "$work/end-raw.wav" -b 16 -r 48000 -c 1 "$work/end48.wav"
    sox "$out" "$work/gap.wav" "$work/end48.wav" "$work/with-end.wav"
    mv "$work/with-end.wav" "$out"
  fi
}

now() { date +%s.%N; }

median() { python3 -c "import statistics,sys; v=[float(x) for x in sys.argv[1:]]; print(f'{statistics.median(v):.2f}')" "$@"; }

printf 'notedraft record, model %s, %s threads, stop by %s, %s run(s) per length\n' "$model" "$threads" "$stop" "$repeats"
printf '%-8s %-5s %10s %12s %14s %10s\n' minutes run audio_s stop_to_file reported_s peak_mib
for m in "${minutes[@]}"; do
  seconds=$(python3 -c "print(round($m * 60, 2))")
  wav=$work/dictation-$m.wav
  make_dictation "$seconds" "$wav"
  speech_s=$(soxi -D "$wav")
  cat >"$work/vmic.conf" <<EOF
pcm_type.vmic { lib "$work/libasound_module_pcm_vmic.so" }
pcm.vmic_raw { type vmic  file "$wav"  end "silence"  hint.show off }
pcm.vmic { type plug  slave.pcm "vmic_raw"  hint { show on description "Virtual microphone" } }
pcm.!default "vmic"
EOF
  latencies=()
  for r in $(seq 1 "$repeats"); do
    out=$work/out-$m-$r
    rm -rf "$out" "$work/fifo"
    mkfifo "$work/fifo"
    ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:$work/vmic.conf XDG_CONFIG_HOME=$work/no-config \
      /usr/bin/time -f '%M' -o "$work/mem" "$bin" -v record --model "$model" --threads "$threads" \
      --out "$out" --stop-after-silence 0 <"$work/fifo" >"$work/stdout" 2>"$work/stderr" &
    pid=$!
    exec 3>"$work/fifo"
    # Playing starts when the recording does.
    while ! grep -q "Speak now" "$work/stderr" 2>/dev/null; do sleep 0.01; done
    began=$(now)
    if [ "$stop" = enter ]; then
      stop_at=$(python3 -c "print($began + $speech_s + 1.0)")
      while python3 -c "import sys; sys.exit(0 if $(now) < $stop_at else 1)"; do sleep 0.05; done
      stopped=$(now)
      printf '\n' >&3
    else
      stopped=$(python3 -c "print($began + $speech_s)")
    fi
    missed=
    give_up_at=$(python3 -c "print($stopped + 30)")
    while ! ls "$out"/*.draft.md >/dev/null 2>&1; do
      kill -0 "$pid" 2>/dev/null || break
      if [ -z "$missed" ] && python3 -c "import sys; sys.exit(0 if $(now) > $give_up_at else 1)"; then
        # The stop was not heard: end the run with Enter so the benchmark goes on, and say so.
        missed=yes
        printf '\n' >&3
      fi
      sleep 0.01
    done
    on_disk=$(now)
    exec 3>&-
    wait "$pid" || { echo "notedraft record failed:" >&2; cat "$work/stderr" >&2; exit 1; }
    if [ -n "$missed" ]; then
      latency=missed
    else
      latency=$(python3 -c "print(f'{$on_disk - $stopped:.2f}')")
      latencies+=("$latency")
    fi
    reported=$(sed -n 's/.*draft ready \([0-9.]*\) s after the stop.*/\1/p' "$work/stderr" | tail -1)
    audio=$(sed -n 's/.*s after the stop (\([0-9.]*\) s of audio).*/\1/p' "$work/stderr" | tail -1)
    mem=$(( $(tail -1 "$work/mem") / 1024 ))
    printf '%-8s %-5s %10s %12s %14s %10s\n' "$m" "$r" "$audio" "$latency" "$reported" "$mem"
  done
  if [ ${#latencies[@]} -gt 0 ]; then
    printf '%-8s %-5s %10s %12s\n' "$m" median "" "$(median "${latencies[@]}")"
  else
    printf '%-8s %-5s %10s %12s\n' "$m" median "" "missed"
  fi
done
