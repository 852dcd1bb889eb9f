//! Standardised assessment scores (PHQ-9, GAD-7, ...) as dictated, with their severity bands.
//!
//! Spoken forms are read from words: "PHQ nine was fourteen", "P C L 5 came down to 38 from 51",
//! "scored 12 on the GAD-7", "item nine was one". A band is given only where the instrument has one
//! standard banding; a score outside the instrument's range gets no band and raises a review flag.

use serde::{Deserialize, Serialize};

use super::words::{number_at, words};

/// A standardised instrument: its range and, where one standard exists, its severity bands.
#[derive(Debug, PartialEq)]
pub struct Instrument {
    pub name: &'static str,
    pub min: u32,
    pub max: u32,
    /// (lowest, highest, band), covering the whole range; empty when no standard banding exists.
    pub bands: &'static [(u32, u32, &'static str)],
}

const PHQ9_BANDS: &[(u32, u32, &str)] = &[
    (0, 4, "minimal"),
    (5, 9, "mild"),
    (10, 14, "moderate"),
    (15, 19, "moderately severe"),
    (20, 27, "severe"),
];

/// The instruments recognised. Bands: PHQ-9 and PHQ-A (Kroenke 2001), GAD-7 (Spitzer 2006),
/// AUDIT (WHO risk zones), BDI-II and BAI (Beck manuals), Y-BOCS (Goodman), ISI (Bastien 2001),
/// DAST-10 (Skinner), K10 (Andrews & Slade). The others have cut-offs but no single standard banding.
pub const INSTRUMENTS: &[Instrument] = &[
    Instrument {
        name: "PHQ-9",
        min: 0,
        max: 27,
        bands: PHQ9_BANDS,
    },
    Instrument {
        name: "PHQ-A",
        min: 0,
        max: 27,
        bands: PHQ9_BANDS,
    },
    Instrument {
        name: "PHQ-2",
        min: 0,
        max: 6,
        bands: &[],
    },
    Instrument {
        name: "PHQ-15",
        min: 0,
        max: 30,
        bands: &[],
    },
    Instrument {
        name: "GAD-7",
        min: 0,
        max: 21,
        bands: &[
            (0, 4, "minimal"),
            (5, 9, "mild"),
            (10, 14, "moderate"),
            (15, 21, "severe"),
        ],
    },
    Instrument {
        name: "GAD-2",
        min: 0,
        max: 6,
        bands: &[],
    },
    Instrument {
        name: "PCL-5",
        min: 0,
        max: 80,
        bands: &[],
    },
    Instrument {
        name: "AUDIT",
        min: 0,
        max: 40,
        bands: &[
            (0, 7, "low risk"),
            (8, 15, "hazardous"),
            (16, 19, "harmful"),
            (20, 40, "possible dependence"),
        ],
    },
    Instrument {
        name: "AUDIT-C",
        min: 0,
        max: 12,
        bands: &[],
    },
    Instrument {
        name: "DAST-10",
        min: 0,
        max: 10,
        bands: &[
            (0, 0, "none"),
            (1, 2, "low"),
            (3, 5, "moderate"),
            (6, 8, "substantial"),
            (9, 10, "severe"),
        ],
    },
    Instrument {
        name: "BDI-II",
        min: 0,
        max: 63,
        bands: &[
            (0, 13, "minimal"),
            (14, 19, "mild"),
            (20, 28, "moderate"),
            (29, 63, "severe"),
        ],
    },
    Instrument {
        name: "BAI",
        min: 0,
        max: 63,
        bands: &[
            (0, 7, "minimal"),
            (8, 15, "mild"),
            (16, 25, "moderate"),
            (26, 63, "severe"),
        ],
    },
    Instrument {
        name: "Y-BOCS",
        min: 0,
        max: 40,
        bands: &[
            (0, 7, "subclinical"),
            (8, 15, "mild"),
            (16, 23, "moderate"),
            (24, 31, "severe"),
            (32, 40, "extreme"),
        ],
    },
    Instrument {
        name: "ISI",
        min: 0,
        max: 28,
        bands: &[
            (0, 7, "none"),
            (8, 14, "subthreshold"),
            (15, 21, "moderate"),
            (22, 28, "severe"),
        ],
    },
    Instrument {
        name: "K10",
        min: 10,
        max: 50,
        bands: &[
            (10, 15, "low"),
            (16, 21, "moderate"),
            (22, 29, "high"),
            (30, 50, "very high"),
        ],
    },
    Instrument {
        name: "EPDS",
        min: 0,
        max: 30,
        bands: &[],
    },
    Instrument {
        name: "PDSS",
        min: 0,
        max: 28,
        bands: &[],
    },
    Instrument {
        name: "SPIN",
        min: 0,
        max: 68,
        bands: &[],
    },
    Instrument {
        name: "GDS",
        min: 0,
        max: 30,
        bands: &[],
    },
    Instrument {
        name: "ASRM",
        min: 0,
        max: 20,
        bands: &[],
    },
    Instrument {
        name: "PSS",
        min: 0,
        max: 40,
        bands: &[],
    },
    Instrument {
        name: "MoCA",
        min: 0,
        max: 30,
        bands: &[],
    },
    Instrument {
        name: "HAM-D",
        min: 0,
        max: 52,
        bands: &[],
    },
    Instrument {
        name: "HAM-A",
        min: 0,
        max: 56,
        bands: &[],
    },
];

