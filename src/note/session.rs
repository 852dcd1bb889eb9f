//! Session information (client, date, duration, modality, type, number) for the note header.
//!
//! A sentence that says only who, when, how long and how ("K.B., in person, fifty minutes.") goes to the
//! header; a sentence that also carries clinical content stays in its section, and its session facts are
//! still read when nothing better was said.
//!
//! Dates: `date` is ISO 8601 (YYYY-MM-DD) when a month and day were said (the year as said, otherwise
//! the year of the dictation, one year earlier if that would put the session more than a month after
//! the dictation); a date that cannot be read that way ("last Tuesday") is kept as said in `date_said`
//! only. "Today" is not a date: the clinician's EHR dates the note, and a day in UTC can differ from the
//! clinician's day.

use serde::{Deserialize, Serialize};

use super::words::{Tokens, number_at};

/// The header fields a clinician dictated.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionFields {
    /// Initials or first name, as said ("J.D.", "Priya").
    pub client: Option<String>,
    /// ISO date (YYYY-MM-DD).
    pub date: Option<String>,
    /// The date words as dictated ("March 4th, 2026").
    pub date_said: Option<String>,
    pub duration_minutes: Option<u32>,
    /// "in-person" or "telehealth".
    pub modality: Option<String>,
    /// "individual", "couples", "family" or "group".
    pub session_type: Option<String>,
    pub session_number: Option<u32>,
}

impl SessionFields {
    /// How many fields are filled.
    pub fn count(&self) -> usize {
        [
            self.client.is_some(),
            self.date.is_some() || self.date_said.is_some(),
            self.duration_minutes.is_some(),
            self.modality.is_some(),
            self.session_type.is_some(),
            self.session_number.is_some(),
        ]
        .iter()
        .filter(|f| **f)
        .count()
    }

    /// Fills the fields still empty from `other`.
    pub fn fill_from(&mut self, other: &SessionFields) {
        fn fill<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        fill(&mut self.client, &other.client);
        if self.date.is_none() && self.date_said.is_none() {
            self.date.clone_from(&other.date);
            self.date_said.clone_from(&other.date_said);
        }
        fill(&mut self.duration_minutes, &other.duration_minutes);
        fill(&mut self.modality, &other.modality);
        fill(&mut self.session_type, &other.session_type);
        fill(&mut self.session_number, &other.session_number);
    }
}

/// What one sentence says about the session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionReading {
    pub fields: SessionFields,
    /// Words that are neither session facts nor the small words around them: the sentence's content.
    pub content_words: usize,
}

