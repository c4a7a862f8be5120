//! The semantic comparison: operation by operation, then keyword by keyword inside each schema,
//! producing one sorted line per difference.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::Difference;
use crate::normalize::{dereference, normalize_schema, same_value, show};

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The two documents being compared, so each side resolves its own references.
struct Sides<'a> {
    spec: &'a Value,
    server: &'a Value,
}

struct Report {
    differences: BTreeSet<Difference>,
}

impl Report {
    fn add(&mut self, location: &str, detail: String) {
        self.differences.insert(Difference {
            location: location.to_owned(),
            detail,
        });
    }
}

/// Every way `server` departs from `spec`, sorted.
pub fn compare(spec: &Value, server: &Value) -> Vec<Difference> {
    let sides = Sides { spec, server };
    let mut report = Report {
        differences: BTreeSet::new(),
    };

    let spec_version = spec.pointer("/info/version");
    let server_version = server.pointer("/info/version");
    if !same_option(spec_version, server_version) {
        report.add(
            "info",
            format!(
                "version: spec {}, server {}",
                show(spec_version),
                show(server_version)
            ),
        );
    }

    let spec_operations = operations(spec);
    let server_operations = operations(server);
    for key in spec_operations
        .keys()
        .chain(server_operations.keys())
        .collect::<BTreeSet<_>>()
    {
        match (spec_operations.get(key), server_operations.get(key)) {
            (Some(_), None) => report.add(
                key,
                "operation exists in the spec but not on the server".to_owned(),
            ),
            (None, Some(_)) => report.add(
                key,
                "operation exists on the server but not in the spec".to_owned(),
            ),
            (Some(spec_operation), Some(server_operation)) => {
                compare_operation(&sides, key, spec_operation, server_operation, &mut report);
            }
            (None, None) => {}
        }
    }
    compare_security_schemes(&sides, &spec_operations, &mut report);
    report.differences.into_iter().collect()
}

/// An operation with the parameters its path item gives it.
struct OperationView<'a> {
    operation: &'a Value,
    path_parameters: Option<&'a Value>,
}

fn operations(document: &Value) -> BTreeMap<String, OperationView<'_>> {
    let mut operations = BTreeMap::new();
    let Some(paths) = document.get("paths").and_then(Value::as_object) else {
        return operations;
    };
    for (path, item) in paths {
        let item = dereference(document, item).unwrap_or(item);
        for method in METHODS {
            if let Some(operation) = item.get(*method) {
                operations.insert(
                    format!("{} {path}", method.to_ascii_uppercase()),
                    OperationView {
                        operation,
                        path_parameters: item.get("parameters"),
                    },
                );
            }
        }
    }
    operations
}

fn same_option(left: Option<&Value>, right: Option<&Value>) -> bool {
    match (left, right) {
        (Some(left), Some(right)) => same_value(left, right),
        (None, None) => true,
        _ => false,
    }
}

fn compare_operation(
    sides: &Sides<'_>,
    key: &str,
    spec: &OperationView<'_>,
    server: &OperationView<'_>,
    report: &mut Report,
) {
    let spec_id = spec.operation.get("operationId");
    let server_id = server.operation.get("operationId");
    if !same_option(spec_id, server_id) {
        report.add(
            key,
            format!(
                "operationId: spec {}, server {}",
                show(spec_id),
                show(server_id)
            ),
        );
    }

    let spec_tags = string_set(spec.operation.get("tags"));
    let server_tags = string_set(server.operation.get("tags"));
    for tag in spec_tags.difference(&server_tags) {
        report.add(
            key,
            format!("tag \"{tag}\" is in the spec but not on the server"),
        );
    }
    for tag in server_tags.difference(&spec_tags) {
        report.add(
            key,
            format!("tag \"{tag}\" is on the server but not in the spec"),
        );
    }

    compare_parameters(sides, key, spec, server, report);
    compare_request_bodies(
        sides,
        key,
        spec.operation.get("requestBody"),
        server.operation.get("requestBody"),
        report,
    );
    compare_responses(sides, key, spec.operation, server.operation, report);
    compare_channels(sides, key, spec.operation, server.operation, report);

    let spec_security = security_of(sides.spec, spec.operation);
    let server_security = security_of(sides.server, server.operation);
    if spec_security != server_security {
        report.add(
            key,
            format!(
                "security: spec {}, server {}",
                show_security(&spec_security),
                show_security(&server_security)
            ),
        );
    }
}

