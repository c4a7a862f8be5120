//! Checks that Dropshot can route every path of a contract before any code is generated.
//!
//! Dropshot's router cannot hold a literal and a variable segment at the same level
//! (`/api/games/active` beside `/api/games/{id}`), nor two differently named variables there; it
//! panics when such an API is registered. Finding it here turns a start-up panic into a build
//! error that names both paths.

use std::collections::BTreeMap;

use crate::GenerateError;
use crate::names::pointer_segment;

#[derive(Default)]
struct RouteNode<'a> {
    literals: BTreeMap<&'a str, RouteNode<'a>>,
    variable: Option<(&'a str, &'a str, Box<RouteNode<'a>>)>,
    /// A path that reaches this node through a literal segment, for the error message.
    literal_example: Option<&'a str>,
}

fn variable_name(segment: &str) -> Option<&str> {
    segment.strip_prefix('{')?.strip_suffix('}')
}

/// Fails with a message naming both paths when two paths put a literal and a variable segment,
/// or two different variables, at the same level.
pub fn check_routable<'a>(paths: impl IntoIterator<Item = &'a str>) -> Result<(), GenerateError> {
    let mut root = RouteNode::default();
    for path in paths {
        let pointer = format!("#/paths/{}", pointer_segment(path));
        if !path.starts_with('/') {
            return Err(GenerateError::new(&pointer, "a path must start with `/`"));
        }
        let mut node = &mut root;
        for segment in path.split('/').skip(1) {
            match variable_name(segment) {
                Some(name) => {
                    if let Some(literal_path) = node.literal_example {
                        return Err(GenerateError::new(
                            &pointer,
                            format!(
                                "`{path}` has the variable segment `{segment}` where `{literal_path}` has a literal one; Dropshot cannot route both"
                            ),
                        ));
                    }
                    let entry = node
                        .variable
                        .get_or_insert_with(|| (name, path, Box::default()));
                    if entry.0 != name {
                        return Err(GenerateError::new(
                            &pointer,
                            format!(
                                "`{path}` names the variable `{name}` where `{}` names `{}`; Dropshot cannot route both",
                                entry.1, entry.0
                            ),
                        ));
                    }
                    node = &mut entry.2;
                }
                None => {
                    if segment.contains('{') || segment.contains('}') {
                        return Err(GenerateError::new(
                            &pointer,
                            format!(
                                "the segment `{segment}` mixes text and a variable, which Dropshot cannot route"
                            ),
                        ));
                    }
                    if let Some((_, variable_path, _)) = &node.variable {
                        return Err(GenerateError::new(
                            &pointer,
                            format!(
                                "`{path}` has the literal segment `{segment}` where `{variable_path}` has a variable one; Dropshot cannot route both"
                            ),
                        ));
                    }
                    node.literal_example.get_or_insert(path);
                    node = node.literals.entry(segment).or_default();
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_routable;

    #[test]
    fn literal_beside_variable_is_refused_naming_both_paths() {
        let error = check_routable(["/api/games/active", "/api/games/{id}"]).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("/api/games/active"), "{message}");
        assert!(message.contains("/api/games/{id}"), "{message}");
        assert!(
            message.starts_with("#/paths/~1api~1games~1{id}"),
            "{message}"
        );
    }

    #[test]
    fn variable_before_literal_is_refused_too() {
        assert!(check_routable(["/api/games/{id}", "/api/games/active"]).is_err());
    }

    #[test]
    fn two_names_for_one_variable_are_refused() {
        assert!(check_routable(["/games/{id}", "/games/{game_id}/moves"]).is_err());
    }

    #[test]
    fn distinct_literals_and_nested_variables_are_routable() {
        check_routable([
            "/api/games/active",
            "/api/games/finished",
            "/api/players/{id}",
            "/api/players/{id}/scores",
        ])
        .unwrap();
    }
}