impl SessionReading {
    /// True when the sentence only gives session information and belongs in the header.
    pub fn is_header_only(&self) -> bool {
        let found = self.fields.count();
        found > 0 && self.content_words <= found.saturating_sub(1).max(1)
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Small words and session vocabulary that do not make a sentence clinical content.
const HEADER_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "and",
    "or",
    "of",
    "in",
    "on",
    "at",
    "for",
    "with",
    "this",
    "that",
    "is",
    "was",
    "it",
    "so",
    "to",
    "by",
    "via",
    "as",
    "our",
    "my",
    "her",
    "his",
    "their",
    "be",
    "been",
    "today",
    "today's",
    "we",
    "i",
    "um",
    "uh",
    "okay",
    "ok",
    "session",
    "sessions",
    "visit",
    "appointment",
    "follow",
    "up",
    "followup",
    "note",
    "progress",
    "client",
    "patient",
    "ran",
    "long",
    "about",
    "approximately",
    "roughly",
    "around",
    "record",
    "number",
    "met",
    "saw",
    "seen",
    "conducted",
    "held",
    "office",
    "clinic",
    "home",
    "here",
    "therapy",
    "psychotherapy",
    "mom",
    "dad",
    "parents",
    "stepdad",
    "stepmom",
    "mother",
    "father",
    "wife",
    "husband",
    "partner",
    "years",
    "year",
    "old",
    "final",
    "last",
    "first",
    "new",
    "also",
    "just",
    "one",
    "date",
    "time",
    "duration",
    "modality",
    "type",
    "minutes",
    "minute",
    "call",
    "check",
    "in",
    "quick",
    "brief",
    "standard",
    "regular",
    "skills",
    "dbt",
    "cbt",
    "fbt",
    "act",
    "emdr",
    "done",
    "completed",
    "provided",
    "service",
    "services",
    "name",
    "initials",
    "dictating",
    "dictation",
    "part",
    "start",
    "end",
    "beginning",
];

/// Capitalised words in a header sentence that are not a client's name.
const NOT_NAMES: &[&str] = &[
    "session",
    "individual",
    "telehealth",
    "intake",
    "family",
    "group",
    "couples",
    "couple",
    "progress",
    "note",
    "client",
    "patient",
    "final",
    "follow",
    "followup",
    "home",
    "phone",
    "video",
    "zoom",
    "in",
    "this",
    "that",
    "so",
    "um",
    "uh",
    "okay",
    "ok",
    "for",
    "the",
    "our",
    "and",
    "today",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "i",
    "she",
    "he",
    "they",
    "we",
    "it",
    "her",
    "his",
    "dr",
    "mr",
    "mrs",
    "ms",
    "fbt",
    "dbt",
    "cbt",
    "act",
    "emdr",
    "virtual",
    "telephone",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "number",
    "visit",
    "appointment",
    "record",
    "skills",
    "also",
    "just",
    "then",
    "met",
    "saw",
    "was",
    "is",
    "with",
    "date",
    "a",
    "an",
    "office",
    "clinic",
    "doxy",
    "teams",
    "facetime",
    "telemedicine",
    "teletherapy",
    "subjective",
    "objective",
    "assessment",
    "plan",
    "data",
    "remote",
    "online",
    "new",
    "last",
    "yes",
    "no",
    "well",
    "alright",
    "all",
    "right",
    "oh",
    "now",
    "one",
    "two",
    "couples'",
    "brief",
    "quick",
    // Who was there: "five members present", "six participants".
    "members",
    "member",
    "participants",
    "present",
    "attended",
    // How clinicians open a dictation: "Okay so I saw Lily today", "we did Zoom".
    "okay",
    "ok",
    "um",
    "uh",
    "we",
    "did",
    "had",
    "saw",
    "met",
];

const TYPES: &[(&str, &str)] = &[
    ("individual", "individual"),
    ("couples", "couples"),
    ("couple's", "couples"),
    ("couple", "couples"),
    ("couples'", "couples"),
    ("conjoint", "couples"),
    ("marital", "couples"),
    ("family", "family"),
    ("group", "group"),
];

const SESSION_NOUNS: &[&str] = &[
    "session",
    "sessions",
    "visit",
    "appointment",
    "therapy",
    "psychotherapy",
    "meeting",
    "call",
    "follow",
    "followup",
    "check",
];

/// Words after a number that make it something other than a session number or bare duration.
const UNIT_WORDS: &[&str] = &[
    "minute", "minutes", "min", "mins", "hour", "hours", "hr", "hrs", "years", "year", "months",
    "month", "weeks", "week", "days", "day", "times", "percent", "out", "of", "am", "pm",
    "o'clock",
];

struct Scan<'a> {
    tokens: Tokens<'a>,
    covered: Vec<bool>,
    fields: SessionFields,
    /// The sentence also speaks about the future ("next session is session seven"): its facts are not
    /// about this session.
    future: bool,
}

impl Scan<'_> {
    fn w(&self, i: usize) -> &str {
        self.tokens.words.get(i).map(String::as_str).unwrap_or("")
    }

    fn cover(&mut self, from: usize, to: usize) {
        for c in
            &mut self.covered[from.min(self.tokens.words.len())..to.min(self.tokens.words.len())]
        {
            *c = true;
        }
    }

    fn near_session_noun(&self, i: usize, span: usize) -> bool {
        let lo = i.saturating_sub(span);
        let hi = (i + span + 1).min(self.tokens.words.len());
        (lo..hi).any(|j| SESSION_NOUNS.contains(&self.w(j)) || self.w(j) == "telehealth")
    }
}

