//! Cuts audio at pauses into chunks Whisper handles well, each transcribed on its own with the clinical prompt.
//!
//! Carrying decoded text from one 30-second window into the next made Whisper loop, and turning that
//! carry-over off also turned the prompt off. Transcribing each pause-aligned chunk as its own call,
//! prompt included, avoids both and measured best on dictation (see the project's notes).

use std::ops::Range;

use super::guards::{self, Dropped};
use super::vocabulary;
use super::{ChunkTranscriber, Pass, RawSegment, Segment, TranscribeError};
use crate::audio::{Samples16k, WHISPER_RATE};

/// Longest chunk handed to Whisper: under its 30-second window, with room for timestamps to close.
pub const MAX_CHUNK_S: f64 = 28.0;
/// When checking whether a segment lies over speech, look this far either side of the times the
/// model gave, since its timestamps are only roughly placed.
const SPEECH_CHECK_SLACK_S: f64 = 0.5;

/// Where the audio may be cut and what counts as speech: the voice detector in the real pipeline.
pub trait SpeechMap {
    /// Sample ranges, in order, that together cover all the speech, each at most `max_chunk_s` long
    /// and cut at pauses where possible; long silences fall between them.
    fn plan(&self, samples: &Samples16k, max_chunk_s: f64) -> Vec<Range<usize>>;
    /// Whether this stretch of audio holds any speech.
    fn has_speech(&self, samples: &[f32]) -> bool;
}

/// How far a transcription has got, for a progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub chunks_done: usize,
    pub chunks_total: usize,
}

