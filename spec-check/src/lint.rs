//! Checks the contract itself before it is compared: problems that would make any comparison
//! (or the generated server) meaningless, each located by JSON pointer.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::LintProblem;
use crate::normalize::resolve_pointer;

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Every problem found in the contract, sorted by pointer.
pub fn lint(spec: &Value) -> Vec<LintProblem> {
    let mut problems = Vec::new();
    let mut problem =
        |pointer: String, message: String| problems.push(LintProblem { pointer, message });

    let version = spec
        .get("openapi")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !version.starts_with("3.0.") {
        problem(
            "#/openapi".to_owned(),
            format!("the version must be 3.0.x, not `{version}`"),
        );
    }

    let declared_schemes: Vec<&String> = spec
        .pointer("/components/securitySchemes")
        .and_then(Value::as_object)
        .map(|schemes| schemes.keys().collect())
        .unwrap_or_default();
    let check_security = |requirements: Option<&Value>,
                          pointer: String,
                          problem: &mut dyn FnMut(String, String)| {
        for (index, requirement) in requirements
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            for scheme in requirement
                .as_object()
                .into_iter()
                .flatten()
                .map(|(scheme, _)| scheme)
            {
                if !declared_schemes.contains(&scheme) {
                    problem(
                        format!("{pointer}/security/{index}"),
                        format!(
                            "the security scheme `{scheme}` is not declared in #/components/securitySchemes"
                        ),
                    );
                }
            }
        }
    };
    check_security(spec.get("security"), "#".to_owned(), &mut problem);

    let mut operation_ids: BTreeMap<String, String> = BTreeMap::new();
    let paths = spec.get("paths").and_then(Value::as_object);
    for (path, item) in paths.into_iter().flatten() {
        for method in METHODS {
            let Some(operation) = item.get(*method) else {
                continue;
            };
            let pointer = format!("#/paths/{}/{method}", escape(path));
            match operation.get("operationId").and_then(Value::as_str) {
                None => problem(
                    pointer.clone(),
                    "the operation has no operationId".to_owned(),
                ),
                Some(id) => {
                    if let Some(first) = operation_ids.get(id) {
                        problem(
                            format!("{pointer}/operationId"),
                            format!("the operationId `{id}` is already used by {first}"),
                        );
                    } else {
                        operation_ids.insert(id.to_owned(), pointer.clone());
                    }
                }
            }
            check_security(operation.get("security"), pointer, &mut problem);
        }
    }

    if let Some(paths) = paths
        && let Err(error) =
            snake_arena_codegen::routes::check_routable(paths.keys().map(String::as_str))
    {
        problem(error.pointer, error.message);
    }

    find_unresolved_references(spec, spec, "#", &mut problem);
    problems.sort();
    problems
}

fn find_unresolved_references(
    document: &Value,
    value: &Value,
    pointer: &str,
    problem: &mut dyn FnMut(String, String),
) {
    match value {
        Value::Object(entries) => {
            if let Some(reference) = entries.get("$ref").and_then(Value::as_str)
                && resolve_pointer(document, reference).is_none()
            {
                problem(
                    pointer.to_owned(),
                    format!("`{reference}` does not resolve"),
                );
            }
            for (key, child) in entries {
                find_unresolved_references(
                    document,
                    child,
                    &format!("{pointer}/{}", escape(key)),
                    problem,
                );
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                find_unresolved_references(document, child, &format!("{pointer}/{index}"), problem);
            }
        }
        _ => {}
    }
}
