//! Turns the commonest shape of string pattern, one character class over the whole value
//! (`^[A-Za-z0-9_-]+$`), into a plain character test, so checking it costs a loop over the
//! characters instead of a regex search.
//!
//! Every string a server sends back passes its type's checks again (a stored value that breaks
//! the contract is a server fault), so a leaderboard page of 100 entries checks 100 usernames.
//! With regex-lite's backtracking-free but general matcher that was the largest single cost of
//! the read (`cargo xtask bench`, profiled with `perf`); a character test is exact and about as
//! fast as the length check beside it. Any other pattern still compiles to a regex-lite `Regex`.

use proc_macro2::TokenStream;
use quote::quote;

/// A pattern that accepts exactly the strings whose every character is in `ranges`, and that
/// are not empty unless `allows_empty`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharacterClassPattern {
    /// Inclusive ranges of allowed characters; a single character is a range of one.
    pub ranges: Vec<(char, char)>,
    pub allows_empty: bool,
}

impl CharacterClassPattern {
    /// Recognises `^[CLASS]+$` and `^[CLASS]*$`, where `CLASS` is made of literal characters
    /// and `a-z` ranges, with `-` literal only first or last. Anything else (escapes, negation,
    /// nested classes, other quantifiers or anchors) returns `None` and is left to the regex
    /// engine, so this never has to agree with regex syntax beyond the plainest case.
    pub fn parse(pattern: &str) -> Option<Self> {
        let body = pattern.strip_prefix("^[")?;
        let (class, allows_empty) = if let Some(class) = body.strip_suffix("]+$") {
            (class, false)
        } else {
            (body.strip_suffix("]*$")?, true)
        };
        let characters: Vec<char> = class.chars().collect();
        if characters.is_empty()
            || characters
                .iter()
                .any(|&character| matches!(character, '[' | ']' | '\\' | '^' | '&' | '~'))
        {
            return None;
        }
        let mut ranges = Vec::new();
        let mut index = 0;
        while index < characters.len() {
            let start = characters[index];
            let is_range = characters.get(index + 1) == Some(&'-') && index + 2 < characters.len();
            if is_range {
                let end = characters[index + 2];
                if start == '-' || end == '-' || start > end {
                    return None;
                }
                ranges.push((start, end));
                index += 3;
            } else {
                // A `-` that does not make a range is only unambiguous at either end.
                if start == '-' && index != 0 && index != characters.len() - 1 {
                    return None;
                }
                ranges.push((start, start));
                index += 1;
            }
        }
        Some(Self {
            ranges,
            allows_empty,
        })
    }

    /// Whether `value` matches: the test the generated code makes, held against regex-lite by
    /// the tests below.
    #[cfg(test)]
    fn is_match(&self, value: &str) -> bool {
        (self.allows_empty || !value.is_empty())
            && value.chars().all(|character| {
                self.ranges
                    .iter()
                    .any(|&(start, end)| (start..=end).contains(&character))
            })
    }

    /// The generated check: a `matches!` over the ranges, and the pattern for the message.
    pub fn check_tokens(&self, pattern: &str) -> TokenStream {
        let arms = self.ranges.iter().map(|&(start, end)| {
            if start == end {
                quote!(#start)
            } else {
                quote!(#start..=#end)
            }
        });
        let allows_empty = self.allows_empty;
        quote! {
            support::check_character_class(&value, #pattern, #allows_empty, |character| {
                matches!(character, #(#arms)|*)
            })?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CharacterClassPattern;

    #[test]
    fn the_plain_class_shapes_are_recognised() {
        let username = CharacterClassPattern::parse("^[A-Za-z0-9_-]+$").unwrap();
        assert_eq!(
            username.ranges,
            vec![('A', 'Z'), ('a', 'z'), ('0', '9'), ('_', '_'), ('-', '-')]
        );
        assert!(!username.allows_empty);
        assert!(
            CharacterClassPattern::parse("^[-a]*$")
                .unwrap()
                .allows_empty
        );
    }

    #[test]
    fn anything_beyond_the_plain_shape_is_left_to_the_regex_engine() {
        for pattern in [
            "[a-z]+",
            "^[a-z]+",
            "^[a-z]{3}$",
            "^[^a-z]+$",
            "^[\\w]+$",
            "^[a-z]+$|^x$",
            "^[z-a]+$",
            "^[a-c-e]+$",
            "^[]+$",
            "^[[:alpha:]]+$",
            "^[a&&b]+$",
            "^[a-z]+[0-9]+$",
        ] {
            assert_eq!(CharacterClassPattern::parse(pattern), None, "{pattern}");
        }
    }

    /// The character test must accept exactly what regex-lite accepts, on every string built
    /// from characters at and around each range's edges.
    #[test]
    fn the_character_test_agrees_with_regex_lite() {
        for pattern in ["^[A-Za-z0-9_-]+$", "^[-a-c.]*$", "^[é-ü ]+$"] {
            let class = CharacterClassPattern::parse(pattern).unwrap();
            let regex = regex_lite::Regex::new(pattern).unwrap();
            let mut alphabet: Vec<char> = vec!['\n', ' ', '\u{0}', 'ÿ', '\u{10FFFF}', '😀'];
            for &(start, end) in &class.ranges {
                for character in [start, end] {
                    let code = u32::from(character);
                    alphabet.extend(
                        [code.wrapping_sub(1), code, code + 1]
                            .into_iter()
                            .filter_map(char::from_u32),
                    );
                }
            }
            let mut samples = vec![String::new()];
            for first in &alphabet {
                samples.push(first.to_string());
                for second in &alphabet {
                    samples.push(format!("{first}{second}"));
                    samples.push(format!("a{first}b{second}"));
                }
            }
            for sample in samples {
                assert_eq!(
                    class.is_match(&sample),
                    regex.is_match(&sample),
                    "{pattern} on {sample:?}"
                );
            }
        }
    }
}
