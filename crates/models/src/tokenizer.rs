//! `CharTokenizer`: the character-level vocabulary of the text tasks (envs/text-tasks.md §2):
//! `<pad> <bos> <eos>` (ids 0, 1, 2), then `0-9 a-z A-Z + - * / % = ( ) < > [ ] , . : ? space \n`.
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::ModelError;

pub const PAD: &str = "<pad>";
pub const BOS: &str = "<bos>";
pub const EOS: &str = "<eos>";
const SPECIALS: [&str; 3] = [PAD, BOS, EOS];
const PUNCTUATION: &str = "+-*/%=()<>[],.:? \n";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharTokenizer {
    /// Characters in id order, after the three specials (`chars[i]` has id `i + 3`).
    chars: Vec<char>,
    /// ASCII fast path: `ascii[c]` is the id of char `c`, or -1.
    ascii: [i64; 128],
}

/// The on-disk form, `char_vocab.json`: `{"kind": "char", "tokens": ["<pad>", "<bos>", "<eos>", "0", ...]}`.
#[derive(Serialize, Deserialize)]
struct VocabFile {
    kind: String,
    tokens: Vec<String>,
}

impl Default for CharTokenizer {
    fn default() -> Self {
        Self::new()
    }
}

impl CharTokenizer {
    /// The text tasks' vocabulary (83 tokens).
    pub fn new() -> Self {
        let chars = ('0'..='9')
            .chain('a'..='z')
            .chain('A'..='Z')
            .chain(PUNCTUATION.chars())
            .collect();
        Self::from_chars(chars).expect("the built-in vocabulary has unique non-special characters")
    }

    /// The text tasks' vocabulary followed by `extra` (characters it lacks, in order), so that
    /// every id of the text tasks' vocabulary keeps its meaning.
    pub fn with_extra(extra: &str) -> Result<Self, ModelError> {
        let mut chars = Self::new().chars;
        chars.extend(extra.chars());
        Self::from_chars(chars)
    }

    /// A vocabulary of the three specials followed by `chars` (unique).
    pub fn from_chars(chars: Vec<char>) -> Result<Self, ModelError> {
        let mut ascii = [-1i64; 128];
        for (i, &c) in chars.iter().enumerate() {
            if chars[..i].contains(&c) {
                return Err(ModelError::InvalidVocab(format!(
                    "character {c:?} appears twice"
                )));
            }
            if (c as u32) < 128 {
                ascii[c as usize] = (i + SPECIALS.len()) as i64;
            }
        }
        Ok(CharTokenizer { chars, ascii })
    }

    pub fn vocab_size(&self) -> usize {
        SPECIALS.len() + self.chars.len()
    }

    pub fn pad_id(&self) -> i64 {
        0
    }

    pub fn bos_id(&self) -> i64 {
        1
    }

    pub fn eos_id(&self) -> i64 {
        2
    }

    pub fn is_special(&self, id: i64) -> bool {
        (0..SPECIALS.len() as i64).contains(&id)
    }

    /// Ids of the characters of `text` (no `<bos>`/`<eos>` added). An unknown character is an
    /// error naming it and its position (in characters).
    pub fn encode(&self, text: &str) -> Result<Vec<i64>, ModelError> {
        text.chars()
            .enumerate()
            .map(|(position, ch)| {
                self.char_id(ch)
                    .ok_or(ModelError::UnknownChar { ch, position })
            })
            .collect()
    }

    pub fn char_id(&self, ch: char) -> Option<i64> {
        match (ch as u32) < 128 {
            true => Some(self.ascii[ch as usize]).filter(|&id| id >= 0),
            false => self
                .chars
                .iter()
                .position(|&c| c == ch)
                .map(|i| (i + SPECIALS.len()) as i64),
        }
    }

    /// Text of `ids`. Special tokens (`<pad>`, `<bos>`, `<eos>`) decode to nothing; an id
    /// outside the vocabulary decodes to U+FFFD.
    pub fn decode(&self, ids: &[i64]) -> String {
        ids.iter()
            .filter(|&&id| !self.is_special(id))
            .map(|&id| {
                usize::try_from(id - SPECIALS.len() as i64)
                    .ok()
                    .and_then(|i| self.chars.get(i))
                    .copied()
                    .unwrap_or('\u{FFFD}')
            })
            .collect()
    }

