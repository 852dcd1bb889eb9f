//! Compare decoding choices on scripted dictations: word error rate, clinical-term recall and time.
//!
//! ```text
//! cargo run --release --example tune -- [--model FILE] [--prompt FILE|none] [--no-ts]
//!     [--margin FRAMES|none] [--fallback] [--nst on|off] [--chunk SECONDS] [--threads N]
//!     [--beam N] [-v] SCRIPT.txt:AUDIO.wav ...
//! cargo run --release --example tune -- --raw AUDIO.wav ...   # raw segments with no-speech figures
//! ```
//! Used to choose the settings in `transcribe::whisper::DecodeTuning` and the clinical prompt; see
//! `scripts/bench/` for the dictation scripts and `scripts/bench/speak.sh` to voice them.

#[path = "../../tests/common/score.rs"]
mod common;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use notedraft::audio::{Samples16k, load_file, vad};
use notedraft::transcribe::chunks::{MAX_CHUNK_S, SpeechMap, transcribe_chunks};
use notedraft::transcribe::whisper::{DecodeTuning, WhisperModel, WhisperTranscriber};
use notedraft::transcribe::{CLINICAL_PROMPT, ChunkTranscriber, Pass, TranscribeOptions};

/// The voice detector, with a chosen chunk length (0 or less: the whole file as one chunk).
struct Planner {
    max_chunk_s: f64,
}

impl SpeechMap for Planner {
    fn plan(&self, samples: &Samples16k, _max_chunk_s: f64) -> Vec<Range<usize>> {
        if self.max_chunk_s <= 0.0 {
            return std::iter::once(0..samples.len()).collect();
        }
        vad::plan_chunks(samples, self.max_chunk_s as f32)
    }

    fn has_speech(&self, samples: &[f32]) -> bool {
        vad::has_speech(&Samples16k::new(samples.to_vec()))
    }
}

fn fail(message: &str) -> ! {
    eprintln!("tune: {message}");
    std::process::exit(2)
}