/// Dropshot's mark of a WebSocket operation (a channel).
const WEBSOCKET_EXTENSION: &str = "x-dropshot-websocket";

/// The contract's extension naming a channel's message schemas: `{client: schema, server: schema}`.
const MESSAGES_EXTENSION: &str = "x-snake-arena-messages";

/// A channel must be one on both sides, and its messages each way must have the same schemas
/// (exception 2 in the module docs ignores other `x-` extensions, not these two).
fn compare_channels(
    sides: &Sides<'_>,
    key: &str,
    spec: &Value,
    server: &Value,
    report: &mut Report,
) {
    let spec_is_channel = spec.get(WEBSOCKET_EXTENSION).is_some();
    let server_is_channel = server.get(WEBSOCKET_EXTENSION).is_some();
    if spec_is_channel != server_is_channel {
        let side = |is_channel: bool| {
            if is_channel {
                "a channel"
            } else {
                "not a channel"
            }
        };
        report.add(
            key,
            format!(
                "{WEBSOCKET_EXTENSION}: spec {}, server {}",
                side(spec_is_channel),
                side(server_is_channel)
            ),
        );
    }
    for direction in ["client", "server"] {
        let spec_schema = spec
            .get(MESSAGES_EXTENSION)
            .and_then(|messages| messages.get(direction))
            .map(|schema| normalize_schema(sides.spec, schema));
        let server_schema = server
            .get(MESSAGES_EXTENSION)
            .and_then(|messages| messages.get(direction))
            .map(|schema| normalize_schema(sides.server, schema));
        compare_schema_options(
            key,
            &format!("{direction} messages: "),
            spec_schema.as_ref(),
            server_schema.as_ref(),
            report,
        );
    }
}

fn string_set(value: Option<&Value>) -> BTreeSet<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Parameters keyed by (location, name), the operation's overriding its path item's.
fn parameters<'a>(
    document: &'a Value,
    view: &OperationView<'a>,
) -> BTreeMap<(String, String), &'a Value> {
    let mut parameters = BTreeMap::new();
    let lists = [view.path_parameters, view.operation.get("parameters")];
    for list in lists.into_iter().flatten() {
        for parameter in list.as_array().into_iter().flatten() {
            let parameter = dereference(document, parameter).unwrap_or(parameter);
            let location = parameter
                .get("in")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let name = parameter
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            parameters.insert((location, name), parameter);
        }
    }
    parameters
}

fn parameter_is_required(parameter: &Value) -> bool {
    parameter.get("in").and_then(Value::as_str) == Some("path")
        || parameter
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false)
}

fn compare_parameters(
    sides: &Sides<'_>,
    key: &str,
    spec: &OperationView<'_>,
    server: &OperationView<'_>,
    report: &mut Report,
) {
    let spec_parameters = parameters(sides.spec, spec);
    let server_parameters = parameters(sides.server, server);
    let names: BTreeSet<_> = spec_parameters
        .keys()
        .chain(server_parameters.keys())
        .collect();
    for name in names {
        let context = format!("parameter \"{}\" ({})", name.1, name.0);
        match (spec_parameters.get(name), server_parameters.get(name)) {
            (Some(_), None) => {
                report.add(key, format!("{context}: in the spec but not on the server"))
            }
            (None, Some(_)) => {
                report.add(key, format!("{context}: on the server but not in the spec"))
            }
            (Some(spec_parameter), Some(server_parameter)) => {
                let spec_required = parameter_is_required(spec_parameter);
                let server_required = parameter_is_required(server_parameter);
                if spec_required != server_required {
                    report.add(
                        key,
                        format!(
                            "{context}: required: spec {spec_required}, server {server_required}"
                        ),
                    );
                }
                let spec_schema = spec_parameter
                    .get("schema")
                    .map(|schema| normalize_schema(sides.spec, schema));
                let server_schema = server_parameter
                    .get("schema")
                    .map(|schema| normalize_schema(sides.server, schema));
                compare_schema_options(
                    key,
                    &format!("{context}: "),
                    spec_schema.as_ref(),
                    server_schema.as_ref(),
                    report,
                );
            }
            (None, None) => {}
        }
    }
}