/// The instrument with this name.
pub fn instrument(name: &str) -> Option<&'static Instrument> {
    INSTRUMENTS
        .iter()
        .find(|i| i.name.eq_ignore_ascii_case(name))
}

/// The severity band of a score, `None` when the instrument has no standard bands or the score is out of
/// range.
pub fn severity(name: &str, score: u32) -> Option<&'static str> {
    let inst = instrument(name)?;
    inst.bands
        .iter()
        .find(|(lo, hi, _)| (*lo..=*hi).contains(&score))
        .map(|(_, _, band)| *band)
}

/// True when the score is possible on the instrument.
pub fn in_range(name: &str, score: u32) -> bool {
    instrument(name).is_some_and(|i| (i.min..=i.max).contains(&score))
}

/// A recognised score as it appears in the draft.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub instrument: String,
    pub score: u32,
    pub prior: Option<u32>,
    pub severity: Option<String>,
    /// PHQ-9 item 9 (thoughts of death or self-harm): `Some(true)` when endorsed, `None` when not said.
    pub item9_positive: Option<bool>,
    /// False when the score is outside the instrument's range (no band is given then).
    #[serde(default = "yes")]
    pub in_range: bool,
}

fn yes() -> bool {
    true
}

/// What one sentence says about a score.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mention {
    /// `None` for a lone item-9 statement ("Item nine was zero.").
    pub instrument: Option<&'static str>,
    pub score: Option<u32>,
    pub prior: Option<u32>,
    pub item9_positive: Option<bool>,
}

/// (spoken head, following word(s) that pick the version, instrument). The first head that matches
/// wins, so versions come before the bare head.
const ALIASES: &[(&[&str], &str)] = &[
    (&["phq", "9"], "PHQ-9"),
    (&["phq9"], "PHQ-9"),
    (&["gad7"], "GAD-7"),
    (&["pcl5"], "PCL-5"),
    (&["phq2"], "PHQ-2"),
    (&["gad2"], "GAD-2"),
    (&["dast10"], "DAST-10"),
    (&["bdi2"], "BDI-II"),
    (&["phqa"], "PHQ-A"),
    (&["phq", "nine"], "PHQ-9"),
    (&["phq", "a"], "PHQ-A"),
    (&["phq", "2"], "PHQ-2"),
    (&["phq", "two"], "PHQ-2"),
    (&["phq", "15"], "PHQ-15"),
    (&["phq", "fifteen"], "PHQ-15"),
    (&["phq"], "PHQ-9"),
    (&["patient", "health", "questionnaire", "9"], "PHQ-9"),
    (&["patient", "health", "questionnaire", "nine"], "PHQ-9"),
    (&["gad", "7"], "GAD-7"),
    (&["gad", "seven"], "GAD-7"),
    (&["gad", "2"], "GAD-2"),
    (&["gad", "two"], "GAD-2"),
    (&["pcl", "5"], "PCL-5"),
    (&["pcl", "five"], "PCL-5"),
    (&["pcl"], "PCL-5"),
    (&["audit", "c"], "AUDIT-C"),
    (&["dast", "10"], "DAST-10"),
    (&["dast", "ten"], "DAST-10"),
    (&["dast"], "DAST-10"),
    (&["bdi", "ii"], "BDI-II"),
    (&["bdi", "2"], "BDI-II"),
    (&["bdi", "two"], "BDI-II"),
    (&["bdi"], "BDI-II"),
    (&["beck", "depression", "inventory"], "BDI-II"),
    (&["beck", "anxiety", "inventory"], "BAI"),
    (&["bai"], "BAI"),
    (&["y", "bocs"], "Y-BOCS"),
    (&["ybocs"], "Y-BOCS"),
    (&["why", "bocs"], "Y-BOCS"),
    (&["yale", "brown"], "Y-BOCS"),
    (&["isi"], "ISI"),
    (&["insomnia", "severity", "index"], "ISI"),
    (&["k10"], "K10"),
    (&["k", "10"], "K10"),
    (&["kessler"], "K10"),
    (&["epds"], "EPDS"),
    (&["edinburgh"], "EPDS"),
    (&["pdss"], "PDSS"),
    (&["panic", "disorder", "severity", "scale"], "PDSS"),
    (&["social", "phobia", "inventory"], "SPIN"),
    (&["gds"], "GDS"),
    (&["geriatric", "depression", "scale"], "GDS"),
    (&["asrm"], "ASRM"),
    (&["altman"], "ASRM"),
    (&["pss"], "PSS"),
    (&["perceived", "stress", "scale"], "PSS"),
    (&["moca"], "MoCA"),
    (&["ham", "d"], "HAM-D"),
    (&["hamilton", "depression"], "HAM-D"),
    (&["ham", "a"], "HAM-A"),
    (&["hamilton", "anxiety"], "HAM-A"),
];

