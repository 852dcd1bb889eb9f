//! The labelled dictation corpus format (tests/corpus/README.md): one file's text parsed into its
//! header and labelled lines. Pure: reading the files is the caller's business.

use std::collections::BTreeMap;

use super::NoteFormat;

/// How a dictation was spoken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Style {
    /// Spoken section headings.
    Headings,
    /// No headings, any order.
    Freeform,
    /// Fillers, corrections, false starts.
    Messy,
}

impl Style {
    pub fn label(self) -> &'static str {
        match self {
            Style::Headings => "headings",
            Style::Freeform => "freeform",
            Style::Messy => "messy",
        }
    }
}

/// Where a dictated line belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Label {
    S,
    O,
    A,
    P,
    Session,
    Heading,
    Command,
    Retracted,
    Process,
    Filler,
}

impl Label {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "S" => Label::S,
            "O" => Label::O,
            "A" => Label::A,
            "P" => Label::P,
            "session" => Label::Session,
            "heading" => Label::Heading,
            "command" => Label::Command,
            "retracted" => Label::Retracted,
            "process" => Label::Process,
            "filler" => Label::Filler,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Label::S => "S",
            Label::O => "O",
            Label::A => "A",
            Label::P => "P",
            Label::Session => "session",
            Label::Heading => "heading",
            Label::Command => "command",
            Label::Retracted => "retracted",
            Label::Process => "process",
            Label::Filler => "filler",
        }
    }
}

/// One dictated sentence and its label.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelledLine {
    pub label: Label,
    pub text: String,
    /// Line number in the file (1-based), for messages.
    pub line_no: usize,
}

/// A score the dictation contains.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectedScore {
    pub instrument: String,
    pub score: u32,
    pub prior: Option<u32>,
}

/// One parsed corpus file.
#[derive(Clone, Debug, PartialEq)]
pub struct CorpusFile {
    pub name: String,
    pub format: NoteFormat,
    pub style: Style,
    /// Review-flag codes a correct draft raises.
    pub flags: Vec<String>,
    pub scores: Vec<ExpectedScore>,
    /// PHQ-9 item 9 as dictated.
    pub item9: Option<u32>,
    /// Session fields dictated (client, date, duration, modality, type, number).
    pub session: BTreeMap<String, String>,
    pub lines: Vec<LabelledLine>,
}