/// Reads what a sentence says about the session. `today` is the date of the dictation (for the year of
/// a date said without one).
pub fn read(text: &str, today: jiff::civil::Date) -> SessionReading {
    let tokens = Tokens::new(text);
    let n = tokens.words.len();
    let future = tokens.words.iter().enumerate().any(|(i, w)| {
        matches!(
            w.as_str(),
            "next"
                | "will"
                | "upcoming"
                | "following"
                | "continue"
                | "continuing"
                | "keep"
                | "resume"
                | "schedule"
                | "every"
                | "weekly"
                | "biweekly"
                | "monthly"
        ) || w.ends_with("'ll")
            || (w == "going" && tokens.words.get(i + 1).is_some_and(|x| x == "to"))
    });
    let mut scan = Scan {
        tokens,
        covered: vec![false; n],
        fields: SessionFields::default(),
        future,
    };
    read_date(&mut scan, today);
    read_duration(&mut scan);
    read_modality(&mut scan);
    read_type(&mut scan);
    read_number(&mut scan);
    read_client(&mut scan);
    read_age(&mut scan);
    let header_like = scan.fields.count() > 0;
    if header_like {
        read_bare_duration(&mut scan);
    }
    let content_words = (0..n)
        .filter(|&i| !scan.covered[i] && !HEADER_WORDS.contains(&scan.w(i)))
        .filter(|&i| !(scan.w(i).len() == 1 && scan.w(i) != "i"))
        .count();
    if scan.future {
        // A sentence about next time ("Next session is session seven, by video") tells nothing about
        // this one.
        scan.fields = SessionFields::default();
    }
    SessionReading {
        fields: scan.fields,
        content_words,
    }
}

fn month_at(scan: &Scan<'_>, i: usize) -> Option<u8> {
    let w = scan.w(i);
    let full = MONTHS.iter().position(|m| *m == w);
    let short = MONTHS
        .iter()
        .position(|m| w.len() >= 3 && m.starts_with(w) && w != "mar" && w != "may");
    full.or(short).map(|p| p as u8 + 1)
}

fn resolve_date(year: Option<i16>, month: u8, day: u8, today: jiff::civil::Date) -> Option<String> {
    let year = match year {
        Some(y) => y,
        None => {
            let this_year = jiff::civil::Date::new(today.year(), month as i8, day as i8).ok()?;
            if this_year > today.saturating_add(jiff::Span::new().days(31)) {
                today.year() - 1
            } else {
                today.year()
            }
        }
    };
    let date = jiff::civil::Date::new(year, month as i8, day as i8).ok()?;
    Some(date.to_string())
}

fn year_at(scan: &Scan<'_>, i: usize) -> Option<i16> {
    let w = scan.w(i);
    (w.len() == 4 && w.chars().all(|c| c.is_ascii_digit()))
        .then(|| w.parse::<i16>().ok())
        .flatten()
        .filter(|y| (1990..=2200).contains(y))
}

fn read_date(scan: &mut Scan<'_>, today: jiff::civil::Date) {
    // Written dates: 2026-03-04, 3/4/2026, 3/4.
    for ci in 0..scan.tokens.chunks.len() {
        let chunk_raw: &str = scan.tokens.chunks[ci].raw;
        let raw = chunk_raw.trim_matches(|c: char| !c.is_ascii_digit());
        let parts: Vec<&str> = raw.split(['/', '-']).collect();
        let nums: Vec<u32> = parts.iter().filter_map(|p| p.parse().ok()).collect();
        if nums.len() != parts.len() || !(2..=3).contains(&nums.len()) {
            continue;
        }
        let (y, m, d) = if parts[0].len() == 4 && nums.len() == 3 {
            (Some(nums[0] as i16), nums[1], nums[2])
        } else if raw.contains('/') {
            let y = nums
                .get(2)
                .map(|y| if *y < 100 { 2000 + *y } else { *y } as i16);
            (y, nums[0], nums[1])
        } else {
            continue;
        };
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            continue;
        }
        if let Some(iso) = resolve_date(y, m as u8, d as u8, today) {
            if scan.fields.date.is_none() {
                scan.fields.date = Some(iso);
                scan.fields.date_said = Some(chunk_raw.trim_end_matches([',', '.']).to_string());
            }
            let words_here: Vec<usize> = (0..scan.tokens.words.len())
                .filter(|&w| scan.tokens.chunk_of[w] == ci)
                .collect();
            if let (Some(&a), Some(&b)) = (words_here.first(), words_here.last()) {
                scan.cover(a, b + 1);
            }
        }
    }
    // Spoken dates: "March 4th, 2026", "March fourth", "the fourth of March".
    let n = scan.tokens.words.len();
    for i in 0..n {
        let Some(month) = month_at(scan, i) else {
            continue;
        };
        // "may" is a month only before a day number.
        let (day, day_start, day_len) =
            if let Some((d, used, _)) = number_at(&scan.tokens.words, i + 1) {
                (d, i + 1, used)
            } else if i >= 2
                && scan.w(i - 1) == "of"
                && let Some((d, 1, true)) = number_at(&scan.tokens.words, i - 2)
            {
                (d, i - 2, 1)
            } else if i >= 3
                && scan.w(i - 1) == "of"
                && let Some((d, 2, true)) = number_at(&scan.tokens.words, i - 3)
            {
                (d, i - 3, 2)
            } else {
                continue;
            };
        if !(1..=31).contains(&day) {
            continue;
        }
        let (from, mut to) = if day_start > i {
            (i, day_start + day_len)
        } else {
            (
                day_start.saturating_sub(usize::from(scan.w(day_start.wrapping_sub(1)) == "the")),
                i + 1,
            )
        };
        let year = year_at(scan, to);
        if year.is_some() {
            to += 1;
        }
        if scan.fields.date.is_none()
            && let Some(iso) = resolve_date(year, month, day as u8, today)
        {
            scan.fields.date = Some(iso);
            let first_chunk = scan.tokens.chunk_of[from];
            let last_chunk = scan.tokens.chunk_of[to - 1];
            let said: Vec<&str> = scan.tokens.chunks[first_chunk..=last_chunk]
                .iter()
                .map(|c| c.raw)
                .collect();
            scan.fields.date_said = Some(said.join(" ").trim_end_matches([',', '.']).to_string());
        }
        scan.cover(from, to);
    }
}

