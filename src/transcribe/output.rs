//! Writing a transcript out as plain text, JSON or SRT subtitles.

use serde::Serialize;

use super::Transcript;

/// Plain text, one stretch of speech per line.
pub fn to_txt(transcript: &Transcript) -> String {
    let mut out = String::new();
    for segment in &transcript.segments {
        let text = segment.text.trim();
        if !text.is_empty() {
            out.push_str(text);
            out.push('\n');
        }
    }
    out
}

#[derive(Serialize)]
struct JsonTranscript<'a> {
    file: &'a str,
    duration_s: f64,
    model: &'a str,
    segments: Vec<JsonSegment<'a>>,
}

#[derive(Serialize)]
struct JsonSegment<'a> {
    start_s: f64,
    end_s: f64,
    text: &'a str,
}

/// `{file, duration_s, model, segments: [{start_s, end_s, text}]}`, times rounded to milliseconds.
pub fn to_json(file: &str, model: &str, transcript: &Transcript, pretty: bool) -> String {
    let doc = JsonTranscript {
        file,
        duration_s: round_ms(transcript.duration_s),
        model,
        segments: transcript
            .segments
            .iter()
            .map(|s| JsonSegment {
                start_s: round_ms(s.start_s),
                end_s: round_ms(s.end_s),
                text: s.text.trim(),
            })
            .collect(),
    };
    let text = if pretty {
        serde_json::to_string_pretty(&doc)
    } else {
        serde_json::to_string(&doc)
    };
    // Serializing plain strings and finite numbers cannot fail; an empty object is the safe fallback.
    let mut text = text.unwrap_or_else(|_| "{}".to_string());
    text.push('\n');
    text
}

/// SubRip subtitles: numbered cues with `HH:MM:SS,mmm --> HH:MM:SS,mmm` times.
pub fn to_srt(transcript: &Transcript) -> String {
    let mut out = String::new();
    let cues = transcript
        .segments
        .iter()
        .filter(|s| !s.text.trim().is_empty());
    for (i, segment) in cues.enumerate() {
        out.push_str(&format!(
            "{}\n{} --> {}\n{}\n\n",
            i + 1,
            srt_time(segment.start_s),
            srt_time(segment.end_s.max(segment.start_s)),
            segment.text.trim()
        ));
    }
    out
}

fn round_ms(s: f64) -> f64 {
    if s.is_finite() {
        (s * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

fn srt_time(seconds: f64) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02},{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcribe::Segment;

    fn sample() -> Transcript {
        Transcript {
            segments: vec![
                Segment {
                    start_s: 0.0,
                    end_s: 2.5,
                    text: " Client denies SI and HI.".into(),
                },
                Segment {
                    start_s: 3661.0004,
                    end_s: 3663.25,
                    text: "PHQ-9 is 14.".into(),
                },
            ],
            duration_s: 3665.0,
        }
    }

    #[test]
    fn txt_has_one_line_per_segment() {
        assert_eq!(
            to_txt(&sample()),
            "Client denies SI and HI.\nPHQ-9 is 14.\n"
        );
    }

    #[test]
    fn srt_numbers_cues_and_formats_times() {
        assert_eq!(
            to_srt(&sample()),
            "1\n00:00:00,000 --> 00:00:02,500\nClient denies SI and HI.\n\n\
             2\n01:01:01,000 --> 01:01:03,250\nPHQ-9 is 14.\n\n"
        );
    }

    #[test]
    fn json_has_file_model_and_timed_segments() {
        let v: serde_json::Value =
            serde_json::from_str(&to_json("memo.wav", "base", &sample(), false)).unwrap();
        assert_eq!(v["file"], "memo.wav");
        assert_eq!(v["model"], "base");
        assert_eq!(v["duration_s"], 3665.0);
        assert_eq!(v["segments"][1]["start_s"], 3661.0);
        assert_eq!(v["segments"][0]["text"], "Client denies SI and HI.");
    }

    #[test]
    fn an_empty_transcript_renders_empty() {
        let empty = Transcript::default();
        assert_eq!(to_txt(&empty), "");
        assert_eq!(to_srt(&empty), "");
    }
}