impl CorpusFile {
    /// The dictation as one transcript: lines joined by single spaces, as the evaluator feeds it.
    pub fn transcript(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A corpus file that does not follow the format.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CorpusError {
    #[error("{file} line {line}: {problem}; fix the line to follow tests/corpus/README.md")]
    BadLine {
        file: String,
        line: usize,
        problem: String,
    },
    #[error("{file} has no '# {header}:' line; add it (see tests/corpus/README.md)")]
    MissingHeader { file: String, header: &'static str },
}

/// Parses the text of one corpus file.
pub fn parse(name: &str, text: &str) -> Result<CorpusFile, CorpusError> {
    let bad = |line: usize, problem: String| CorpusError::BadLine {
        file: name.to_string(),
        line,
        problem,
    };
    let mut format = None;
    let mut style = None;
    let mut flags = None;
    let mut scores = Vec::new();
    let mut item9 = None;
    let mut session = BTreeMap::new();
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix('#') {
            let Some((key, value)) = header.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "format" => {
                    format = Some(match value {
                        "soap" => NoteFormat::Soap,
                        "dap" => NoteFormat::Dap,
                        other => return Err(bad(line_no, format!("unknown format '{other}'"))),
                    })
                }
                "style" => {
                    style = Some(match value {
                        "headings" => Style::Headings,
                        "freeform" => Style::Freeform,
                        "messy" => Style::Messy,
                        other => return Err(bad(line_no, format!("unknown style '{other}'"))),
                    })
                }
                "flags" => {
                    flags = Some(
                        value
                            .split_whitespace()
                            .filter(|f| *f != "none")
                            .map(str::to_string)
                            .collect(),
                    )
                }
                "scores" => {
                    for item in value.split_whitespace().filter(|s| *s != "none") {
                        let Some((inst, nums)) = item.rsplit_once('=') else {
                            return Err(bad(
                                line_no,
                                format!("score '{item}' is not INSTRUMENT=SCORE"),
                            ));
                        };
                        let (score, prior) = match nums.split_once('/') {
                            Some((s, p)) => (s, Some(p)),
                            None => (nums, None),
                        };
                        let parse_num = |t: &str| {
                            t.parse::<u32>().map_err(|_| {
                                bad(line_no, format!("'{t}' in '{item}' is not a number"))
                            })
                        };
                        let score = parse_num(score)?;
                        let prior = prior.map(parse_num).transpose()?;
                        if inst.eq_ignore_ascii_case("PHQ-9-item9") {
                            item9 = Some(score);
                        } else {
                            scores.push(ExpectedScore {
                                instrument: inst.to_string(),
                                score,
                                prior,
                            });
                        }
                    }
                }
                "session" => {
                    for item in value.split_whitespace() {
                        if let Some((k, v)) = item.split_once('=') {
                            session.insert(k.to_string(), v.to_string());
                        }
                    }
                }
                _ => {}
            }
            continue;
        }
        let Some((label, text)) = line.split_once('|') else {
            return Err(bad(line_no, "no 'LABEL | text' separator".to_string()));
        };
        let label = label.trim();
        let Some(label) = Label::parse(label) else {
            return Err(bad(line_no, format!("unknown label '{label}'")));
        };
        lines.push(LabelledLine {
            label,
            text: text.trim().to_string(),
            line_no,
        });
    }
    let missing = |header| CorpusError::MissingHeader {
        file: name.to_string(),
        header,
    };
    Ok(CorpusFile {
        name: name.to_string(),
        format: format.ok_or_else(|| missing("format"))?,
        style: style.ok_or_else(|| missing("style"))?,
        flags: flags.ok_or_else(|| missing("flags"))?,
        scores,
        item9,
        session,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "# format: soap\n# style: headings\n# flags: missing-interventions vague-progress\n\
# scores: PHQ-9=14/18 GAD-7=9 PHQ-9-item9=0\n\
# session: client=J.D. date=2026-03-04 duration=50 modality=telehealth type=individual number=6\n\
session | This was session six with J.D., a fifty minute telehealth visit.\n\
heading | Subjective.\n\
S | Client reports she slept better this week, about six hours a night.\n\
\n\
command | End of dictation.\n";

    #[test]
    fn parses_the_readme_example() {
        let f = parse("x.txt", EXAMPLE).unwrap();
        assert_eq!(f.format, NoteFormat::Soap);
        assert_eq!(f.style, Style::Headings);
        assert_eq!(f.flags, ["missing-interventions", "vague-progress"]);
        assert_eq!(
            f.scores,
            [
                ExpectedScore {
                    instrument: "PHQ-9".into(),
                    score: 14,
                    prior: Some(18)
                },
                ExpectedScore {
                    instrument: "GAD-7".into(),
                    score: 9,
                    prior: None
                }
            ]
        );
        assert_eq!(f.item9, Some(0));
        assert_eq!(f.session.get("duration").map(String::as_str), Some("50"));
        assert_eq!(f.lines.len(), 4);
        assert_eq!(f.lines[2].label, Label::S);
        assert_eq!(f.lines[3].line_no, 10);
        assert!(f.transcript().starts_with(
            "This was session six with J.D., a fifty minute telehealth visit. Subjective."
        ));
    }

    #[test]
    fn flags_none_is_empty() {
        let f = parse(
            "x",
            "# format: dap\n# style: messy\n# flags: none\n# scores: none\nS | Hi.\n",
        )
        .unwrap();
        assert!(f.flags.is_empty());
        assert!(f.scores.is_empty());
        assert_eq!(f.format, NoteFormat::Dap);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let e = parse(
            "bad.txt",
            "# format: soap\n# style: headings\n# flags: none\nX | nope\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            CorpusError::BadLine {
                file: "bad.txt".into(),
                line: 4,
                problem: "unknown label 'X'".into()
            }
        );
        let e = parse("bad.txt", "# style: headings\n# flags: none\n").unwrap_err();
        assert_eq!(
            e,
            CorpusError::MissingHeader {
                file: "bad.txt".into(),
                header: "format"
            }
        );
        assert!(e.to_string().contains("README"));
    }
}