    /// The token's text: the character, or `<pad>`/`<bos>`/`<eos>`; `None` outside the vocabulary.
    pub fn token(&self, id: i64) -> Option<String> {
        let i = usize::try_from(id).ok()?;
        match SPECIALS.get(i) {
            Some(s) => Some(s.to_string()),
            None => self.chars.get(i - SPECIALS.len()).map(char::to_string),
        }
    }

    /// Writes `char_vocab.json` (every token in id order).
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let tokens = (0..self.vocab_size() as i64)
            .filter_map(|id| self.token(id))
            .collect();
        let file = VocabFile {
            kind: "char".into(),
            tokens,
        };
        let text = serde_json::to_string_pretty(&file).map_err(|source| ModelError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        crate::checkpoint::write_atomic(path, text.as_bytes())
    }

    /// Reads a file written by [`CharTokenizer::save`]; the specials must come first, in order.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        let file: VocabFile = serde_json::from_str(&text).map_err(|source| ModelError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        if file.kind != "char" {
            return Err(ModelError::InvalidVocab(format!(
                "{}: kind {:?}, expected \"char\"",
                path.display(),
                file.kind
            )));
        }
        if file.tokens.len() < SPECIALS.len() || file.tokens[..SPECIALS.len()] != SPECIALS {
            return Err(ModelError::InvalidVocab(format!(
                "{}: the first tokens must be {SPECIALS:?}",
                path.display()
            )));
        }
        let chars = file.tokens[SPECIALS.len()..]
            .iter()
            .map(|t| {
                let mut it = t.chars();
                match (it.next(), it.next()) {
                    (Some(c), None) => Ok(c),
                    _ => Err(ModelError::InvalidVocab(format!(
                        "{}: token {t:?} is not one character",
                        path.display()
                    ))),
                }
            })
            .collect::<Result<Vec<char>, _>>()?;
        Self::from_chars(chars)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_is_the_text_task_charset_after_the_specials() {
        let tok = CharTokenizer::new();
        assert_eq!(tok.vocab_size(), 83);
        assert_eq!((tok.pad_id(), tok.bos_id(), tok.eos_id()), (0, 1, 2));
        assert_eq!(tok.token(0).as_deref(), Some("<pad>"));
        assert_eq!(tok.token(2).as_deref(), Some("<eos>"));
        assert_eq!(tok.encode("0").unwrap(), vec![3]);
        assert_eq!(tok.encode("\n").unwrap(), vec![82]);
        assert_eq!(tok.token(83), None);
    }

    #[test]
    fn encode_decode_round_trips() {
        let tok = CharTokenizer::new();
        let text = "Q: 12+(3*4)%5 = ?\n[a, Z] <x> 7/8 - 9.\n#";
        let text = &text[..text.len() - 1];
        let ids = tok.encode(text).unwrap();
        assert_eq!(ids.len(), text.chars().count());
        assert_eq!(tok.decode(&ids), text);
    }

    #[test]
    fn unknown_character_is_named_with_its_position() {
        let tok = CharTokenizer::new();
        let err = tok.encode("ab#c").unwrap_err();
        assert!(
            matches!(
                err,
                ModelError::UnknownChar {
                    ch: '#',
                    position: 2
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("'#'") && err.to_string().contains('2'),
            "{err}"
        );
        let err = tok.encode("1é").unwrap_err();
        assert!(
            matches!(
                err,
                ModelError::UnknownChar {
                    ch: 'é',
                    position: 1
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn decode_skips_specials_and_marks_unknown_ids() {
        let tok = CharTokenizer::new();
        let mut ids = vec![tok.bos_id()];
        ids.extend(tok.encode("42").unwrap());
        ids.extend([tok.eos_id(), tok.pad_id(), 999, -1]);
        assert_eq!(tok.decode(&ids), "42\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = std::env::temp_dir().join(format!("polopt-tokenizer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("char_vocab.json");
        let tok = CharTokenizer::new();
        tok.save(&path).unwrap();
        assert_eq!(CharTokenizer::load(&path).unwrap(), tok);
        std::fs::write(
            &path,
            r#"{"kind": "char", "tokens": ["<bos>", "<pad>", "<eos>", "a"]}"#,
        )
        .unwrap();
        assert!(matches!(
            CharTokenizer::load(&path),
            Err(ModelError::InvalidVocab(_))
        ));
        std::fs::write(
            &path,
            r#"{"kind": "char", "tokens": ["<pad>", "<bos>", "<eos>", "a", "a"]}"#,
        )
        .unwrap();
        assert!(matches!(
            CharTokenizer::load(&path),
            Err(ModelError::InvalidVocab(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