/// Instruments whose spoken name is also an everyday word: recognised only when written in capitals.
const CAPITALS_ONLY: &[(&str, &str)] = &[("AUDIT", "AUDIT"), ("SPIN", "SPIN")];

/// Letter runs that spell an instrument ("P C L 5", "P.H.Q.").
const SPELLED: &[&str] = &[
    "phq", "gad", "pcl", "bdi", "bai", "isi", "gds", "pdss", "dast", "epds", "asrm", "pss",
];

/// Words after a number that make it something other than a score.
const UNITS: &[&str] = &[
    "weeks",
    "week",
    "days",
    "day",
    "months",
    "month",
    "years",
    "year",
    "minutes",
    "minute",
    "hours",
    "hour",
    "times",
    "percent",
    "point",
    "points",
    "ago",
    "sessions",
    "session",
    "nights",
    "night",
    "am",
    "pm",
    "o'clock",
    "mg",
    "milligrams",
    "drinks",
    "beers",
    "items",
    "of",
];

/// Words before a score that make it the earlier one ("down from 18", "previously 12", "at intake it
/// was 17").
const PRIOR_BEFORE: &[&str] = &[
    "from",
    "previously",
    "previous",
    "prior",
    "compared",
    "versus",
    "vs",
    "baseline",
    "intake",
    "last",
    "before",
    "start",
    "beginning",
    "initially",
    "originally",
    "used",
];

/// Words just after a score that make it the earlier one ("18 last time", "26 at intake").
const PRIOR_AFTER: &[&str] = &[
    "ago",
    "last",
    "intake",
    "baseline",
    "start",
    "earlier",
    "beginning",
];

/// Words between an item number and its value that say nothing.
const ITEM_VALUE_GAP: &[&str] = &[
    "was", "of", "is", "at", "a", "an", "scored", "score", "came", "in", "rated", "on", "were",
    "answered", "as", "with", "the", "response", "then",
];

struct Token {
    word: String,
    /// The word as written was all capitals ("AUDIT").
    capitals: bool,
}

fn tokens(text: &str) -> Vec<Token> {
    let lower = words(text);
    let cased = cased_words(text);
    let mut raw: Vec<Token> = lower
        .into_iter()
        .zip(cased)
        .map(|(word, cased)| Token {
            capitals: cased.len() > 1 && cased.chars().all(|c| !c.is_lowercase()),
            word,
        })
        .collect();
    // Join spelled-out letters: "p c l" -> "pcl".
    let mut out: Vec<Token> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let mut joined = false;
        for len in (2..=4).rev() {
            if i + len > raw.len() || !raw[i..i + len].iter().all(|t| t.word.chars().count() == 1) {
                continue;
            }
            let spelled: String = raw[i..i + len].iter().map(|t| t.word.as_str()).collect();
            if SPELLED.contains(&spelled.as_str()) {
                out.push(Token {
                    word: spelled,
                    capitals: true,
                });
                i += len;
                joined = true;
                break;
            }
        }
        if !joined {
            out.push(std::mem::replace(
                &mut raw[i],
                Token {
                    word: String::new(),
                    capitals: false,
                },
            ));
            i += 1;
        }
    }
    out
}