/// Transcribe `samples` chunk by chunk, applying every guard, with times from the start of `samples`.
pub fn transcribe_chunks(
    engine: &dyn ChunkTranscriber,
    audio: &Samples16k,
    speech: &dyn SpeechMap,
    context: &str,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<Vec<Segment>, TranscribeError> {
    let samples = audio.as_slice();
    let plan: Vec<Range<usize>> = speech
        .plan(audio, MAX_CHUNK_S)
        .into_iter()
        .map(|r| r.start.min(samples.len())..r.end.min(samples.len()))
        .filter(|r| !r.is_empty())
        .collect();
    let prompt_words = guards::normalized_words(engine.initial_prompt());
    let total = plan.len();
    let mut out: Vec<Segment> = Vec::new();
    let mut previous_text = context.to_string();
    on_progress(Progress {
        chunks_done: 0,
        chunks_total: total,
    });
    for (done, range) in plan.into_iter().enumerate() {
        let chunk = &samples[range.clone()];
        if speech.has_speech(chunk) {
            let offset_s = range.start as f64 / f64::from(WHISPER_RATE);
            let first_new = out.len();
            let started = std::time::Instant::now();
            let decoded =
                transcribe_covering(engine, chunk, speech, &prompt_words, &previous_text)?;
            tracing::debug!(
                start_s = offset_s,
                length_s = chunk.len() as f64 / f64::from(WHISPER_RATE),
                decode_s = started.elapsed().as_secs_f64(),
                "chunk decoded"
            );
            for raw in decoded {
                out.push(Segment {
                    start_s: offset_s + raw.start_s,
                    end_s: offset_s + raw.end_s.max(raw.start_s),
                    text: vocabulary::correct_clinical_spelling(raw.text.trim()),
                });
            }
            if out.len() > first_new {
                previous_text = out[first_new..]
                    .iter()
                    .map(|s| s.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
            }
        } else {
            tracing::debug!(?range, "no speech in chunk; not transcribed");
        }
        on_progress(Progress {
            chunks_done: done + 1,
            chunks_total: total,
        });
    }
    Ok(out)
}

/// Decoding passes one chunk may take: the first, and a few more for speech after where it stopped.
const MAX_PASSES_PER_CHUNK: usize = 3;

/// One chunk, all of it: the model decodes the chunk in one window and may stop before its end
/// (its last timestamp before a tail of silence, or text cut short). What is left after that point
/// is decoded again only if the voice detector hears speech there, so silence costs nothing and
/// no words are skipped.
fn transcribe_covering(
    engine: &dyn ChunkTranscriber,
    chunk: &[f32],
    speech: &dyn SpeechMap,
    prompt_words: &[String],
    context: &str,
) -> Result<Vec<RawSegment>, TranscribeError> {
    let rate = f64::from(WHISPER_RATE);
    let mut out = Vec::new();
    let mut from = 0usize;
    let mut context = context.to_string();
    for _ in 0..MAX_PASSES_PER_CHUNK {
        let part = &chunk[from..];
        let (segments, covered_s) = transcribe_one(engine, part, speech, prompt_words, &context)?;
        let offset_s = from as f64 / rate;
        if !segments.is_empty() {
            context = segments
                .iter()
                .map(|s| s.text.trim())
                .collect::<Vec<_>>()
                .join(" ");
        }
        out.extend(segments.into_iter().map(|s| RawSegment {
            start_s: s.start_s + offset_s,
            end_s: s.end_s + offset_s,
            ..s
        }));
        // The model's last timestamp is only roughly placed: the end of its last word is not news.
        let covered = ((covered_s * rate) as usize).min(part.len());
        let listen_from = (((covered_s + SPEECH_CHECK_SLACK_S) * rate) as usize).min(part.len());
        if covered == 0 || !speech.has_speech(&part[listen_from..]) {
            break;
        }
        tracing::debug!(
            from_s = offset_s + covered_s,
            "speech after where the model stopped; decoding the rest of the chunk"
        );
        from += covered;
    }
    Ok(out)
}

/// One window through the model and the guards: a looping result is decoded once more the other
/// way, and if that loops too its repeats are cut. Also returns how far into `chunk` the model's
/// segments reached, dropped ones included.
fn transcribe_one(
    engine: &dyn ChunkTranscriber,
    chunk: &[f32],
    speech: &dyn SpeechMap,
    prompt_words: &[String],
    context: &str,
) -> Result<(Vec<RawSegment>, f64), TranscribeError> {
    let mut segments = engine.transcribe_chunk(chunk, Pass::First, context)?;
    if !guards::find_loops(&segments).is_empty() {
        // The prompt repeated over and over means the model heard nothing it could write down
        // (measured on loud noise the voice detector took for speech); a retry only invents other text.
        let looped_words: Vec<String> = guards::cut_loops(segments.clone())
            .iter()
            .flat_map(|s| guards::normalized_words(&s.text))
            .collect();
        if guards::is_prompt_echo(&looped_words, prompt_words) {
            tracing::debug!("the chunk gave only the prompt, repeated; no speech taken from it");
            return Ok((Vec::new(), 0.0));
        }
        tracing::debug!("repetition loop in a chunk; decoding it again");
        // The retry starts afresh: carried text is one way into a loop.
        segments = engine.transcribe_chunk(chunk, Pass::Retry, "")?;
        if !guards::find_loops(&segments).is_empty() {
            tracing::debug!("still looping after the retry; cutting the repeats");
            segments = guards::cut_loops(segments);
        }
    }
    let covered_s = segments.iter().map(|s| s.end_s).fold(0.0, f64::max);
    let kept = segments
        .into_iter()
        .filter(|segment| {
            let over_speech = speech.has_speech(segment_audio(chunk, segment));
            match guards::judge(segment, prompt_words, over_speech) {
                None => true,
                Some(reason) => {
                    log_drop(reason, segment);
                    false
                }
            }
        })
        .collect();
    Ok((kept, covered_s))
}

fn log_drop(reason: Dropped, segment: &RawSegment) {
    tracing::debug!(
        ?reason,
        start_s = segment.start_s,
        no_speech_prob = segment.no_speech_prob,
        "segment dropped"
    );
    tracing::trace!(text = %segment.text, "dropped text");
}

/// The audio a segment claims to cover, widened by the slack either side.
fn segment_audio<'a>(chunk: &'a [f32], segment: &RawSegment) -> &'a [f32] {
    let rate = f64::from(WHISPER_RATE);
    let to_index = |s: f64| ((s.max(0.0) * rate) as usize).min(chunk.len());
    let start = to_index(segment.start_s - SPEECH_CHECK_SLACK_S);
    let end = to_index(segment.end_s + SPEECH_CHECK_SLACK_S).max(start);
    &chunk[start..end]
}

