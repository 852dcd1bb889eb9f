//! `notedraft draft`: one recorded dictation (or a typed transcript) to an unsigned draft on disk.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use notedraft::config::Settings;
use notedraft::error;
use notedraft::pipeline::{self, Speech};
use notedraft::store::{self, DraftOrigin, DraftStore};

use super::{draft_summary as summary, show};
use crate::cli::DraftArgs;

pub fn run(args: DraftArgs, settings: &Settings) -> Result<ExitCode> {
    let created_at = jiff::Timestamp::now();
    let format = settings.format;
    let (input, draft, origin) = match (&args.text, &args.audio) {
        (Some(path), _) => {
            let text = pipeline::read_text_file(path)?;
            let draft =
                pipeline::draft_from_text(&text, format, pipeline::text_source(path), created_at);
            let origin = DraftOrigin {
                input_sha256: store::sha256_hex(text.as_bytes()),
                input_path: path.display().to_string(),
                format: format.label().to_string(),
                model: None,
            };
            (path, draft, origin)
        }
        (None, Some(path)) => {
            let speech = Speech::load(settings)?;
            let heard = pipeline::transcribe_file(&speech, path)?;
            if heard.transcript.segments.is_empty() {
                anyhow::bail!(
                    "no speech was heard in {}: check that it is the right recording and that the microphone was on",
                    path.display()
                );
            }
            let source = pipeline::audio_source(path, &heard.info, speech.model_name());
            let draft =
                pipeline::draft_from_transcript(&heard.transcript, format, source, created_at);
            let origin = DraftOrigin {
                input_sha256: store::sha256_file(path)
                    .with_context(|| format!("could not read {}", path.display()))?,
                input_path: path.display().to_string(),
                format: format.label().to_string(),
                model: Some(speech.model_name().to_string()),
            };
            (path, draft, origin)
        }
        (None, None) => anyhow::bail!("say which recording to draft, or give --text FILE"),
    };
    let store = DraftStore::open(&settings.out_dir)?;
    let saved = pipeline::save_draft(&store, &stem_for(input), &draft, &origin)?;
    let summary = summary(&draft, &saved);
    if args.json {
        show(&format!("{}\n", draft.to_json()));
        eprint!("{summary}");
    } else {
        show(&summary);
    }
    Ok(error::exit(error::EXIT_OK))
}

fn stem_for(input: &Path) -> String {
    store::safe_stem(
        &input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )
}