fn read_duration(scan: &mut Scan<'_>) {
    let n = scan.tokens.words.len();
    let mut i = 0;
    while i < n {
        let w = scan.w(i).to_string();
        let mut found: Option<(u32, usize, usize)> = None;
        if let Some((v, used, false)) = number_at(&scan.tokens.words, i) {
            let unit = scan.w(i + used);
            if matches!(unit, "minute" | "minutes" | "min" | "mins") {
                found = Some((v, i, i + used + 1));
            } else if matches!(unit, "hour" | "hours" | "hr" | "hrs") {
                let mut minutes = v * 60;
                let mut end = i + used + 1;
                if scan.w(end) == "and" && scan.w(end + 1) == "a" && scan.w(end + 2) == "half" {
                    minutes += 30;
                    end += 3;
                }
                found = Some((minutes, i, end));
            }
        } else if (w == "an" || w == "a") && scan.w(i + 1) == "hour" {
            let mut minutes = 60;
            let mut end = i + 2;
            if scan.w(end) == "and" && scan.w(end + 1) == "a" && scan.w(end + 2) == "half" {
                minutes = 90;
                end += 3;
            }
            found = Some((minutes, i, end));
        } else if w == "half" && scan.w(i + 1) == "an" && scan.w(i + 2) == "hour" {
            found = Some((30, i, i + 3));
        } else if w == "hour" && scan.w(i + 1) == "long" {
            found = Some((60, i, i + 2));
        }
        if let Some((minutes, from, to)) = found {
            if (5..=300).contains(&minutes)
                && (scan.near_session_noun(from, 4) || header_context(scan))
            {
                if scan.fields.duration_minutes.is_none() {
                    scan.fields.duration_minutes = Some(minutes);
                }
                scan.cover(from, to);
            }
            i = to;
        } else {
            i += 1;
        }
    }
}

/// A sentence with other session facts already found, where a duration needs no session noun nearby.
fn header_context(scan: &Scan<'_>) -> bool {
    scan.fields.date.is_some()
        || scan
            .tokens
            .words
            .iter()
            .any(|w| matches!(w.as_str(), "telehealth" | "individual") || w == "person")
}