#[cfg(test)]
pub(crate) mod tests {
    // A plan of one chunk is a one-element Vec of ranges on purpose.
    #![allow(clippy::single_range_in_vec_init)]

    use super::*;
    use std::sync::Mutex;

    pub(crate) const RATE: usize = WHISPER_RATE as usize;

    /// Speech is any sample of magnitude at least 0.1; chunks are the given ranges.
    pub(crate) struct LoudIsSpeech {
        pub plan: Vec<Range<usize>>,
    }

    impl SpeechMap for LoudIsSpeech {
        fn plan(&self, _samples: &Samples16k, _max_chunk_s: f64) -> Vec<Range<usize>> {
            self.plan.clone()
        }
        fn has_speech(&self, samples: &[f32]) -> bool {
            samples.iter().any(|s| s.abs() >= 0.1)
        }
    }

    /// Answers each call with the next scripted result and records what it was asked.
    pub(crate) struct Scripted {
        pub answers: Mutex<Vec<Vec<RawSegment>>>,
        pub calls: Mutex<Vec<(usize, Pass)>>,
        pub contexts: Mutex<Vec<String>>,
        pub prompt: String,
    }

    impl Scripted {
        pub fn new(answers: Vec<Vec<RawSegment>>) -> Self {
            Self {
                answers: Mutex::new(answers.into_iter().rev().collect()),
                calls: Mutex::new(Vec::new()),
                contexts: Mutex::new(Vec::new()),
                prompt: "Psychotherapy progress note with terms such as PHQ-9, GAD-7, CBT and sertraline. \
                         The client denies SI and HI."
                    .to_string(),
            }
        }
        pub fn calls(&self) -> Vec<(usize, Pass)> {
            self.calls.lock().unwrap().clone()
        }
    }

    impl ChunkTranscriber for Scripted {
        fn transcribe_chunk(
            &self,
            audio: &[f32],
            pass: Pass,
            context: &str,
        ) -> Result<Vec<RawSegment>, TranscribeError> {
            self.calls.lock().unwrap().push((audio.len(), pass));
            self.contexts.lock().unwrap().push(context.to_string());
            self.answers
                .lock()
                .unwrap()
                .pop()
                .ok_or_else(|| TranscribeError::Engine {
                    detail: "script ran out".into(),
                })
        }
        fn model_name(&self) -> &str {
            "scripted"
        }
        fn initial_prompt(&self) -> &str {
            &self.prompt
        }
    }

    pub(crate) fn raw(start_s: f64, end_s: f64, text: &str) -> RawSegment {
        RawSegment {
            start_s,
            end_s,
            text: text.to_string(),
            no_speech_prob: 0.02,
            avg_logprob: -0.2,
        }
    }

    /// `speech` seconds of loud signal then `silence` seconds of zeros, repeated as given.
    pub(crate) fn audio(parts: &[(f64, bool)]) -> Samples16k {
        Samples16k::new(
            parts
                .iter()
                .flat_map(|&(secs, loud)| {
                    std::iter::repeat_n(if loud { 0.5 } else { 0.0 }, (secs * RATE as f64) as usize)
                })
                .collect(),
        )
    }

    fn run(engine: &Scripted, samples: &Samples16k, plan: Vec<Range<usize>>) -> Vec<Segment> {
        transcribe_chunks(engine, samples, &LoudIsSpeech { plan }, "", &mut |_| {}).unwrap()
    }

    #[test]
    fn segment_times_are_moved_to_the_whole_file() {
        let samples = audio(&[(10.0, true), (5.0, false), (10.0, true)]);
        let engine = Scripted::new(vec![
            vec![raw(0.0, 9.8, " First part.")],
            vec![raw(1.0, 9.6, " Second part.")],
        ]);
        let segments = run(&engine, &samples, vec![0..10 * RATE, 15 * RATE..25 * RATE]);
        assert_eq!(
            segments,
            vec![
                Segment {
                    start_s: 0.0,
                    end_s: 9.8,
                    text: "First part.".into()
                },
                Segment {
                    start_s: 16.0,
                    end_s: 24.6,
                    text: "Second part.".into()
                },
            ]
        );
        assert_eq!(
            engine.calls(),
            vec![(10 * RATE, Pass::First), (10 * RATE, Pass::First)]
        );
    }