fn load(path: &Path) -> Samples16k {
    load_file(path).unwrap_or_else(|e| fail(&e.to_string())).0
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut model = PathBuf::from("models/ggml-base.bin");
    let mut prompt = CLINICAL_PROMPT.trim().to_string();
    let mut options_threads = 2;
    let mut beam = None;
    let mut tuning = DecodeTuning::default();
    let mut planner = Planner {
        max_chunk_s: MAX_CHUNK_S,
    };
    let mut verbose = false;
    let mut raw = false;
    let mut live: Option<vad::LiveChunkParams> = None;
    let mut inputs = Vec::new();
    let value = |name: &str, args: &mut dyn Iterator<Item = String>| {
        args.next()
            .unwrap_or_else(|| fail(&format!("{name} needs a value")))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--model" => model = value("--model", &mut args).into(),
            "--prompt" => {
                let p = value("--prompt", &mut args);
                prompt = if p == "none" {
                    String::new()
                } else {
                    std::fs::read_to_string(&p)
                        .unwrap_or_else(|e| fail(&format!("{p}: {e}")))
                        .trim()
                        .to_string()
                };
            }
            "--no-ts" => tuning.no_timestamps = true,
            "--margin" => {
                let m = value("--margin", &mut args);
                tuning.audio_ctx_margin_frames = (m != "none").then(|| {
                    m.parse()
                        .unwrap_or_else(|_| fail("--margin takes a number"))
                });
            }
            "--fallback" => tuning.temperature_fallback = true,
            "--nst" => tuning.suppress_non_speech = value("--nst", &mut args) == "on",
            "--chunk" => {
                planner.max_chunk_s = value("--chunk", &mut args)
                    .parse()
                    .unwrap_or_else(|_| fail("--chunk takes seconds"))
            }
            "--threads" => {
                options_threads = value("--threads", &mut args)
                    .parse()
                    .unwrap_or_else(|_| fail("--threads takes a number"))
            }
            "--beam" => {
                beam = Some(
                    value("--beam", &mut args)
                        .parse()
                        .unwrap_or_else(|_| fail("--beam takes a number")),
                )
            }
            "--raw" => raw = true,
            "--max-tokens" => {
                let v = value("--max-tokens", &mut args);
                tuning.max_tokens_per_s = (v != "none").then(|| {
                    v.parse()
                        .unwrap_or_else(|_| fail("--max-tokens takes tokens per second"))
                });
            }
            "--context" => {
                tuning.context_chars = value("--context", &mut args)
                    .parse()
                    .unwrap_or_else(|_| fail("--context takes characters"))
            }
            "--lead-in" => {
                tuning.lead_in_s = value("--lead-in", &mut args)
                    .parse()
                    .unwrap_or_else(|_| fail("--lead-in takes seconds"))
            }
            "--min-chunk" => {
                tuning.min_chunk_s = value("--min-chunk", &mut args)
                    .parse()
                    .unwrap_or_else(|_| fail("--min-chunk takes seconds"))
            }
            // Cut the way live dictation does: --live SOFT_AFTER_S,SOFT_PAUSE_S,MAX_S
            "--live" => {
                let v: Vec<f32> = value("--live", &mut args)
                    .split(',')
                    .map(|x| x.parse().unwrap_or_else(|_| fail("--live takes A,B,C")))
                    .collect();
                live = Some(vad::LiveChunkParams {
                    soft_cut_after_s: v[0],
                    soft_pause_s: v[1],
                    max_utterance_s: v[2],
                    ..vad::LiveChunkParams::default()
                });
            }
            "-v" => verbose = true,
            other => inputs.push(other.to_string()),
        }
    }
    let loaded = WhisperModel::load(&model, "model").unwrap_or_else(|e| fail(&e.to_string()));
    if !prompt.is_empty() {
        let tokens = loaded
            .prompt_token_count(&prompt)
            .unwrap_or_else(|e| fail(&e.to_string()));
        println!("prompt tokens: {tokens}");
    }
    let engine = WhisperTranscriber {
        model: loaded,
        options: TranscribeOptions {
            threads: options_threads,
            beam_size: beam,
            initial_prompt: prompt,
        },
        tuning,
    };
    if raw {
        for input in &inputs {
            let samples = load(Path::new(input));
            for chunk in planner.plan(&samples, MAX_CHUNK_S) {
                let audio = &samples.as_slice()[chunk.clone()];
                let segments = engine
                    .transcribe_chunk(audio, Pass::First, "")
                    .unwrap_or_else(|e| fail(&e.to_string()));
                for s in segments {
                    println!(
                        "{input} chunk {:.1}-{:.1} no_speech {:.3} logprob {:.2} [{:.1}-{:.1}] {}",
                        chunk.start as f64 / 16000.0,
                        chunk.end as f64 / 16000.0,
                        s.no_speech_prob,
                        s.avg_logprob,
                        s.start_s,
                        s.end_s,
                        s.text
                    );
                }
            }
        }
        return;
    }
    let (mut errors, mut words, mut found, mut total, mut seconds) = (0.0, 0usize, 0, 0, 0.0);
    for input in &inputs {
        let (script, wav) = input
            .split_once(':')
            .unwrap_or_else(|| fail("give inputs as SCRIPT.txt:AUDIO.wav"));
        let reference =
            std::fs::read_to_string(script).unwrap_or_else(|e| fail(&format!("{script}: {e}")));
        let samples = load(Path::new(wav));
        let started = Instant::now();
        let segments = match &live {
            None => transcribe_chunks(&engine, &samples, &planner, "", &mut |_| {})
                .unwrap_or_else(|e| fail(&e.to_string())),
            Some(params) => live_segments(&engine, &samples, params, verbose),
        };
        let elapsed = started.elapsed().as_secs_f64();
        let text = segments
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let wer = common::wer(&reference, &text);
        let (f, t, missed) = common::term_recall(&reference, &text, common::CLINICAL_TERMS);
        println!(
            "{wav:<40} wer {wer:.3} terms {f}/{t} time {elapsed:.2}s audio {:.1}s missed {missed:?}",
            samples.duration_s()
        );
        if verbose {
            for s in &segments {
                println!("   [{:7.2} {:7.2}] {}", s.start_s, s.end_s, s.text);
            }
        }
        let n = common::normalize(&reference).len();
        errors += wer * n as f64;
        words += n;
        found += f;
        total += t;
        seconds += elapsed;
    }
    println!(
        "TOTAL wer {:.3} terms {found}/{total} = {:.3} time {seconds:.2}s",
        errors / words.max(1) as f64,
        found as f64 / total.max(1) as f64
    );
}

/// Transcribe as live dictation does: the live cutter's utterances, each on its own.
fn live_segments(
    engine: &WhisperTranscriber,
    samples: &Samples16k,
    params: &vad::LiveChunkParams,
    verbose: bool,
) -> Vec<notedraft::transcribe::Segment> {
    let mut chunker = vad::LiveChunker::new(params.clone());
    let mut cuts = Vec::new();
    for piece in samples.as_slice().chunks(1_920) {
        cuts.extend(chunker.push(piece));
    }
    cuts.extend(chunker.finish());
    let mut out = Vec::new();
    for cut in cuts {
        let audio =
            Samples16k::new(samples.as_slice()[cut.start as usize..cut.end as usize].to_vec());
        let started = Instant::now();
        let context = out
            .iter()
            .map(|s: &notedraft::transcribe::Segment| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let transcript = notedraft::transcribe::transcribe_after(engine, &audio, &context)
            .unwrap_or_else(|e| fail(&e.to_string()));
        if verbose {
            println!(
                "   utterance {:6.2}-{:6.2} ({:4.1} s) decoded in {:.2} s",
                cut.start as f64 / 16000.0,
                cut.end as f64 / 16000.0,
                audio.duration_s(),
                started.elapsed().as_secs_f64()
            );
        }
        let offset = cut.start as f64 / 16000.0;
        out.extend(transcript.segments.into_iter().map(|mut s| {
            s.start_s += offset;
            s.end_s += offset;
            s
        }));
    }
    out
}
