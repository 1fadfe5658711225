//! The phrase lists the communication standard reads actions with: what means "no action needed", what only
//! forwards a message ("please handle", "FYI"), and the filler words around them — and the normalisation
//! both are compared after (lowercase, every character that is not a letter or digit a separator).

/// Action texts that mean "no action needed" (compared after [`normalize`]: lowercase, punctuation as
/// spaces, so "N/A" is "n a").
pub const NO_ACTION_PHRASES: &[&str] = &[
    "none",
    "none needed",
    "none required",
    "no action",
    "no action needed",
    "no action required",
    "no action necessary",
    "no action is needed",
    "no action is required",
    "no further action",
    "no further action needed",
    "no further action required",
    "nothing",
    "nothing to do",
    "nothing needed",
    "nothing required",
    "n a",
    "na",
    "not applicable",
    "informational",
    "informational only",
    "information only",
    "for information only",
];

/// Phrases that forward a message instead of saying what to do. An action made only of these (and
/// [`FILLER_WORDS`]) is vague.
pub const VAGUE_PHRASES: &[&str] = &[
    "make this happen",
    "make it happen",
    "handle",
    "handle this",
    "handle it",
    "take care of this",
    "take care of it",
    "deal with this",
    "deal with it",
    "sort this out",
    "sort it out",
    "get this done",
    "get it done",
    "fix",
    "fix this",
    "fix it",
    "look into this",
    "look into it",
    "look at this",
    "look at it",
    "check",
    "check this",
    "check it",
    "investigate",
    "investigate this",
    "follow up",
    "follow up on this",
    "escalate",
    "fyi",
    "for your information",
    "see above",
    "see below",
    "see description",
    "see summary",
    "see ticket",
    "see thread",
    "see chat",
    "see email",
    "see mail",
    "see link",
    "see attached",
    "see attachment",
    "as discussed",
    "as agreed",
    "as mentioned",
    "as per discussion",
    "per discussion",
    "as per email",
    "do the needful",
    "action required",
    "action needed",
    "needs action",
    "tbd",
    "tba",
    "todo",
    "to do",
    "advise",
    "over to you",
    "your call",
    "thoughts",
    "let me know",
    "lmk",
    "help",
];

/// Words that may surround a vague phrase without making it concrete ("please handle ASAP, thanks").
pub const FILLER_WORDS: &[&str] = &[
    "please",
    "pls",
    "plz",
    "kindly",
    "can",
    "could",
    "would",
    "you",
    "someone",
    "somebody",
    "anyone",
    "thanks",
    "thank",
    "thx",
    "ty",
    "asap",
    "urgent",
    "urgently",
    "now",
    "immediately",
    "hi",
    "hello",
    "team",
    "all",
    "guys",
    "folks",
];

/// The words of `text`: lowercase, every character that is not a letter or digit a separator.
pub fn normalize(text: &str) -> Vec<String> {
    text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// Whether an action text says explicitly that no action is needed ([`NO_ACTION_PHRASES`]).
pub fn is_no_action(text: &str) -> bool {
    let words = normalize(text).join(" ");
    NO_ACTION_PHRASES.contains(&words.as_str())
}

/// Whether `text` is made only of `phrases` and [`FILLER_WORDS`] (after [`normalize`]).
pub fn only_phrases(text: &str, phrases: &[String]) -> bool {
    let words = normalize(text);
    let phrases: Vec<Vec<String>> = phrases
        .iter()
        .map(|p| normalize(p))
        .chain(FILLER_WORDS.iter().map(|w| vec![(*w).to_string()]))
        .filter(|p| !p.is_empty())
        .collect();
    // covered[i]: the first i words are a sequence of phrases.
    let mut covered = vec![false; words.len() + 1];
    covered[0] = true;
    for i in 0..words.len() {
        if !covered[i] {
            continue;
        }
        for p in &phrases {
            if words[i..].starts_with(p) {
                covered[i + p.len()] = true;
            }
        }
    }
    covered[words.len()]
}