/// Words with their case kept, split exactly as [`words`] splits them.
fn cased_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            current.push(c);
        } else if (c == '\'' || c == '’')
            && !current.is_empty()
            && chars.get(i + 1).is_some_and(|n| n.is_alphabetic())
        {
            current.push('\'');
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// An instrument named at word `i`: (instrument, words used).
fn instrument_at(toks: &[Token], i: usize) -> Option<(&'static str, usize)> {
    for (phrase, name) in ALIASES {
        let end = i + phrase.len();
        if end <= toks.len() && phrase.iter().zip(&toks[i..end]).all(|(p, t)| *p == t.word) {
            // "PHQ 9" where 9 is the next score ("PHQ, 9") is still PHQ-9; a bare "phq" then "was".
            return Some((name, phrase.len()));
        }
    }
    CAPITALS_ONLY
        .iter()
        .find(|(w, _)| toks[i].capitals && toks[i].word.eq_ignore_ascii_case(w))
        .map(|(_, name)| (*name, 1))
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Current,
    Prior,
}

/// Reads every score mention in one sentence.
pub fn find(text: &str) -> Vec<Mention> {
    let toks = tokens(text);
    let ws: Vec<String> = toks.iter().map(|t| t.word.clone()).collect();
    let mut starts: Vec<(usize, usize, &'static str)> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if let Some((name, used)) = instrument_at(&toks, i) {
            starts.push((i, used, name));
            i += used;
        } else {
            i += 1;
        }
    }
    let mut mentions: Vec<Mention> = Vec::new();
    let mut stray_item9: Option<bool> = None;
    let mut windows: Vec<Vec<(u32, Role)>> = Vec::new();
    for (k, &(at, used, name)) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(ws.len(), |s| s.0);
        let (numbers, item9) = read_window(&ws, at + used, end);
        // Only the PHQ-9 (and its adolescent form) has an item 9 about self-harm: "GAD-7 was 15, item 9
        // was zero" still speaks of the PHQ-9.
        let phq = matches!(name, "PHQ-9" | "PHQ-A");
        if !phq && item9.is_some() {
            stray_item9 = stray_item9.or(item9);
        }
        let mut m = Mention {
            instrument: Some(name),
            item9_positive: if phq { item9 } else { None },
            ..Mention::default()
        };
        // "scored 14 on the PHQ-9", "a 14 on the GAD-7".
        let before = score_before(&ws, at, starts.get(k.wrapping_sub(1)).map(|s| s.0 + s.1));
        if let Some(v) = before {
            m.score = Some(v);
        }
        for &(v, role) in &numbers {
            match role {
                Role::Current if m.score.is_none() => m.score = Some(v),
                Role::Prior if m.prior.is_none() => m.prior = Some(v),
                Role::Current if m.prior.is_none() && before.is_some() => m.prior = Some(v),
                _ => {}
            }
        }
        windows.push(numbers);
        mentions.push(m);
    }
    // "PHQ-9 and GAD-7 were 14 and 9": the scores follow the list of names in order.
    for k in 0..mentions.len().saturating_sub(1) {
        let (at, used, _) = starts[k];
        let next_at = starts[k + 1].0;
        let joined = ws[at + used..next_at]
            .iter()
            .all(|w| matches!(w.as_str(), "and" | "the" | "score" | "scores"));
        let currents: Vec<u32> = windows[k + 1]
            .iter()
            .filter(|(_, r)| *r == Role::Current)
            .map(|(v, _)| *v)
            .collect();
        if joined && mentions[k].score.is_none() && currents.len() >= 2 {
            mentions[k].score = Some(currents[0]);
            mentions[k + 1].score = Some(currents[1]);
        }
    }
    if let Some(item9) = stray_item9 {
        match mentions
            .iter_mut()
            .find(|m| matches!(m.instrument, Some("PHQ-9" | "PHQ-A")))
        {
            Some(phq) if phq.item9_positive.is_none() => phq.item9_positive = Some(item9),
            Some(_) => {}
            None => mentions.push(Mention {
                item9_positive: Some(item9),
                ..Mention::default()
            }),
        }
    }
    if mentions.is_empty() {
        let (_, item9) = read_window(&ws, 0, ws.len());
        if item9.is_some() {
            mentions.push(Mention {
                item9_positive: item9,
                ..Mention::default()
            });
        }
    }
    mentions
}

