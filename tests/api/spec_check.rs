//! The spec check run in process: the document this server's code describes must match
//! `openapi.yaml` exactly, and every kind of drift must be caught at the right place.

use snake_arena_server::server::api_description;

/// The contract as JSON.
pub fn contract() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("openapi.yaml is readable");
    spec_check::parse_document(&text).expect("openapi.yaml parses")
}

/// The document the server emits, built in process from the same code `main` runs.
pub fn served_document() -> serde_json::Value {
    let api = api_description().expect("the API description builds");
    snake_arena_server::api::openapi_document(&api).expect("the document renders")
}

#[test]
fn the_contract_passes_its_lint() {
    assert_eq!(spec_check::lint(&contract()), vec![]);
}

#[test]
fn the_server_describes_exactly_the_contract() {
    let differences = spec_check::compare(&contract(), &served_document());
    let lines: Vec<String> = differences.iter().map(ToString::to_string).collect();
    assert!(
        lines.is_empty(),
        "the server drifts from openapi.yaml:\n{}",
        lines.join("\n")
    );
}

/// The difference lines between a mutated copy of the contract and the server.
fn drift_after(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<String> {
    let mut spec = contract();
    edit(&mut spec);
    spec_check::compare(&spec, &served_document())
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn at<'a>(document: &'a mut serde_json::Value, pointer: &str) -> &'a mut serde_json::Value {
    document
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("the contract has {pointer}"))
}

fn object_at<'a>(
    document: &'a mut serde_json::Value,
    pointer: &str,
) -> &'a mut serde_json::Map<String, serde_json::Value> {
    at(document, pointer)
        .as_object_mut()
        .unwrap_or_else(|| panic!("{pointer} is an object"))
}

#[test]
fn a_changed_property_type_is_flagged_where_it_is_used() {
    let drift = drift_after(|spec| {
        *at(spec, "/components/schemas/Health/properties/store/type") = "integer".into();
    });
    assert_eq!(
        drift,
        [
            r#"GET /api/health: response 200: property "store": type: spec "integer", server "string""#
        ]
    );
}

#[test]
fn a_changed_format_is_flagged() {
    let drift = drift_after(|spec| {
        *at(
            spec,
            "/components/schemas/LeaderboardEntry/properties/timestamp/format",
        ) = "date".into();
    });
    assert_eq!(
        drift,
        [
            r#"GET /api/games/finished/{gameId}/replay: server messages: property "frame": property "entry": property "timestamp": format: spec "date", server "date-time""#,
            r#"GET /api/games/live/{gameId}: response 200: property "entry": property "timestamp": format: spec "date", server "date-time""#,
            r#"GET /api/games/live/{gameId}/play: server messages: property "frame": property "entry": property "timestamp": format: spec "date", server "date-time""#,
            r#"GET /api/games/live/{gameId}/watch: server messages: property "frame": property "entry": property "timestamp": format: spec "date", server "date-time""#,
            r#"GET /api/leaderboard: response 200: items: property "timestamp": format: spec "date", server "date-time""#,
            r#"POST /api/leaderboard: response 201: property "timestamp": format: spec "date", server "date-time""#,
        ]
    );
}

#[test]
fn an_added_enum_value_is_flagged() {
    let drift = drift_after(|spec| {
        at(spec, "/components/schemas/Health/properties/status/enum")
            .as_array_mut()
            .unwrap()
            .push("degraded".into());
    });
    assert_eq!(
        drift,
        [
            r#"GET /api/health: response 200: property "status": enum: "degraded" is in the spec but not on the server"#
        ]
    );
}