    #[test]
    fn silent_chunks_never_reach_the_model() {
        let samples = audio(&[(5.0, false)]);
        let engine = Scripted::new(vec![]);
        assert_eq!(run(&engine, &samples, vec![0..5 * RATE]), vec![]);
        assert!(engine.calls().is_empty());
    }

    #[test]
    fn text_placed_over_silence_inside_a_chunk_is_dropped() {
        let samples = audio(&[(4.0, true), (6.0, false)]);
        let engine = Scripted::new(vec![vec![
            raw(0.0, 3.8, " Client reports better sleep."),
            raw(6.0, 9.5, " Thank you."),
        ]]);
        let segments = run(&engine, &samples, vec![0..10 * RATE]);
        assert_eq!(segments.len(), 1);
        assert_eq!(segments[0].text, "Client reports better sleep.");
    }

    #[test]
    fn a_looping_chunk_is_retried_and_the_retry_is_used() {
        let samples = audio(&[(20.0, true)]);
        let looped = (0..5)
            .map(|i| {
                raw(
                    f64::from(i) * 3.0,
                    f64::from(i) * 3.0 + 3.0,
                    " She has been engaged in a high-level situation.",
                )
            })
            .collect();
        let engine = Scripted::new(vec![
            looped,
            vec![raw(0.0, 19.8, " She has been engaged in treatment.")],
        ]);
        let segments = run(&engine, &samples, vec![0..20 * RATE]);
        assert_eq!(
            engine.calls(),
            vec![(20 * RATE, Pass::First), (20 * RATE, Pass::Retry)]
        );
        assert_eq!(segments.len(), 1);
        assert_eq!(segments[0].text, "She has been engaged in treatment.");
    }

    #[test]
    fn a_retry_that_loops_again_has_its_repeats_cut() {
        let samples = audio(&[(20.0, true)]);
        let looped = || -> Vec<RawSegment> {
            (0..4)
                .map(|i| {
                    raw(
                        f64::from(i) * 3.0,
                        f64::from(i) * 3.0 + 3.0,
                        " She has been engaged in a high-level situation.",
                    )
                })
                .collect()
        };
        // After the cut, what the loop covered up is decoded again from where the sentence ended.
        let engine = Scripted::new(vec![
            looped(),
            looped(),
            vec![raw(0.0, 16.8, " Mood is low.")],
        ]);
        let segments = run(&engine, &samples, vec![0..20 * RATE]);
        assert_eq!(
            engine.calls(),
            vec![
                (20 * RATE, Pass::First),
                (20 * RATE, Pass::Retry),
                (17 * RATE, Pass::First)
            ]
        );
        assert_eq!(segments.len(), 2);
        assert_eq!(
            segments[0].text,
            "She has been engaged in a high-level situation."
        );
        assert_eq!(segments[0].end_s, 3.0);
        assert_eq!((segments[1].start_s, segments[1].end_s), (3.0, 19.8));
    }

    #[test]
    fn speech_after_where_the_model_stopped_is_decoded_too() {
        let samples = audio(&[(20.0, true)]);
        let engine = Scripted::new(vec![
            vec![raw(0.0, 12.0, " She slept better.")],
            vec![raw(0.5, 7.9, " Mood is low.")],
        ]);
        let segments = run(&engine, &samples, vec![0..20 * RATE]);
        assert_eq!(
            engine.calls(),
            vec![(20 * RATE, Pass::First), (8 * RATE, Pass::First)]
        );
        assert_eq!(
            *engine.contexts.lock().unwrap(),
            vec!["", "She slept better."]
        );
        let times: Vec<(f64, f64)> = segments.iter().map(|s| (s.start_s, s.end_s)).collect();
        assert_eq!(times, vec![(0.0, 12.0), (12.5, 19.9)]);
    }

    #[test]
    fn silence_after_the_last_words_of_a_chunk_costs_no_second_call() {
        let samples = audio(&[(4.0, true), (6.0, false)]);
        let engine = Scripted::new(vec![vec![raw(0.0, 3.7, " Affect was bright.")]]);
        let segments = run(&engine, &samples, vec![0..10 * RATE]);
        assert_eq!(segments.len(), 1);
        assert_eq!(engine.calls(), vec![(10 * RATE, Pass::First)]);
    }