/// A score said before the instrument's name: "scored 14 on the PHQ-9".
fn score_before(ws: &[String], at: usize, floor: Option<usize>) -> Option<u32> {
    let floor = floor.unwrap_or(0);
    let mut j = at;
    // Skip "on the", "on her".
    while j > floor && matches!(ws[j - 1].as_str(), "the" | "her" | "his" | "their" | "on") {
        j -= 1;
    }
    if j == at || ws.get(j).is_none_or(|w| w != "on") && !ws[j..at].iter().any(|w| w == "on") {
        return None;
    }
    // The number ends at j; try one- and two-word numbers.
    for len in [2, 1] {
        if j >= len + floor
            && let Some((v, used, false)) = number_at(ws, j - len)
            && used == len
            && !(j > len && matches!(ws[j - len - 1].as_str(), "item" | "question"))
        {
            return Some(v);
        }
    }
    None
}

fn item_value(ws: &[String], mut j: usize, end: usize) -> (Option<bool>, usize) {
    while j < end && ITEM_VALUE_GAP.contains(&ws[j].as_str()) {
        j += 1;
    }
    if j >= end {
        return (None, j);
    }
    if let Some((v, used, false)) = number_at(ws, j) {
        return (Some(v > 0), j + used);
    }
    match ws[j].as_str() {
        "positive" | "endorsed" | "yes" => (Some(true), j + 1),
        "negative" | "denied" | "zero" | "none" | "no" | "not" => (Some(false), j + 1),
        _ => (None, j),
    }
}

/// A number that could be a score: not a quantity ("two weeks"), not an item number ("item 9").
fn is_score_number(ws: &[String], q: usize) -> bool {
    let Some((_, used, ordinal)) = number_at(ws, q) else {
        return false;
    };
    let next = ws.get(q + used).map(String::as_str).unwrap_or("");
    let prev = q.checked_sub(1).map(|p| ws[p].as_str()).unwrap_or("");
    !ordinal && !UNITS.contains(&next) && !matches!(prev, "item" | "question" | "q")
}

