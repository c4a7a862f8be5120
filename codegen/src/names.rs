//! Turns names from the contract (schema keys, property names, operation ids) into Rust
//! identifiers, so that every generated name is predictable from the spec alone.

use crate::GenerateError;

const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield", "gen",
];

fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_was_lower_or_digit = false;
    for character in name.chars() {
        if !character.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_was_lower_or_digit = false;
            continue;
        }
        if character.is_ascii_uppercase() && previous_was_lower_or_digit && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_was_lower_or_digit = character.is_ascii_lowercase() || character.is_ascii_digit();
        current.push(character);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// `pass-through` becomes `PassThrough`, `leaderboard_list` becomes `LeaderboardList`.
pub fn pascal_case(name: &str) -> String {
    words(name)
        .iter()
        .map(|word| {
            let mut characters = word.chars();
            match characters.next() {
                Some(first) => {
                    first.to_ascii_uppercase().to_string()
                        + &characters.as_str().to_ascii_lowercase()
                }
                None => String::new(),
            }
        })
        .collect()
}

/// `displayName` becomes `display_name`.
pub fn snake_case(name: &str) -> String {
    words(name)
        .iter()
        .map(|word| word.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_")
}

/// Makes an identifier, refusing names that cannot become one.
pub fn identifier(name: &str, pointer: &str) -> Result<proc_macro2::Ident, GenerateError> {
    let starts_well = name
        .chars()
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_');
    if !starts_well || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(GenerateError::new(
            pointer,
            format!("`{name}` cannot be turned into a Rust identifier"),
        ));
    }
    if RUST_KEYWORDS.contains(&name) {
        Ok(proc_macro2::Ident::new_raw(
            name,
            proc_macro2::Span::call_site(),
        ))
    } else {
        Ok(proc_macro2::Ident::new(
            name,
            proc_macro2::Span::call_site(),
        ))
    }
}

/// A type name from a contract name, e.g. a component key or an operation id plus a role.
pub fn type_identifier(name: &str, pointer: &str) -> Result<proc_macro2::Ident, GenerateError> {
    identifier(&pascal_case(name), pointer)
}

/// A field or function name from a contract name.
pub fn field_identifier(name: &str, pointer: &str) -> Result<proc_macro2::Ident, GenerateError> {
    identifier(&snake_case(name), pointer)
}

/// Escapes one JSON pointer segment (RFC 6901): `~` becomes `~0` and `/` becomes `~1`.
pub fn pointer_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_contract_become_rust_names() {
        assert_eq!(pascal_case("pass-through"), "PassThrough");
        assert_eq!(pascal_case("leaderboard_list"), "LeaderboardList");
        assert_eq!(pascal_case("LeaderboardEntry"), "LeaderboardEntry");
        assert_eq!(snake_case("displayName"), "display_name");
        assert_eq!(snake_case("games_active_list"), "games_active_list");
    }

    #[test]
    fn keywords_become_raw_identifiers_and_nonsense_is_refused() {
        assert_eq!(
            field_identifier("type", "#/x").unwrap().to_string(),
            "r#type"
        );
        assert!(identifier("9lives", "#/x").is_err());
    }

    #[test]
    fn pointer_segments_are_escaped() {
        assert_eq!(pointer_segment("/api/games/{id}"), "~1api~1games~1{id}");
        assert_eq!(pointer_segment("a~b"), "a~0b");
    }
}