fn compare_request_bodies(
    sides: &Sides<'_>,
    key: &str,
    spec: Option<&Value>,
    server: Option<&Value>,
    report: &mut Report,
) {
    let spec = spec.map(|body| dereference(sides.spec, body).unwrap_or(body));
    let server = server.map(|body| dereference(sides.server, body).unwrap_or(body));
    match (spec, server) {
        (Some(_), None) => report.add(
            key,
            "request body: in the spec but not on the server".to_owned(),
        ),
        (None, Some(_)) => report.add(
            key,
            "request body: on the server but not in the spec".to_owned(),
        ),
        (Some(spec), Some(server)) => {
            let spec_required = spec
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let server_required = server
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if spec_required != server_required {
                report.add(
                    key,
                    format!(
                        "request body: required: spec {spec_required}, server {server_required}"
                    ),
                );
            }
            compare_content(
                sides,
                key,
                "request body",
                spec.get("content"),
                server.get("content"),
                report,
            );
        }
        (None, None) => {}
    }
}

/// Compares media types and their schemas; with only `application/json` on both sides the
/// context is just `what`, as in `request body: property "score": ...`.
fn compare_content(
    sides: &Sides<'_>,
    key: &str,
    what: &str,
    spec: Option<&Value>,
    server: Option<&Value>,
    report: &mut Report,
) {
    let empty = serde_json::Map::new();
    let spec = spec.and_then(Value::as_object).unwrap_or(&empty);
    let server = server.and_then(Value::as_object).unwrap_or(&empty);
    let media_types: BTreeSet<&String> = spec.keys().chain(server.keys()).collect();
    for media_type in media_types {
        let context = if spec.len() == 1 && server.len() == 1 {
            format!("{what}: ")
        } else {
            format!("{what} ({media_type}): ")
        };
        match (spec.get(media_type), server.get(media_type)) {
            (Some(_), None) => report.add(
                key,
                format!("{what}: media type \"{media_type}\" is in the spec but not on the server"),
            ),
            (None, Some(_)) => report.add(
                key,
                format!("{what}: media type \"{media_type}\" is on the server but not in the spec"),
            ),
            (Some(spec_media), Some(server_media)) => {
                let spec_schema = spec_media
                    .get("schema")
                    .map(|schema| normalize_schema(sides.spec, schema));
                let server_schema = server_media
                    .get("schema")
                    .map(|schema| normalize_schema(sides.server, schema));
                compare_schema_options(
                    key,
                    &context,
                    spec_schema.as_ref(),
                    server_schema.as_ref(),
                    report,
                );
            }
            (None, None) => {}
        }
    }
}

fn is_error_status(status: &str) -> bool {
    status == "default" || status.starts_with('4') || status.starts_with('5')
}

fn is_generic_error_range(status: &str) -> bool {
    matches!(status, "4XX" | "5XX")
}

/// The JSON schemas of a response's content, normalized.
fn response_schemas(document: &Value, response: &Value) -> Vec<Value> {
    let response = dereference(document, response).unwrap_or(response);
    response
        .get("content")
        .and_then(Value::as_object)
        .map(|content| {
            content
                .values()
                .filter_map(|media| media.get("schema"))
                .map(|schema| normalize_schema(document, schema))
                .collect()
        })
        .unwrap_or_default()
}

/// The error schemas a document's operations declare, across the whole document.
fn document_error_schemas(document: &Value) -> Vec<Value> {
    let mut schemas: Vec<Value> = Vec::new();
    for view in operations(document).values() {
        for (status, response) in view
            .operation
            .get("responses")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if is_error_status(status) {
                for schema in response_schemas(document, response) {
                    if !schemas.iter().any(|known| same_value(known, &schema)) {
                        schemas.push(schema);
                    }
                }
            }
        }
    }
    schemas
}