/// Numbers in a window after an instrument name, with their roles, and any item-9 statement.
fn read_window(ws: &[String], start: usize, end: usize) -> (Vec<(u32, Role)>, Option<bool>) {
    let mut numbers = Vec::new();
    let mut item9 = None;
    let mut last_number_end = start;
    let mut i = start;
    while i < end {
        let w = ws[i].as_str();
        if matches!(w, "item" | "question" | "q")
            && let Some((n, used, _)) = number_at(ws, i + 1)
        {
            let after = i + 1 + used;
            let (value, next) = item_value(ws, after, end);
            let before = if i > start { ws[i - 1].as_str() } else { "" };
            let before2 = if i > start + 1 {
                ws[i - 2].as_str()
            } else {
                ""
            };
            let said_before = match (before2, before) {
                (_, "endorsed" | "endorses" | "endorsing") | ("positive", "on") => Some(true),
                (_, "denied" | "denies" | "denying") | ("negative", "on") | ("zero", "on") => {
                    Some(false)
                }
                _ => {
                    // "scored 1 on item 9"
                    if before == "on" && i >= start + 2 {
                        number_at(ws, i - 2).map(|(v, _, _)| v > 0)
                    } else {
                        None
                    }
                }
            };
            if n == 9 {
                item9 = said_before.or(value);
            }
            // A number before "on item 9" belongs to the item, not the total.
            if said_before.is_some()
                && before == "on"
                && numbers
                    .last()
                    .is_some_and(|_| i >= 2 && number_at(ws, i - 2).is_some())
            {
                numbers.pop();
            }
            i = next.max(after);
            last_number_end = i;
            continue;
        }
        if w == "out"
            && ws.get(i + 1).is_some_and(|x| x == "of")
            && let Some((_, used, _)) = number_at(ws, i + 2)
        {
            i += 2 + used;
            last_number_end = i;
            continue;
        }
        if let Some((v, used, ordinal)) = number_at(ws, i) {
            let next = ws.get(i + used).map(String::as_str).unwrap_or("");
            let next2 = ws.get(i + used + 1).map(String::as_str).unwrap_or("");
            let next3 = ws.get(i + used + 2).map(String::as_str).unwrap_or("");
            let is_unit = UNITS.contains(&next)
                || (matches!(next, "a" | "per")
                    && matches!(next2, "week" | "day" | "night" | "month")
                    && next3 != "ago");
            if ordinal || is_unit {
                i += used;
                last_number_end = i;
                continue;
            }
            let before = &ws[last_number_end.min(i)..i];
            let after_end = (i + used + 3).min(end);
            // A cue after this number belongs to it only when no other number follows the cue
            // ("14, last time it was 18": "last" is about 18).
            let after_cue = (i + used..after_end).find(|&p| {
                let belongs_to_next = (p + 1..(p + 5).min(end))
                    .take_while(|&q| !matches!(ws[q].as_str(), "item" | "question" | "q"))
                    .find(|&q| is_score_number(ws, q))
                    .is_some_and(|q| {
                        !ws[p + 1..q].iter().any(|w| {
                            matches!(
                                w.as_str(),
                                "and" | "but" | "now" | "today" | "vs" | "versus"
                            )
                        })
                    });
                PRIOR_AFTER.contains(&ws[p].as_str())
                    && !belongs_to_next
                    && !(i + used..p).any(|q| is_score_number(ws, q))
            });
            let prior = before
                .iter()
                .rev()
                .take(5)
                .any(|b| PRIOR_BEFORE.contains(&b.as_str()))
                || after_cue.is_some()
                || (numbers.iter().any(|(_, r)| *r == Role::Current)
                    && before
                        .iter()
                        .any(|b| matches!(b.as_str(), "was" | "down" | "up")));
            numbers.push((v, if prior { Role::Prior } else { Role::Current }));
            i += used;
            // The cue after this number is spent ("14 last week and 11 today": "last" is not 11's).
            last_number_end = after_cue.map_or(i, |p| (p + 2).min(end).max(i));
            continue;
        }
        i += 1;
    }
    (numbers, item9)
}

/// All scores of a dictation, first mention first: later mentions of the same instrument fill a
/// missing prior; a lone item-9 statement joins the PHQ-9.
pub fn collect<'a>(sentences: impl IntoIterator<Item = &'a str>) -> Vec<Score> {
    let mut scores: Vec<Score> = Vec::new();
    let mut lone_item9: Option<bool> = None;
    for text in sentences {
        for m in find(text) {
            let Some(name) = m.instrument else {
                lone_item9 = lone_item9.or(m.item9_positive);
                continue;
            };
            if let Some(existing) = scores.iter_mut().find(|s| s.instrument == name) {
                if existing.prior.is_none() && m.score == Some(existing.score) {
                    existing.prior = m.prior;
                }
                if existing.item9_positive.is_none() {
                    existing.item9_positive = m.item9_positive;
                }
                continue;
            }
            let Some(score) = m.score else {
                if name == "PHQ-9" && m.item9_positive.is_some() {
                    lone_item9 = lone_item9.or(m.item9_positive);
                }
                continue;
            };
            let ok = in_range(name, score);
            scores.push(Score {
                instrument: name.to_string(),
                score,
                prior: m.prior.filter(|p| in_range(name, *p)),
                severity: if ok {
                    severity(name, score).map(str::to_string)
                } else {
                    None
                },
                item9_positive: m.item9_positive,
                in_range: ok,
            });
        }
    }
    if let Some(item9) = lone_item9
        && let Some(phq) = scores.iter_mut().find(|s| s.instrument == "PHQ-9")
        && phq.item9_positive.is_none()
    {
        phq.item9_positive = Some(item9);
    }
    scores
}