fn read_modality(scan: &mut Scan<'_>) {
    let n = scan.tokens.words.len();
    for i in 0..n {
        let w = scan.w(i).to_string();
        let next = scan.w(i + 1).to_string();
        let prev = if i > 0 {
            scan.w(i - 1).to_string()
        } else {
            String::new()
        };
        let session_after = SESSION_NOUNS.contains(&next.as_str());
        let via_before = matches!(prev.as_str(), "on" | "by" | "via" | "over" | "through");
        let (modality, from, to) = match w.as_str() {
            "telehealth" | "telemedicine" | "teletherapy" | "telepsychology" | "virtually" => {
                ("telehealth", i, i + 1)
            }
            "tele" if matches!(next.as_str(), "health" | "therapy" | "medicine") => {
                ("telehealth", i, i + 2)
            }
            "video" | "zoom" | "virtual" | "facetime" | "doxy" | "remote" | "online"
                if (session_after || via_before) && !matches!(next.as_str(), "game" | "games") =>
            {
                (
                    "telehealth",
                    i.saturating_sub(usize::from(via_before)),
                    i + 1 + usize::from(session_after),
                )
            }
            "phone" | "telephone"
                if session_after
                    || via_before
                    || prev == "the" && i >= 2 && scan.w(i - 2) == "over" =>
            {
                (
                    "telehealth",
                    i.saturating_sub(usize::from(via_before)),
                    i + 1 + usize::from(session_after),
                )
            }
            "person" if prev == "in" => ("in-person", i - 1, i + 1),
            "face" if next == "to" && scan.w(i + 2) == "face" => ("in-person", i, i + 3),
            "office" | "clinic"
                if matches!(prev.as_str(), "the" | "in" | "at") && scan.near_session_noun(i, 6)
                    || (matches!(prev.as_str(), "the" | "my" | "our")
                        && i >= 2
                        && matches!(scan.w(i - 2), "in" | "at")) =>
            {
                ("in-person", i.saturating_sub(2), i + 1)
            }
            "home" | "office" if next == "visit" => ("in-person", i, i + 2),
            // School counsellors: "in the counseling office", "in my counseling room".
            "office" | "room"
                if matches!(prev.as_str(), "counseling" | "counselling" | "therapy")
                    && i >= 3
                    && matches!(scan.w(i - 2), "the" | "my" | "our")
                    && matches!(scan.w(i - 3), "in" | "at") =>
            {
                ("in-person", i - 3, i + 1)
            }
            _ => continue,
        };
        if scan.fields.modality.is_none() {
            scan.fields.modality = Some(modality.to_string());
        }
        scan.cover(from, to);
    }
}

fn read_type(scan: &mut Scan<'_>) {
    let n = scan.tokens.words.len();
    for i in 0..n {
        let w = scan.w(i).to_string();
        let Some((_, kind)) = TYPES.iter().find(|(word, _)| *word == w) else {
            continue;
        };
        // "her family", "the group she joined": a type word names the session only next to a session noun,
        // or in a sentence that is about the session at all.
        let next_is_noun = (1..=3).any(|k| SESSION_NOUNS.contains(&scan.w(i + k)));
        let prev = if i > 0 { scan.w(i - 1) } else { "" };
        let owned = matches!(prev, "her" | "his" | "their" | "my" | "our" | "whole");
        if owned || !(next_is_noun || header_context_loose(scan)) {
            continue;
        }
        if scan.fields.session_type.is_none() {
            scan.fields.session_type = Some((*kind).to_string());
        }
        scan.cover(i, i + 1);
    }
}

/// A sentence that already holds a session fact or a session noun.
fn header_context_loose(scan: &Scan<'_>) -> bool {
    scan.fields.count() > 0
        || scan
            .tokens
            .words
            .iter()
            .any(|w| SESSION_NOUNS.contains(&w.as_str()))
}

