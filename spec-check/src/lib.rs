//! Compares the OpenAPI document a server emits with the contract it should speak, as API
//! contracts rather than as text, and lints the contract before comparing.
//!
//! `cargo xtask spec-check` runs it against a live server; the server's own tests run it in
//! process. Both documents are parsed, every `$ref` resolved, and compared operation by
//! operation: the set of operations, operation ids, tags, parameters (location, name, required,
//! schema), request bodies (presence, required, media types, schema), success statuses and their
//! schemas, error schemas, security requirements and schemes, `info.version`, whether an
//! operation is a channel (`x-dropshot-websocket`) and the schemas of its messages each way
//! (`x-snake-arena-messages`), and in every schema its type, format, enum, properties, required
//! set, nullable, additionalProperties, default and every validation keyword.
//!
//! # What the comparison ignores, and why that is safe
//!
//! 1. **Order** of paths, properties, parameters, tags, enum values and required names: none of
//!    them carries meaning in OpenAPI.
//! 2. **Prose**: `description`, `summary`, `title`, `example(s)`, `externalDocs`, the document's
//!    top-level `tags` list and `info` other than `version`, and `x-` extensions other than the
//!    two that make a channel (compared above). They document the contract; no client behaves
//!    differently because of them.
//! 3. **Error status codes.** Dropshot documents the errors of every operation as the ranges
//!    `4XX` and `5XX`; it cannot list individual codes such as 401 or 409, which the contract
//!    names to tell readers when each happens. The ranges are accepted in their place when their
//!    schema equals the error schema the contract declares for that operation (or, for an
//!    operation that declares no error, the one error schema the contract uses everywhere); any
//!    difference in that schema is still reported.
//! 4. **Defaults that mean the same as absence**: `nullable: false`, `required: []`,
//!    `required: false` on a parameter (and `true` on a path parameter, which OpenAPI demands),
//!    `additionalProperties: true`, `uniqueItems: false`, `exclusiveMinimum: false`,
//!    `exclusiveMaximum: false`, `deprecated: false`, empty `properties`, and a request body's
//!    `required: false`. Numbers compare by value, so `10` equals `10.0`.

mod compare;
mod lint;
mod normalize;

use std::fmt;

pub use compare::compare;
pub use lint::lint;

/// One way the server's document departs from the contract.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Difference {
    /// The operation (`POST /api/leaderboard`) or document part (`info`) that differs.
    pub location: String,
    /// What differs there, e.g. `request body: property "score": maximum: spec 1000000, server (none)`.
    pub detail: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.detail)
    }
}

/// A problem with the contract itself, located by JSON pointer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LintProblem {
    pub pointer: String,
    pub message: String,
}

impl fmt::Display for LintProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pointer, self.message)
    }
}

/// Parses an OpenAPI document written as YAML or JSON.
pub fn parse_document(text: &str) -> Result<serde_json::Value, String> {
    serde_yaml::from_str(text).map_err(|error| format!("not a YAML or JSON document: {error}"))
}

/// Writes differences as JSON, for `--json`.
pub fn differences_as_json(differences: &[Difference]) -> serde_json::Value {
    serde_json::json!({
        "count": differences.len(),
        "differences": differences
            .iter()
            .map(|difference| serde_json::json!({
                "location": difference.location,
                "detail": difference.detail,
            }))
            .collect::<Vec<_>>(),
    })
}