    #[test]
    fn a_model_that_keeps_stopping_early_gets_a_bounded_number_of_passes() {
        let samples = audio(&[(20.0, true)]);
        let engine = Scripted::new(vec![
            vec![raw(0.0, 2.0, " One.")],
            vec![raw(0.0, 2.0, " Two.")],
            vec![raw(0.0, 2.0, " Three.")],
        ]);
        let segments = run(&engine, &samples, vec![0..20 * RATE]);
        assert_eq!(engine.calls().len(), MAX_PASSES_PER_CHUNK);
        assert_eq!(segments.len(), 3);
        assert_eq!(segments[2].start_s, 4.0);
    }

    #[test]
    fn prompt_echo_and_high_no_speech_segments_are_dropped() {
        let samples = audio(&[(10.0, true)]);
        let mut unsure = raw(5.0, 9.8, " And the session ended.");
        unsure.no_speech_prob = 0.93;
        unsure.avg_logprob = -1.3;
        let engine = Scripted::new(vec![vec![
            raw(
                0.0,
                4.0,
                " Psychotherapy progress note with terms such as PHQ-9, GAD-7, CBT and sertraline.",
            ),
            unsure,
        ]]);
        assert_eq!(run(&engine, &samples, vec![0..10 * RATE]), vec![]);
    }

    #[test]
    fn the_prompt_repeated_in_a_loop_is_dropped_without_a_retry() {
        let samples = audio(&[(8.0, true)]);
        let echo = " Psychotherapy progress note with terms such as PHQ-9, GAD-7, CBT and sertraline. \
                    The client denies SI and HI. The client denies SI and HI. The client denies SI and HI.";
        let engine = Scripted::new(vec![vec![raw(0.0, 8.0, echo)]]);
        assert_eq!(run(&engine, &samples, vec![0..8 * RATE]), vec![]);
        assert_eq!(engine.calls(), vec![(8 * RATE, Pass::First)]);
    }

    #[test]
    fn each_chunk_is_told_what_the_one_before_it_said_and_a_retry_starts_afresh() {
        let samples = audio(&[(5.0, true), (1.0, false), (5.0, true)]);
        let looping =
            " Mood is low. Mood is low. Mood is low. Mood is low. Mood is low. Mood is low.";
        let engine = Scripted::new(vec![
            vec![raw(0.0, 4.8, " She slept better.")],
            vec![raw(0.0, 5.0, looping)],
            vec![raw(0.0, 4.8, " Mood is low.")],
        ]);
        let mut seen = |_| {};
        let got = transcribe_chunks(
            &engine,
            &samples,
            &LoudIsSpeech {
                plan: vec![0..5 * RATE, 6 * RATE..11 * RATE],
            },
            "Subjective.",
            &mut seen,
        )
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            *engine.contexts.lock().unwrap(),
            vec!["Subjective.", "She slept better.", ""]
        );
    }

    #[test]
    fn progress_counts_every_chunk() {
        let samples = audio(&[(3.0, true), (3.0, false)]);
        let engine = Scripted::new(vec![vec![raw(0.0, 2.8, " Mood is euthymic.")]]);
        let mut seen = Vec::new();
        transcribe_chunks(
            &engine,
            &samples,
            &LoudIsSpeech {
                plan: vec![0..3 * RATE, 3 * RATE..6 * RATE],
            },
            "",
            &mut |p| seen.push(p),
        )
        .unwrap();
        let done: Vec<usize> = seen.iter().map(|p| p.chunks_done).collect();
        assert_eq!(done, vec![0, 1, 2]);
        assert!(seen.iter().all(|p| p.chunks_total == 2));
    }

    #[test]
    fn an_engine_failure_is_passed_on() {
        let samples = audio(&[(3.0, true)]);
        let engine = Scripted::new(vec![]);
        let err = transcribe_chunks(
            &engine,
            &samples,
            &LoudIsSpeech {
                plan: vec![0..3 * RATE],
            },
            "",
            &mut |_| {},
        )
        .unwrap_err();
        assert!(matches!(err, TranscribeError::Engine { .. }));
    }
}