fn read_number(scan: &mut Scan<'_>) {
    let n = scan.tokens.words.len();
    for i in 0..n {
        let w = scan.w(i).to_string();
        let prev = if i > 0 { scan.w(i - 1) } else { "" };
        if matches!(
            prev,
            "next" | "last" | "previous" | "following" | "every" | "per"
        ) {
            continue;
        }
        if matches!(w.as_str(), "session" | "visit" | "number") {
            let mut at = i + 1;
            if scan.w(at) == "number" {
                at += 1;
            }
            if let Some((v, used, false)) = number_at(&scan.tokens.words, at)
                && !UNIT_WORDS.contains(&scan.w(at + used))
                && (1..=500).contains(&v)
                && (w != "number" || header_context_loose(scan))
            {
                if scan.fields.session_number.is_none() {
                    scan.fields.session_number = Some(v);
                }
                scan.cover(i, at + used);
            }
            continue;
        }
        if let Some((v, used, true)) = number_at(&scan.tokens.words, i) {
            // "seventh individual session", "our second session", "second one".
            let after = i + used;
            let noun_at = (after..(after + 3).min(n))
                .find(|&j| matches!(scan.w(j), "session" | "visit" | "appointment" | "meeting"));
            let qualifiers_ok = noun_at.is_some_and(|j| {
                (after..j).all(|k| {
                    TYPES.iter().any(|(t, _)| *t == scan.w(k))
                        || matches!(
                            scan.w(k),
                            "telehealth" | "therapy" | "video" | "phone" | "in" | "person"
                        )
                })
            });
            let second_one = scan.w(after) == "one" && header_context_loose(scan);
            if qualifiers_ok || second_one {
                if scan.fields.session_number.is_none() && (1..=500).contains(&v) {
                    scan.fields.session_number = Some(v);
                }
                scan.cover(i, after + usize::from(second_one));
            }
        }
    }
}

fn is_initials(raw: &str) -> bool {
    let core = raw
        .trim_end_matches([',', ';', ':', '.', '\'', 's'])
        .to_string()
        + ".";
    let parts: Vec<&str> = core.split('.').filter(|p| !p.is_empty()).collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| p.chars().count() == 1 && p.chars().all(|c| c.is_ascii_uppercase()))
        && raw.contains('.')
}

fn read_client(scan: &mut Scan<'_>) {
    let chunks = &scan.tokens.chunks;
    let mut found: Option<(String, Vec<usize>)> = None;
    for (ci, chunk) in chunks.iter().enumerate() {
        // Initials "J.D." or "J. D.".
        if is_initials(chunk.raw) {
            found = Some((
                chunk.raw.trim_end_matches([',', ';', ':']).to_string(),
                vec![ci],
            ));
            break;
        }
        let single = |raw: &str| {
            let t = raw.trim_end_matches([',', ';', ':']);
            t.len() == 2
                && t.ends_with('.')
                && t.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        };
        if single(chunk.raw)
            && chunks.get(ci + 1).is_some_and(|n| single(n.raw))
            && !chunk.raw.ends_with(',')
        {
            let name = format!(
                "{}{}",
                chunk.raw,
                chunks[ci + 1].raw.trim_end_matches([',', ';', ':'])
            );
            found = Some((name, vec![ci, ci + 1]));
            break;
        }
    }
    if found.is_none() && scan.fields.count() > 0 {
        for (ci, chunk) in chunks.iter().enumerate() {
            let word = chunk.raw.trim_end_matches([',', ';', ':', '.']);
            let word = word.strip_suffix("'s").unwrap_or(word);
            let mut letters = word.chars();
            let capital = letters.next().is_some_and(|c| c.is_uppercase());
            let rest_lower = word.len() >= 2 && letters.all(|c| c.is_lowercase());
            if !capital || !rest_lower || NOT_NAMES.contains(&word.to_lowercase().as_str()) {
                continue;
            }
            if MONTHS.contains(&word.to_lowercase().as_str()) {
                continue;
            }
            let prev = ci
                .checked_sub(1)
                .map(|p| chunks[p].core.as_str())
                .unwrap_or("");
            let first_content = chunks[..ci].iter().all(|c| {
                matches!(
                    c.core.as_str(),
                    "um" | "uh" | "okay" | "ok" | "so" | "alright" | "and" | "well"
                )
            });
            let introduced = matches!(
                prev,
                "with" | "for" | "client" | "patient" | "is" | "saw" | "seeing"
            );
            if introduced || (first_content && chunk.raw.ends_with(',')) {
                found = Some((word.to_string(), vec![ci]));
                break;
            }
        }
    }
    if let Some((name, chunk_ids)) = found {
        if scan.fields.client.is_none() {
            scan.fields.client = Some(name);
        }
        let words: Vec<usize> = (0..scan.tokens.words.len())
            .filter(|&w| chunk_ids.contains(&scan.tokens.chunk_of[w]))
            .collect();
        for w in words {
            scan.covered[w] = true;
        }
    }
}