/// PHQ-9 item 9 as dictated anywhere, with or without a total score.
pub fn item9_anywhere<'a>(sentences: impl IntoIterator<Item = &'a str>) -> Option<bool> {
    let mut found = None;
    for text in sentences {
        for m in find(text) {
            if matches!(m.instrument, None | Some("PHQ-9") | Some("PHQ-A"))
                && m.item9_positive.is_some()
            {
                // A positive answer anywhere outweighs a negative one.
                found = Some(found.unwrap_or(false) || m.item9_positive.unwrap_or(false));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Score {
        let s = collect([text]);
        assert_eq!(s.len(), 1, "{text}: {s:?}");
        s[0].clone()
    }

    #[test]
    fn bands_follow_the_standard_tables() {
        assert_eq!(severity("PHQ-9", 0), Some("minimal"));
        assert_eq!(severity("PHQ-9", 4), Some("minimal"));
        assert_eq!(severity("PHQ-9", 5), Some("mild"));
        assert_eq!(severity("PHQ-9", 14), Some("moderate"));
        assert_eq!(severity("PHQ-9", 15), Some("moderately severe"));
        assert_eq!(severity("PHQ-9", 19), Some("moderately severe"));
        assert_eq!(severity("PHQ-9", 20), Some("severe"));
        assert_eq!(severity("PHQ-9", 27), Some("severe"));
        assert_eq!(severity("PHQ-9", 28), None);
        assert_eq!(severity("GAD-7", 9), Some("mild"));
        assert_eq!(severity("GAD-7", 10), Some("moderate"));
        assert_eq!(severity("GAD-7", 15), Some("severe"));
        assert_eq!(severity("GAD-7", 21), Some("severe"));
        assert_eq!(severity("GAD-7", 22), None);
        assert_eq!(severity("AUDIT", 19), Some("harmful"));
        assert_eq!(severity("AUDIT", 7), Some("low risk"));
        assert_eq!(severity("PCL-5", 38), None);
        assert_eq!(severity("Y-BOCS", 31), Some("severe"));
        assert_eq!(severity("ISI", 19), Some("moderate"));
    }

    #[test]
    fn band_tables_cover_their_ranges_without_gaps() {
        for inst in INSTRUMENTS.iter().filter(|i| !i.bands.is_empty()) {
            assert_eq!(inst.bands[0].0, inst.min, "{}", inst.name);
            assert_eq!(
                inst.bands.last().map(|b| b.1),
                Some(inst.max),
                "{}",
                inst.name
            );
            for pair in inst.bands.windows(2) {
                assert_eq!(pair[0].1 + 1, pair[1].0, "{}", inst.name);
            }
        }
    }

    #[test]
    fn spoken_forms_of_instruments_and_numbers() {
        for (t, inst, score) in [
            ("PHQ nine was fourteen.", "PHQ-9", 14),
            ("PHQ-9 was 14.", "PHQ-9", 14),
            ("PHQ 9 of twenty-one today.", "PHQ-9", 21),
            ("GAD-7 of 9.", "GAD-7", 9),
            ("Gad seven was twelve.", "GAD-7", 12),
            ("P C L 5 was 38.", "PCL-5", 38),
            ("PCL five came in at forty.", "PCL-5", 40),
            ("She scored 12 on the GAD-7.", "GAD-7", 12),
            ("AUDIT today 19, was 26 at intake in January.", "AUDIT", 19),
            ("Y-BOCS 31.", "Y-BOCS", 31),
            ("ISI 19, was 20.", "ISI", 19),
            ("The PHQ was 11.", "PHQ-9", 11),
            ("PHQ-9: 14.", "PHQ-9", 14),
            ("Altman self-rating was 9, up from 3 last month.", "ASRM", 9),
            ("A PHQ9 of 14 today.", "PHQ-9", 14),
            ("She scored a 14 on the PHQ-9.", "PHQ-9", 14),
            ("Her PHQ-9 is a 14.", "PHQ-9", 14),
            ("PHQ-9 came back at 14.", "PHQ-9", 14),
        ] {
            let s = one(t);
            assert_eq!((s.instrument.as_str(), s.score), (inst, score), "{t}");
        }
    }

    #[test]
    fn prior_scores_in_their_usual_phrasings() {
        for (t, score, prior) in [
            ("PCL-5 came down to 38 from 51.", 38, 51),
            ("PHQ-9 down from 18 to 14.", 14, 18),
            (
                "PHQ-9 was 11 today, down from 16 four weeks ago, and item 9 was zero.",
                11,
                16,
            ),
            ("PHQ-9 was 22, up from 17 two weeks ago.", 22, 17),
            ("GAD-7 was 12 today, it was 16 at intake.", 12, 16),
            ("PHQ nine was six, previous eight.", 6, 8),
            ("PHQ-9 was 14, previously 12.", 14, 12),
            ("PHQ-9 was 14, last time it was 18.", 14, 18),
            ("PCL-5 today 44, it was 58 at the start of CPT.", 44, 58),
            ("ISI 19, was 20.", 19, 20),
            ("PHQ-9 went from 18 to 14.", 14, 18),
            ("Her PHQ-9 today was 4, at intake it was 17.", 4, 17),
            (
                "She scored 12 on the GAD-7, compared to 16 last month.",
                12,
                16,
            ),
            ("PHQ-9 was 14 last week and 11 today.", 11, 14),
            ("PHQ-9 was 9, down from 14 a month ago, item 9 zero.", 9, 14),
            ("PHQ-9 16 today, 19 two weeks ago, item 9 zero.", 16, 19),
        ] {
            let s = one(t);
            assert_eq!((s.score, s.prior), (score, Some(prior)), "{t}");
        }
        assert_eq!(one("PHQ-9 was 14.").prior, None);
    }

    #[test]
    fn item_nine_positive_and_negative() {
        for (t, positive) in [
            ("PHQ-9 was 14 and item nine was one.", true),
            (
                "PHQ-9 was 22, and item 9 was a 2, more than half the days.",
                true,
            ),
            ("PHQ-9 was 14, item 9 was zero.", false),
            ("PHQ-9 was 14, she denied item 9.", false),
            ("PHQ-9 was 14 and she endorsed item 9.", true),
            ("PHQ-9 was 29, up from 24 last month, item 9 zero.", false),
            ("PHQ-9 was 14, positive on item 9.", true),
        ] {
            let s = one(t);
            assert_eq!(s.score, 14.max(s.score).min(s.score), "{t}");
            assert_eq!(s.item9_positive, Some(positive), "{t}");
        }
        let s = collect(["PHQ-9 was 18.", "Item nine was one, she denies intent."]);
        assert_eq!(s[0].item9_positive, Some(true));
        assert_eq!(item9_anywhere(["Item 9 was zero."]), Some(false));
        assert_eq!(item9_anywhere(["She denies SI."]), None);
    }

    #[test]
    fn item_nine_after_another_instrument_is_the_phq9s() {
        let s = collect(["PHQ-9 was 17 and GAD-7 was 15, item 9 was zero."]);
        assert_eq!(s[0].item9_positive, Some(false));
        assert_eq!(s[1].item9_positive, None);
    }

    #[test]
    fn the_item_number_is_not_the_total() {
        let s = one("PHQ-9 item 9 was zero, total 12.");
        assert_eq!(s.score, 12);
        assert_eq!(s.item9_positive, Some(false));
    }

    #[test]
    fn out_of_range_scores_get_no_band() {
        let s = one("GAD-7 of 23.");
        assert!(!s.in_range);
        assert_eq!(s.severity, None);
        let s = one("PHQ-9 was 29, up from 24 last month.");
        assert!(!s.in_range);
        assert_eq!(s.prior, Some(24));
    }

    #[test]
    fn two_instruments_in_one_sentence() {
        let s = collect(["GAD-7 of 23 and PDSS of 12, down from 16."]);
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].instrument.as_str(), s[0].score, s[0].prior),
            ("GAD-7", 23, None)
        );
        assert_eq!(
            (s[1].instrument.as_str(), s[1].score, s[1].prior),
            ("PDSS", 12, Some(16))
        );
        let s = collect(["PHQ-9 and GAD-7 were 14 and 9."]);
        assert_eq!((s[0].score, s[1].score), (14, 9));
    }

    #[test]
    fn changes_and_mentions_without_a_score_are_not_scores() {
        assert!(collect(["GAD-7 down four points since intake."]).is_empty());
        assert!(collect(["With a 13 point drop on the PCL-5."]).is_empty());
        assert!(collect(["We'll repeat the PHQ-9 next session."]).is_empty());
        assert!(collect(["The quarterly audit was 3 days long."]).is_empty());
        assert!(collect(["Her last lithium level was 0.8."]).is_empty());
    }

    #[test]
    fn a_later_mention_fills_the_prior() {
        let s = collect([
            "PHQ-9 was 11 today.",
            "The PHQ-9 drop from 16 to 11 shows progress toward goal one.",
        ]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].prior, Some(16));
    }
}