fn compare_responses(
    sides: &Sides<'_>,
    key: &str,
    spec: &Value,
    server: &Value,
    report: &mut Report,
) {
    let empty = serde_json::Map::new();
    let spec_responses = spec
        .get("responses")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let server_responses = server
        .get("responses")
        .and_then(Value::as_object)
        .unwrap_or(&empty);

    // Success responses and specific error codes compare status by status.
    let statuses: BTreeSet<&String> = spec_responses
        .keys()
        .filter(|status| !is_error_status(status))
        .chain(
            server_responses
                .keys()
                .filter(|status| !is_generic_error_range(status)),
        )
        .collect();
    for status in statuses {
        match (spec_responses.get(status), server_responses.get(status)) {
            (Some(_), None) => report.add(
                key,
                format!("response {status}: in the spec but not on the server"),
            ),
            (None, Some(_)) => report.add(
                key,
                format!("response {status}: on the server but not in the spec"),
            ),
            (Some(spec_response), Some(server_response)) => {
                let spec_response = dereference(sides.spec, spec_response).unwrap_or(spec_response);
                let server_response =
                    dereference(sides.server, server_response).unwrap_or(server_response);
                compare_content(
                    sides,
                    key,
                    &format!("response {status}"),
                    spec_response.get("content"),
                    server_response.get("content"),
                    report,
                );
            }
            (None, None) => {}
        }
    }

    // Dropshot's generic 4XX/5XX stand for the contract's specific error codes (exception 3 in
    // the module docs): their schema must be the contract's error schema for this operation.
    let mut expected: Vec<Value> = Vec::new();
    for (status, response) in spec_responses {
        if is_error_status(status) {
            for schema in response_schemas(sides.spec, response) {
                if !expected.iter().any(|known| same_value(known, &schema)) {
                    expected.push(schema);
                }
            }
        }
    }
    if expected.is_empty() {
        expected = document_error_schemas(sides.spec);
    }
    let mut server_has_error_responses = false;
    for (status, response) in server_responses {
        if !is_generic_error_range(status) {
            continue;
        }
        server_has_error_responses = true;
        for schema in response_schemas(sides.server, response) {
            if expected.iter().any(|known| same_value(known, &schema)) {
                continue;
            }
            match expected.as_slice() {
                [only] => compare_schema(
                    key,
                    &format!("error responses ({status}): "),
                    only,
                    &schema,
                    report,
                ),
                _ => report.add(
                    key,
                    format!(
                        "error responses ({status}): the schema matches no error schema of the spec"
                    ),
                ),
            }
        }
    }
    let spec_has_error_responses = spec_responses.keys().any(|status| is_error_status(status));
    if spec_has_error_responses
        && !server_has_error_responses
        && !server_responses
            .keys()
            .any(|status| is_error_status(status))
    {
        report.add(
            key,
            "error responses: in the spec but not on the server".to_owned(),
        );
    }
}

/// An operation's security requirements: each requirement as its sorted scheme names, with the
/// document's global requirement when the operation states none.
fn security_of(document: &Value, operation: &Value) -> BTreeSet<Vec<String>> {
    let requirements = operation
        .get("security")
        .or_else(|| document.get("security"));
    requirements
        .and_then(Value::as_array)
        .map(|requirements| {
            requirements
                .iter()
                .filter_map(Value::as_object)
                .filter(|requirement| !requirement.is_empty())
                .map(|requirement| requirement.keys().cloned().collect::<Vec<_>>())
                .collect()
        })
        .unwrap_or_default()
}