/// "he's eight", "six years old", "age 15": a client's age said in a header is not content.
fn read_age(scan: &mut Scan<'_>) {
    let n = scan.tokens.words.len();
    let mut i = 0;
    while i < n {
        let prev = if i > 0 {
            scan.w(i - 1).to_string()
        } else {
            String::new()
        };
        if let Some((_, used, _)) = number_at(&scan.tokens.words, i)
            .filter(|&(_, used, _)| matches!(scan.w(i + used), "grade" | "grader"))
        {
            // "fourth grade", "10th grade": a school client's year, not content.
            scan.cover(i, i + used + 1);
            i += used + 1;
            continue;
        }
        if let Some((_, used, false)) = number_at(&scan.tokens.words, i) {
            let years_after = matches!(scan.w(i + used), "years" | "year" | "yo")
                && matches!(scan.w(i + used + 1), "old" | "");
            let age_before = matches!(prev.as_str(), "he's" | "she's" | "they're" | "age" | "aged");

            if years_after {
                let end = i + used + 1 + usize::from(scan.w(i + used + 1) == "old");
                scan.cover(i, end);
                i = end;
                continue;
            }
            if age_before && !scan.covered[i] {
                scan.cover(i.saturating_sub(1), i + used);
            }
            i += used;
        } else {
            i += 1;
        }
    }
}

