//! Puts a schema in a canonical form: references resolved, prose dropped, and keywords that
//! mean the same as their absence removed, so two documents compare by meaning alone.

use serde_json::{Map, Value};

/// Keys that are prose or tooling hints, never contract.
const PROSE_KEYS: &[&str] = &[
    "description",
    "title",
    "example",
    "examples",
    "externalDocs",
    "xml",
];

/// Keyword values that mean exactly what the keyword's absence means.
fn is_default_keyword(key: &str, value: &Value) -> bool {
    match (key, value) {
        (
            "nullable" | "uniqueItems" | "exclusiveMinimum" | "exclusiveMaximum" | "deprecated"
            | "readOnly" | "writeOnly",
            Value::Bool(false),
        ) => true,
        ("additionalProperties", Value::Bool(true)) => true,
        ("required", Value::Array(items)) => items.is_empty(),
        ("properties", Value::Object(properties)) => properties.is_empty(),
        _ => false,
    }
}

/// Follows a local `$ref` (`#/...`) to its target.
pub fn resolve_pointer<'a>(document: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    document.pointer(pointer)
}

/// Follows `$ref`s until a value that is not a reference; `None` when one does not resolve.
pub fn dereference<'a>(document: &'a Value, value: &'a Value) -> Option<&'a Value> {
    let mut current = value;
    for _ in 0..32 {
        match current.get("$ref").and_then(Value::as_str) {
            Some(reference) => current = resolve_pointer(document, reference)?,
            None => return Some(current),
        }
    }
    None
}

/// The canonical form of a schema. References are replaced by their targets; a reference met
/// again inside itself becomes `{"$recursive": "<ref>"}` so recursive schemas terminate.
pub fn normalize_schema(document: &Value, schema: &Value) -> Value {
    normalize_schema_inner(document, schema, &mut Vec::new())
}

fn normalize_schema_inner(document: &Value, schema: &Value, references: &mut Vec<String>) -> Value {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        if references.iter().any(|seen| seen == reference) {
            return serde_json::json!({ "$recursive": reference });
        }
        let Some(target) = resolve_pointer(document, reference) else {
            return serde_json::json!({ "$unresolved": reference });
        };
        references.push(reference.to_owned());
        let normalized = normalize_schema_inner(document, target, references);
        references.pop();
        return normalized;
    }
    let Value::Object(entries) = schema else {
        return schema.clone();
    };
    let mut normalized = Map::new();
    for (key, value) in entries {
        if PROSE_KEYS.contains(&key.as_str())
            || key.starts_with("x-")
            || is_default_keyword(key, value)
        {
            continue;
        }
        let value = match key.as_str() {
            "properties" => Value::Object(
                value
                    .as_object()
                    .map(|properties| {
                        properties
                            .iter()
                            .map(|(name, property)| {
                                (
                                    name.clone(),
                                    normalize_schema_inner(document, property, references),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            "items" | "not" => normalize_schema_inner(document, value, references),
            "additionalProperties" if value.is_object() => {
                normalize_schema_inner(document, value, references)
            }
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                value
                    .as_array()
                    .map(|schemas| {
                        schemas
                            .iter()
                            .map(|schema| normalize_schema_inner(document, schema, references))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            "required" | "enum" => sorted_array(value),
            _ => value.clone(),
        };
        normalized.insert(key.clone(), value);
    }
    Value::Object(normalized)
}

fn sorted_array(value: &Value) -> Value {
    let mut items = value.as_array().cloned().unwrap_or_default();
    items.sort_by_key(|item| item.to_string());
    Value::Array(items)
}

/// Whether two JSON values mean the same: numbers compare by value, so `10` equals `10.0`.
pub fn same_value(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => left.as_f64() == right.as_f64(),
        (Value::Array(left), Value::Array(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .zip(right)
                    .all(|(left, right)| same_value(left, right))
        }
        (Value::Object(left), Value::Object(right)) => {
            left.len() == right.len()
                && left.iter().all(|(key, value)| {
                    right.get(key).is_some_and(|other| same_value(value, other))
                })
        }
        _ => left == right,
    }
}

/// A value as a difference line shows it: numbers as written, `10.0` as `10`.
pub fn show(value: Option<&Value>) -> String {
    match value {
        None => "(none)".to_owned(),
        Some(Value::Number(number)) => match number.as_f64() {
            Some(float) if float.fract() == 0.0 && float.abs() < 1e15 => {
                format!("{}", float as i64)
            }
            _ => number.to_string(),
        },
        Some(value) => value.to_string(),
    }
}