fn show_security(requirements: &BTreeSet<Vec<String>>) -> String {
    if requirements.is_empty() {
        return "(none)".to_owned();
    }
    requirements
        .iter()
        .map(|schemes| format!("[{}]", schemes.join(" + ")))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The schemes the contract's operations use must be declared alike on the server.
fn compare_security_schemes(
    sides: &Sides<'_>,
    spec_operations: &BTreeMap<String, OperationView<'_>>,
    report: &mut Report,
) {
    let used: BTreeSet<String> = spec_operations
        .values()
        .flat_map(|view| security_of(sides.spec, view.operation))
        .flatten()
        .collect();
    for scheme in used {
        let pointer = format!("/components/securitySchemes/{scheme}");
        let spec_scheme = sides
            .spec
            .pointer(&pointer)
            .map(|scheme| normalize_schema(sides.spec, scheme));
        let server_scheme = sides
            .server
            .pointer(&pointer)
            .map(|scheme| normalize_schema(sides.server, scheme));
        compare_schema_options(
            "components",
            &format!("security scheme \"{scheme}\": "),
            spec_scheme.as_ref(),
            server_scheme.as_ref(),
            report,
        );
    }
}

fn compare_schema_options(
    key: &str,
    context: &str,
    spec: Option<&Value>,
    server: Option<&Value>,
    report: &mut Report,
) {
    match (spec, server) {
        (Some(spec), Some(server)) => compare_schema(key, context, spec, server, report),
        (Some(_), None) => report.add(
            key,
            format!("{context}schema: in the spec but not on the server"),
        ),
        (None, Some(_)) => report.add(
            key,
            format!("{context}schema: on the server but not in the spec"),
        ),
        (None, None) => {}
    }
}

/// Compares two normalized schemas keyword by keyword, descending into properties and items.
fn compare_schema(key: &str, context: &str, spec: &Value, server: &Value, report: &mut Report) {
    let (Some(spec_keywords), Some(server_keywords)) = (spec.as_object(), server.as_object())
    else {
        if !same_value(spec, server) {
            report.add(
                key,
                format!("{context}schema: spec {spec}, server {server}"),
            );
        }
        return;
    };
    let keywords: BTreeSet<&String> = spec_keywords.keys().chain(server_keywords.keys()).collect();
    for keyword in keywords {
        let spec_value = spec_keywords.get(keyword);
        let server_value = server_keywords.get(keyword);
        match keyword.as_str() {
            "properties" => {
                let empty = serde_json::Map::new();
                let spec_properties = spec_value.and_then(Value::as_object).unwrap_or(&empty);
                let server_properties = server_value.and_then(Value::as_object).unwrap_or(&empty);
                let names: BTreeSet<&String> = spec_properties
                    .keys()
                    .chain(server_properties.keys())
                    .collect();
                for name in names {
                    let property_context = format!("{context}property \"{name}\": ");
                    match (spec_properties.get(name), server_properties.get(name)) {
                        (Some(spec_property), Some(server_property)) => {
                            compare_schema(
                                key,
                                &property_context,
                                spec_property,
                                server_property,
                                report,
                            );
                        }
                        (Some(_), None) => report.add(
                            key,
                            format!("{property_context}in the spec but not on the server"),
                        ),
                        (None, Some(_)) => report.add(
                            key,
                            format!("{property_context}on the server but not in the spec"),
                        ),
                        (None, None) => {}
                    }
                }
            }
            "items" | "not" => match (spec_value, server_value) {
                (Some(spec_items), Some(server_items)) => {
                    compare_schema(
                        key,
                        &format!("{context}{keyword}: "),
                        spec_items,
                        server_items,
                        report,
                    );
                }
                _ => report.add(
                    key,
                    format!(
                        "{context}{keyword}: spec {}, server {}",
                        show(spec_value),
                        show(server_value)
                    ),
                ),
            },
            "additionalProperties"
                if spec_value.is_some_and(Value::is_object)
                    && server_value.is_some_and(Value::is_object) =>
            {
                if let (Some(spec_schema), Some(server_schema)) = (spec_value, server_value) {
                    compare_schema(
                        key,
                        &format!("{context}additionalProperties: "),
                        spec_schema,
                        server_schema,
                        report,
                    );
                }
            }
            "enum" | "required" => {
                let spec_items = value_strings(spec_value);
                let server_items = value_strings(server_value);
                for item in spec_items.difference(&server_items) {
                    report.add(
                        key,
                        format!("{context}{keyword}: {item} is in the spec but not on the server"),
                    );
                }
                for item in server_items.difference(&spec_items) {
                    report.add(
                        key,
                        format!("{context}{keyword}: {item} is on the server but not in the spec"),
                    );
                }
            }
            _ => {
                if !same_option(spec_value, server_value) {
                    report.add(
                        key,
                        format!(
                            "{context}{keyword}: spec {}, server {}",
                            show(spec_value),
                            show(server_value)
                        ),
                    );
                }
            }
        }
    }
}

fn value_strings(value: Option<&Value>) -> BTreeSet<String> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().map(|item| item.to_string()).collect())
        .unwrap_or_default()
}