/// "B.K., in person, fifty.": a lone number in a header sentence is the length in minutes.
fn read_bare_duration(scan: &mut Scan<'_>) {
    if scan.fields.duration_minutes.is_some() {
        return;
    }
    let n = scan.tokens.words.len();
    let mut i = 0;
    while i < n {
        if let Some((v, used, false)) = number_at(&scan.tokens.words, i) {
            let free = (i..i + used).all(|j| !scan.covered[j]);
            let unit_after = UNIT_WORDS.contains(&scan.w(i + used));
            if free && !unit_after && (20..=180).contains(&v) && v % 5 == 0 {
                scan.fields.duration_minutes = Some(v);
                scan.cover(i, i + used);
                return;
            }
            i += used;
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> jiff::civil::Date {
        jiff::civil::date(2026, 3, 20)
    }

    fn r(text: &str) -> SessionReading {
        read(text, today())
    }

    #[test]
    fn a_full_header_sentence() {
        let s = r("This was session six with J.D., a fifty minute telehealth visit.");
        assert!(s.is_header_only(), "{s:?}");
        assert_eq!(s.fields.client.as_deref(), Some("J.D."));
        assert_eq!(s.fields.session_number, Some(6));
        assert_eq!(s.fields.duration_minutes, Some(50));
        assert_eq!(s.fields.modality.as_deref(), Some("telehealth"));
    }

    #[test]
    fn dates_are_iso_with_the_words_kept() {
        let s = r("Progress note for D.M., March 4th, 2026.");
        assert!(s.is_header_only());
        assert_eq!(s.fields.date.as_deref(), Some("2026-03-04"));
        assert_eq!(s.fields.date_said.as_deref(), Some("March 4th, 2026"));
        assert_eq!(s.fields.client.as_deref(), Some("D.M."));
        let s = r("Session on March fourth.");
        assert_eq!(s.fields.date.as_deref(), Some("2026-03-04"));
        let s = r("Seen on the fourth of March, in person.");
        assert_eq!(s.fields.date.as_deref(), Some("2026-03-04"));
        // Without a year, a date well after the dictation is last year's.
        let s = r("Session date December 30th.");
        assert_eq!(s.fields.date.as_deref(), Some("2025-12-30"));
        let s = r("Session 3/4/2026, in person.");
        assert_eq!(s.fields.date.as_deref(), Some("2026-03-04"));
        let s = r("Session 2026-03-04.");
        assert_eq!(s.fields.date.as_deref(), Some("2026-03-04"));
        assert_eq!(r("Telehealth with Omar today.").fields.date, None);
    }

    #[test]
    fn durations_in_words_and_digits() {
        for (t, m) in [
            (
                "Individual session, in person, 53 minutes, session number eight.",
                53,
            ),
            ("K.B., uh, in person, fifty minutes.", 50),
            (
                "50-minute individual telehealth session, number fourteen.",
                50,
            ),
            (
                "This is J.L., in person, this ran long, about 75 minutes.",
                75,
            ),
            ("The session lasted an hour.", 60),
            ("Intake, an hour and a half, in person.", 90),
            ("Forty-five minute session by video.", 45),
            ("B.K., in person, fifty.", 50),
        ] {
            assert_eq!(r(t).fields.duration_minutes, Some(m), "{t}");
        }
        assert_eq!(
            r("She lies awake for thirty minutes most nights.")
                .fields
                .duration_minutes,
            None
        );
    }

    #[test]
    fn modality_from_common_phrases() {
        for (t, m) in [
            ("Third couples session, on Zoom.", "telehealth"),
            ("L.F., February 5th, 2026, video visit.", "telehealth"),
            ("Uh, okay, Rob, phone session.", "telehealth"),
            (
                "So this is A.B., February 19th, 2026, by video.",
                "telehealth",
            ),
            ("Follow-up for D.A., in person at the office.", "in-person"),
            (
                "M.K., session eleven, 60 minutes, in the office.",
                "in-person",
            ),
            ("E.H., January 29th, 2026, home visit.", "in-person"),
        ] {
            assert_eq!(r(t).fields.modality.as_deref(), Some(m), "{t}");
        }
        assert_eq!(
            r("She talked to her sister on the phone.").fields.modality,
            None
        );
        assert_eq!(
            r("They talked about their favorite video game.")
                .fields
                .modality,
            None
        );
    }

    #[test]
    fn session_type_and_number() {
        let s = r("Family session, second one, with Maya and her mom and stepdad, 60 minutes.");
        assert!(s.is_header_only(), "{s:?}");
        assert_eq!(s.fields.session_type.as_deref(), Some("family"));
        assert_eq!(s.fields.session_number, Some(2));
        assert_eq!(s.fields.client.as_deref(), Some("Maya"));
        let s = r("Seventh individual session with Leo, six years old, in person.");
        assert!(s.is_header_only(), "{s:?}");
        assert_eq!(s.fields.session_number, Some(7));
        assert_eq!(s.fields.session_type.as_deref(), Some("individual"));
        assert_eq!(s.fields.client.as_deref(), Some("Leo"));
        let s =
            r("DBT skills group, March 10th, 2026, 90 minutes, in person, this note is for S.P.");
        assert!(s.is_header_only(), "{s:?}");
        assert_eq!(s.fields.session_type.as_deref(), Some("group"));
        assert_eq!(s.fields.client.as_deref(), Some("S.P."));
        assert_eq!(
            r("Third couples session, on Zoom.").fields.session_number,
            Some(3)
        );
        assert_eq!(
            r("F.L., session forty-one, in person.")
                .fields
                .session_number,
            Some(41)
        );
        assert_eq!(
            r("She talked about her family and the group at church.")
                .fields
                .session_type,
            None
        );
    }

    #[test]
    fn an_age_in_a_header_is_not_content() {
        let s = r("Fifth session with Eli, he's eight, in person with mom for the first part.");
        assert!(s.is_header_only(), "{s:?}");
        assert_eq!(s.fields.session_number, Some(5));
        assert_eq!(s.fields.client.as_deref(), Some("Eli"));
    }

    #[test]
    fn names_only_where_a_header_introduces_them() {
        assert_eq!(
            r("Tom, March 5th, 2026, in person at the clinic.")
                .fields
                .client
                .as_deref(),
            Some("Tom")
        );
        assert_eq!(
            r("Individual session with Ruth.").fields.client.as_deref(),
            Some("Ruth")
        );
        let s = r("Marcus said the stuck point came up again at the recital.");
        assert_eq!(s.fields.client, None);
        assert!(!s.is_header_only());
    }

    #[test]
    fn content_sentences_are_not_header_only() {
        let s = r(
            "Saw J.D. today for a 50-minute individual session; she reports a rough week at work.",
        );
        assert!(!s.is_header_only(), "{s:?}");
        assert_eq!(s.fields.duration_minutes, Some(50));
        let s = r("Next session in one week, same time.");
        assert!(!s.is_header_only());
        assert_eq!(s.fields.session_number, None);
        for t in [
            "Continue biweekly sessions by video.",
            "Continue weekly family sessions.",
        ] {
            assert!(!r(t).is_header_only(), "{t}");
        }
        let s = r("Next session is session seven, and we'll move into the safety module.");
        assert_eq!(s.fields.session_number, None);
        assert!(!s.is_header_only());
    }
}