#[test]
fn a_removed_enum_value_is_flagged_in_every_operation_that_uses_it() {
    let drift = drift_after(|spec| {
        *at(spec, "/components/schemas/GameMode/enum") = serde_json::json!(["walls"]);
    });
    let line = r#"enum: "pass-through" is on the server but not in the spec"#;
    assert_eq!(
        drift,
        [
            format!(r#"GET /api/games/active: response 200: items: property "mode": {line}"#),
            format!(r#"GET /api/games/finished/{{gameId}}: response 200: property "mode": {line}"#),
            format!(
                r#"GET /api/games/finished/{{gameId}}/replay: server messages: property "frame": property "entry": property "mode": {line}"#
            ),
            format!(
                r#"GET /api/games/finished/{{gameId}}/replay: server messages: property "frame": property "mode": {line}"#
            ),
            format!(
                r#"GET /api/games/live/{{gameId}}: response 200: property "entry": property "mode": {line}"#
            ),
            format!(r#"GET /api/games/live/{{gameId}}: response 200: property "mode": {line}"#),
            format!(
                r#"GET /api/games/live/{{gameId}}/play: server messages: property "frame": property "entry": property "mode": {line}"#
            ),
            format!(
                r#"GET /api/games/live/{{gameId}}/play: server messages: property "frame": property "mode": {line}"#
            ),
            format!(
                r#"GET /api/games/live/{{gameId}}/watch: server messages: property "frame": property "entry": property "mode": {line}"#
            ),
            format!(
                r#"GET /api/games/live/{{gameId}}/watch: server messages: property "frame": property "mode": {line}"#
            ),
            format!(r#"GET /api/leaderboard: parameter "mode" (query): {line}"#),
            format!(r#"GET /api/leaderboard: response 200: items: property "mode": {line}"#),
            format!(r#"POST /api/games: request body: property "mode": {line}"#),
            format!(r#"POST /api/games: response 201: property "mode": {line}"#),
            format!(r#"POST /api/leaderboard: request body: property "mode": {line}"#),
            format!(r#"POST /api/leaderboard: response 201: property "mode": {line}"#),
        ]
    );
}

#[test]
fn a_field_no_longer_required_is_flagged() {
    let drift = drift_after(|spec| {
        *at(spec, "/components/schemas/ScoreSubmission/required") = serde_json::json!(["score"]);
    });
    assert_eq!(
        drift,
        [
            r#"POST /api/leaderboard: request body: required: "mode" is on the server but not in the spec"#
        ]
    );
}

#[test]
fn a_changed_maximum_is_flagged() {
    let drift = drift_after(|spec| {
        *at(
            spec,
            "/paths/~1api~1leaderboard/get/parameters/1/schema/maximum",
        ) = 50.into();
    });
    assert_eq!(
        drift,
        [r#"GET /api/leaderboard: parameter "limit" (query): maximum: spec 50, server 100"#]
    );
}

#[test]
fn a_server_that_lost_a_maximum_is_flagged_as_the_issue_describes_it() {
    let mut served = served_document();
    object_at(&mut served, "/components/schemas/Score").remove("maximum");
    let drift: Vec<String> = spec_check::compare(&contract(), &served)
        .iter()
        .map(ToString::to_string)
        .filter(|line| line.starts_with("POST /api/leaderboard: request body"))
        .collect();
    assert_eq!(
        drift,
        [
            r#"POST /api/leaderboard: request body: property "score": maximum: spec 1000000, server (none)"#
        ]
    );
}

#[test]
fn a_changed_max_length_is_flagged() {
    let drift = drift_after(|spec| {
        *at(spec, "/components/schemas/Password/maxLength") = 64.into();
    });
    assert_eq!(
        drift,
        [
            r#"POST /api/auth/login: request body: property "password": maxLength: spec 64, server 128"#,
            r#"POST /api/auth/signup: request body: property "password": maxLength: spec 64, server 128"#,
        ]
    );
}

#[test]
fn an_added_pattern_is_flagged() {
    let drift = drift_after(|spec| {
        object_at(spec, "/components/schemas/Health/properties/store")
            .insert("pattern".to_owned(), "^[a-z-]+$".into());
    });
    assert_eq!(
        drift,
        [
            r#"GET /api/health: response 200: property "store": pattern: spec "^[a-z-]+$", server (none)"#
        ]
    );
}

#[test]
fn a_dropped_parameter_is_flagged() {
    let drift = drift_after(|spec| {
        at(spec, "/paths/~1api~1leaderboard/get/parameters")
            .as_array_mut()
            .unwrap()
            .remove(0);
    });
    assert_eq!(
        drift,
        [r#"GET /api/leaderboard: parameter "mode" (query): on the server but not in the spec"#]
    );
}

#[test]
fn a_parameter_made_required_is_flagged() {
    let drift = drift_after(|spec| {
        *at(spec, "/paths/~1api~1leaderboard/get/parameters/1/required") = true.into();
    });
    assert_eq!(
        drift,
        [r#"GET /api/leaderboard: parameter "limit" (query): required: spec true, server false"#]
    );
}

#[test]
fn a_changed_parameter_default_is_flagged() {
    let drift = drift_after(|spec| {
        *at(
            spec,
            "/paths/~1api~1leaderboard/get/parameters/1/schema/default",
        ) = 20.into();
    });
    assert_eq!(
        drift,
        [r#"GET /api/leaderboard: parameter "limit" (query): default: spec 20, server 10"#]
    );
}

#[test]
fn a_changed_success_status_code_is_flagged() {
    let drift = drift_after(|spec| {
        let responses = object_at(spec, "/paths/~1api~1games~1active/get/responses");
        let ok = responses.remove("200").unwrap();
        responses.insert("203".to_owned(), ok);
    });
    assert_eq!(
        drift,
        [
            "GET /api/games/active: response 200: on the server but not in the spec",
            "GET /api/games/active: response 203: in the spec but not on the server",
        ]
    );
}

#[test]
fn a_changed_operation_id_is_flagged() {
    let drift = drift_after(|spec| {
        *at(spec, "/paths/~1api~1health/get/operationId") = "health_view".into();
    });
    assert_eq!(
        drift,
        [r#"GET /api/health: operationId: spec "health_view", server "health_check""#]
    );
}

#[test]
fn an_operation_added_to_the_spec_is_flagged() {
    let drift = drift_after(|spec| {
        let delete = serde_json::json!({
            "operationId": "leaderboard_clear",
            "tags": ["leaderboard"],
            "responses": { "204": { "description": "cleared" } }
        });
        object_at(spec, "/paths/~1api~1leaderboard").insert("delete".to_owned(), delete);
    });
    assert_eq!(
        drift,
        ["DELETE /api/leaderboard: operation exists in the spec but not on the server"]
    );
}

#[test]
fn an_operation_removed_from_the_spec_is_flagged() {
    let drift = drift_after(|spec| {
        object_at(spec, "/paths").remove("/api/health");
    });
    assert_eq!(
        drift,
        ["GET /api/health: operation exists on the server but not in the spec"]
    );
}

#[test]
fn a_removed_security_requirement_is_flagged() {
    let drift = drift_after(|spec| {
        object_at(spec, "/paths/~1api~1auth~1me/get").remove("security");
    });
    assert_eq!(
        drift,
        ["GET /api/auth/me: security: spec (none), server [bearerAuth]"]
    );
}

#[test]
fn allowing_additional_properties_is_flagged() {
    let drift = drift_after(|spec| {
        *at(
            spec,
            "/components/schemas/ScoreSubmission/additionalProperties",
        ) = true.into();
    });
    assert_eq!(
        drift,
        ["POST /api/leaderboard: request body: additionalProperties: spec (none), server false"]
    );
}

#[test]
fn a_property_made_nullable_is_flagged() {
    let drift = drift_after(|spec| {
        object_at(spec, "/components/schemas/Health/properties/store")
            .insert("nullable".to_owned(), true.into());
    });
    assert_eq!(
        drift,
        [r#"GET /api/health: response 200: property "store": nullable: spec true, server (none)"#]
    );
}

#[test]
fn a_changed_tag_is_flagged() {
    let drift = drift_after(|spec| {
        *at(spec, "/paths/~1api~1health/get/tags") = serde_json::json!(["ops"]);
    });
    assert_eq!(
        drift,
        [
            r#"GET /api/health: tag "health" is on the server but not in the spec"#,
            r#"GET /api/health: tag "ops" is in the spec but not on the server"#,
        ]
    );
}

#[test]
fn a_request_body_the_spec_drops_is_flagged() {
    let drift = drift_after(|spec| {
        object_at(spec, "/paths/~1api~1leaderboard/post").remove("requestBody");
    });
    assert_eq!(
        drift,
        ["POST /api/leaderboard: request body: on the server but not in the spec"]
    );
}

#[test]
fn a_changed_error_schema_is_flagged_through_the_generic_error_responses() {
    let drift = drift_after(|spec| {
        *at(
            spec,
            "/components/schemas/Error/properties/detail/maxLength",
        ) = 100.into();
    });
    // 15 operations × 2 ranges, and the error messages of the three channels.
    assert_eq!(
        drift.len(),
        33,
        "one line per operation and range, and per channel's error messages: {drift:#?}"
    );
    assert!(drift.contains(
        &r#"GET /api/health: error responses (4XX): property "detail": maxLength: spec 100, server 2048"#.to_owned()
    ));
}

#[test]
fn prose_and_order_do_not_count_as_drift() {
    let drift = drift_after(|spec| {
        *at(spec, "/components/schemas/Username/description") = "Something else entirely.".into();
        *at(spec, "/paths/~1api~1health/get/summary") = "Other words.".into();
        at(spec, "/components/schemas/SignupRequest/required")
            .as_array_mut()
            .unwrap()
            .reverse();
    });
    assert_eq!(drift, Vec::<String>::new());
}

/// An endpoint registered by hand, outside the generated trait, to prove the check sees it.
#[dropshot::endpoint { method = GET, path = "/api/debug/state" }]
async fn debug_state_view(
    _rqctx: dropshot::RequestContext<snake_arena_server::http::context::ServerState>,
) -> Result<dropshot::HttpResponseOk<String>, dropshot::HttpError> {
    Ok(dropshot::HttpResponseOk("debug".to_owned()))
}

#[test]
fn an_endpoint_registered_by_hand_outside_the_generated_trait_is_flagged() {
    let mut api = api_description().unwrap();
    api.register(debug_state_view).unwrap();
    let served = snake_arena_server::api::openapi_document(&api).unwrap();
    let drift: Vec<String> = spec_check::compare(&contract(), &served)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        drift,
        ["GET /api/debug/state: operation exists on the server but not in the spec"]
    );
}

fn lint_after(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<String> {
    let mut spec = contract();
    edit(&mut spec);
    spec_check::lint(&spec)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_lint_refuses_a_version_other_than_3_0() {
    let problems = lint_after(|spec| *at(spec, "/openapi") = "3.1.0".into());
    assert_eq!(
        problems,
        ["#/openapi: the version must be 3.0.x, not `3.1.0`"]
    );
}

#[test]
fn the_lint_refuses_a_missing_and_a_duplicate_operation_id() {
    let problems = lint_after(|spec| {
        object_at(spec, "/paths/~1api~1health/get").remove("operationId");
        *at(spec, "/paths/~1api~1auth~1me/get/operationId") = "auth_login".into();
    });
    assert_eq!(
        problems,
        [
            "#/paths/~1api~1auth~1me/get/operationId: the operationId `auth_login` is already used by #/paths/~1api~1auth~1login/post",
            "#/paths/~1api~1health/get: the operation has no operationId",
        ]
    );
}

#[test]
fn the_lint_refuses_an_unresolved_reference() {
    let problems = lint_after(|spec| {
        *at(spec, "/components/schemas/Cell/properties/x/$ref") =
            "#/components/schemas/Coord".into();
    });
    assert_eq!(
        problems,
        ["#/components/schemas/Cell/properties/x: `#/components/schemas/Coord` does not resolve"]
    );
}

#[test]
fn the_lint_refuses_paths_dropshot_cannot_route() {
    let problems = lint_after(|spec| {
        let game = serde_json::json!({ "get": { "operationId": "game_view", "responses": { "204": { "description": "x" } } } });
        object_at(spec, "/paths").insert("/api/games/{id}".to_owned(), game);
    });
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .starts_with("#/paths/~1api~1games~1{id}: `/api/games/{id}` has the variable segment"),
        "{problems:?}"
    );
}

#[test]
fn the_lint_refuses_a_secured_operation_whose_scheme_is_not_declared() {
    let problems = lint_after(|spec| {
        *at(spec, "/paths/~1api~1auth~1me/get/security") = serde_json::json!([{ "apiKey": [] }]);
    });
    assert_eq!(
        problems,
        [
            "#/paths/~1api~1auth~1me/get/security/0: the security scheme `apiKey` is not declared in #/components/securitySchemes"
        ]
    );
}

/// The channel operation every channel test below starts from.
const WATCH_CHANNEL: &str = "/paths/~1api~1games~1live~1{gameId}~1watch/get";

#[test]
fn a_channel_the_server_does_not_serve_is_flagged() {
    let drift = drift_after(|spec| {
        let watch = at(spec, WATCH_CHANNEL).clone();
        let mut play = watch;
        play["operationId"] = "games_replay".into();
        object_at(spec, "/paths").insert(
            "/api/games/live/{gameId}/replay".to_owned(),
            serde_json::json!({ "get": play }),
        );
    });
    assert_eq!(
        drift,
        ["GET /api/games/live/{gameId}/replay: operation exists in the spec but not on the server"]
    );
}

#[test]
fn a_channel_the_contract_declares_as_a_plain_operation_is_flagged() {
    let drift = drift_after(|spec| {
        object_at(spec, WATCH_CHANNEL).remove("x-dropshot-websocket");
    });
    assert_eq!(
        drift,
        [
            "GET /api/games/live/{gameId}/watch: x-dropshot-websocket: spec not a channel, server a channel"
        ]
    );
}

#[test]
fn a_changed_server_message_schema_is_flagged_at_the_channel() {
    let drift = drift_after(|spec| {
        *at(
            spec,
            "/components/schemas/GameFrame/properties/sequence/minimum",
        ) = 1.into();
    });
    assert_eq!(
        drift,
        [
            r#"GET /api/games/finished/{gameId}/replay: server messages: property "frame": property "sequence": minimum: spec 1, server 0"#,
            r#"GET /api/games/live/{gameId}: response 200: property "sequence": minimum: spec 1, server 0"#,
            r#"GET /api/games/live/{gameId}/play: server messages: property "frame": property "sequence": minimum: spec 1, server 0"#,
            r#"GET /api/games/live/{gameId}/watch: server messages: property "frame": property "sequence": minimum: spec 1, server 0"#,
        ]
    );
}

#[test]
fn a_server_message_schema_naming_another_component_is_flagged() {
    let drift = drift_after(|spec| {
        *at(
            spec,
            &format!("{WATCH_CHANNEL}/x-snake-arena-messages/server/$ref"),
        ) = "#/components/schemas/ActiveGame".into();
    });
    let expected = r#"GET /api/games/live/{gameId}/watch: server messages: property "type": on the server but not in the spec"#;
    assert!(drift.iter().any(|line| line == expected), "{drift:#?}");
}

#[test]
fn client_messages_the_server_does_not_take_are_flagged() {
    let drift = drift_after(|spec| {
        object_at(spec, &format!("{WATCH_CHANNEL}/x-snake-arena-messages")).insert(
            "client".to_owned(),
            serde_json::json!({ "$ref": "#/components/schemas/Cell" }),
        );
    });
    assert_eq!(
        drift,
        [
            "GET /api/games/live/{gameId}/watch: client messages: schema: in the spec but not on the server"
        ]
    );
}
