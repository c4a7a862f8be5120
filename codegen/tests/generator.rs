//! The generator on small fixture specs: what it makes of each supported feature, and the JSON
//! pointer it names for each construct it refuses.

use snake_arena_codegen::{Settings, generate};

fn settings() -> Settings {
    Settings {
        api_trait: None,
        error_type: "crate::ApiError".to_owned(),
        principal_type: "crate::Caller".to_owned(),
    }
}

/// A fixture document: `paths` and `schemas` are YAML fragments indented by four spaces.
fn spec(paths: &str, schemas: &str) -> String {
    format!(
        "openapi: 3.0.3
info:
  title: Fixture API
  version: 1.2.3
paths:
{paths}
components:
  securitySchemes:
    bearerAuth:
      type: http
      scheme: bearer
  responses:
    Error:
      description: Error
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/Error'
  schemas:
    Error:
      type: object
      required: [code]
      properties:
        code:
          type: string
{schemas}
"
    )
}

const THING_PATH: &str = "  /things/{id}:
    get:
      operationId: thing_view
      parameters:
        - name: id
          in: path
          required: true
          schema:
            type: string
            format: uuid
        - name: verbose
          in: query
          schema:
            type: boolean
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Thing'
        '404':
          $ref: '#/components/responses/Error'";

const THING_SCHEMA: &str = "    Thing:
      type: object
      additionalProperties: false
      required: [id, label, note]
      properties:
        id:
          type: string
          format: uuid
        label:
          type: string
          minLength: 1
          maxLength: 10
        note:
          type: string
          nullable: true
        nickname:
          type: string
        tags:
          type: array
          maxItems: 3
          items:
            type: string
        weight:
          type: number
          minimum: 0
          exclusiveMinimum: true";

fn generated(paths: &str, schemas: &str) -> String {
    generate(&spec(paths, schemas), &settings()).unwrap_or_else(|error| panic!("{error}"))
}

fn refused(paths: &str, schemas: &str) -> String {
    match generate(&spec(paths, schemas), &settings()) {
        Ok(_) => panic!("the fixture was accepted"),
        Err(error) => error.to_string(),
    }
}

fn squash(code: &str) -> String {
    code.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_output_starts_with_the_do_not_edit_line_and_parses_as_rust() {
    let code = generated(THING_PATH, THING_SCHEMA);
    assert!(code.starts_with("// @generated"), "{}", &code[..80]);
    syn::parse_file(&code).unwrap();
}

#[test]
fn an_operation_becomes_a_trait_method_with_typed_extractors() {
    let code = squash(&generated(THING_PATH, THING_SCHEMA));
    assert!(code.contains("pub trait FixtureApi"), "{code}");
    assert!(code.contains("async fn thing_view( rqctx: ::dropshot::RequestContext<Self::Context>, path: ::dropshot::Path<types::ThingViewPath>, query: ::dropshot::Query<types::ThingViewQuery>, )"), "{code}");
    assert!(
        code.contains("::dropshot::HttpResponseOk<types::Thing>, crate::ApiError, >;"),
        "{code}"
    );
    assert!(code.contains("operation_id = \"thing_view\""), "{code}");
}

#[test]
fn optional_nullable_and_constrained_fields_get_distinct_types() {
    let code = squash(&generated(THING_PATH, THING_SCHEMA));
    assert!(code.contains("pub id: ::uuid::Uuid,"), "{code}");
    assert!(code.contains("pub label: types::ThingLabel,"), "{code}");
    assert!(code.contains("deserialize_with = \"support::deserialize_nullable\")] pub note: ::std::option::Option<::std::string::String>,"), "{code}");
    assert!(code.contains("deserialize_with = \"support::deserialize_present\" )] pub nickname: ::std::option::Option<::std::string::String>,") || code.contains("deserialize_with = \"support::deserialize_present\")] pub nickname: ::std::option::Option<::std::string::String>,"), "{code}");
    assert!(
        code.contains("pub struct ThingTags(::std::vec::Vec<::std::string::String>);"),
        "{code}"
    );
    assert!(
        code.contains("#[serde(deny_unknown_fields)] pub struct Thing"),
        "{code}"
    );
}

#[test]
fn every_constraint_is_both_checked_and_restated_in_the_schema() {
    let code = squash(&generated(THING_PATH, THING_SCHEMA));
    assert!(
        code.contains("support::check_length(&value, Some(1usize), Some(10usize))?;"),
        "{code}"
    );
    assert!(
        code.contains(".min_length(1u32).max_length(10u32)"),
        "{code}"
    );
    assert!(
        code.contains("support::check_item_count(value.len(), None, Some(3usize))?;"),
        "{code}"
    );
    assert!(code.contains(".max_items(3u32)"), "{code}");
    assert!(
        code.contains("support::check_number_range(f64::from(value), Some((0f64, true)), None)?;"),
        "{code}"
    );
    assert!(code.contains(".exclusive_minimum(0f64)"), "{code}");
    assert!(code.contains(".nullable()"), "{code}");
}

#[test]
fn a_secured_operation_receives_the_authenticated_caller_and_is_listed_for_the_document() {
    let paths = "  /me:
    get:
      operationId: me_view
      security:
        - bearerAuth: []
      responses:
        '204':
          description: ok";
    let code = squash(&generated(paths, ""));
    assert!(
        code.contains("caller: support::Authenticated<crate::Caller>"),
        "{code}"
    );
    assert!(
        code.contains(
            "support::SecuredOperation { path: \"/me\", method: \"get\", scheme: \"bearerAuth\", }"
        ),
        "{code}"
    );
    assert!(
        code.contains("::dropshot::HttpResponseUpdatedNoContent"),
        "{code}"
    );
}

#[test]
fn a_query_default_is_generated_as_a_default_function() {
    let paths = "  /list:
    get:
      operationId: thing_list
      parameters:
        - name: limit
          in: query
          schema:
            type: integer
            format: int32
            minimum: 1
            maximum: 50
            default: 20
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: array
                items:
                  type: string";
    let code = squash(&generated(paths, ""));
    assert!(code.contains("#[serde(default = \"defaults::thing_list_query_limit_default\")] pub limit: types::ThingListQueryLimit,"), "{code}");
    assert!(
        code.contains(".default_value(::serde_json::json!(20i64))"),
        "{code}"
    );
}

#[test]
fn a_default_outside_its_own_range_is_refused() {
    let paths = "  /list:
    get:
      operationId: thing_list
      parameters:
        - name: limit
          in: query
          schema:
            type: integer
            maximum: 50
            default: 90
      responses:
        '204':
          description: ok";
    let message = refused(paths, "");
    assert!(
        message.starts_with("#/paths/~1list/get/parameters/0/schema/default:"),
        "{message}"
    );
}

fn simple_get(operation: &str) -> String {
    format!(
        "  /x:
    get:
{operation}
      responses:
        '204':
          description: ok"
    )
}

#[test]
fn a_missing_operation_id_is_refused_at_its_pointer() {
    let message = refused(&simple_get("      summary: no id"), "");
    assert_eq!(
        message,
        "#/paths/~1x/get: every operation needs an `operationId`"
    );
}

#[test]
fn a_duplicate_operation_id_is_refused() {
    let paths = format!(
        "{}
    post:
      operationId: x_view
      responses:
        '204':
          description: ok",
        simple_get("      operationId: x_view")
    );
    let message = refused(&paths, "");
    assert!(
        message.starts_with(
            "#/paths/~1x/post/operationId: `x_view` is already the id of #/paths/~1x/get"
        ),
        "{message}"
    );
}

#[test]
fn header_parameters_are_refused() {
    let operation = "      operationId: x_view
      parameters:
        - name: X-Trace
          in: header
          schema:
            type: string";
    let message = refused(&simple_get(operation), "");
    assert!(
        message.starts_with(
            "#/paths/~1x/get/parameters/0: header and cookie parameters are not supported"
        ),
        "{message}"
    );
}

#[test]
fn one_of_is_refused_at_the_schema() {
    let schemas = "    Shape:
      oneOf:
        - type: string
        - type: integer";
    let message = refused(&simple_get("      operationId: x_view"), schemas);
    assert_eq!(
        message,
        "#/components/schemas/Shape: `oneOf` is not supported"
    );
}

#[test]
fn an_unresolved_reference_is_refused() {
    let schemas = "    Holder:
      type: object
      properties:
        inner:
          $ref: '#/components/schemas/Missing'";
    let message = refused(&simple_get("      operationId: x_view"), schemas);
    assert_eq!(
        message,
        "#/components/schemas/Holder/properties/inner: `#/components/schemas/Missing` does not resolve"
    );
}

#[test]
fn an_unknown_string_format_is_refused() {
    let schemas = "    Host:
      type: string
      format: hostname";
    let message = refused(&simple_get("      operationId: x_view"), schemas);
    assert!(
        message.starts_with(
            "#/components/schemas/Host/format: the string format `hostname` is not supported"
        ),
        "{message}"
    );
}

#[test]
fn an_undeclared_security_scheme_is_refused() {
    let operation = "      operationId: x_view
      security:
        - apiKey: []";
    let message = refused(&simple_get(operation), "");
    assert!(
        message
            .starts_with("#/paths/~1x/get/security: the security scheme `apiKey` is not declared"),
        "{message}"
    );
}

#[test]
fn a_literal_beside_a_variable_segment_is_refused_before_anything_else() {
    let paths = "  /games/active:
    get:
      operationId: games_active
      responses:
        '204':
          description: ok
  /games/{id}:
    get:
      operationId: game_view
      parameters:
        - name: id
          in: path
          required: true
          schema:
            type: string
      responses:
        '204':
          description: ok";
    let message = refused(paths, "");
    assert!(
        message.contains("/games/active") && message.contains("/games/{id}"),
        "{message}"
    );
}

#[test]
fn an_uncompilable_pattern_is_refused() {
    let schemas = "    Code:
      type: string
      pattern: '[unclosed'";
    let message = refused(&simple_get("      operationId: x_view"), schemas);
    assert!(
        message.starts_with("#/components/schemas/Code/pattern: the pattern does not compile"),
        "{message}"
    );
}

#[test]
fn openapi_3_1_is_refused() {
    let document = spec(&simple_get("      operationId: x_view"), "")
        .replace("openapi: 3.0.3", "openapi: 3.1.0");
    let message = generate(&document, &settings()).unwrap_err().to_string();
    assert!(
        message.starts_with("#/openapi: only OpenAPI 3.0.x is supported"),
        "{message}"
    );
}

#[test]
fn two_success_responses_are_refused() {
    let paths = "  /x:
    get:
      operationId: x_view
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: string
        '204':
          description: also ok";
    let message = refused(paths, "");
    assert!(
        message.starts_with("#/paths/~1x/get/responses/204: only one success response"),
        "{message}"
    );
}

/// A channel with a path parameter, client and server messages and a refusal before the upgrade.
fn channel_path(operation_extras: &str, responses: &str) -> String {
    format!(
        "  /things/{{id}}/watch:
    get:
      operationId: thing_watch
      x-dropshot-websocket: {{}}
{operation_extras}
      parameters:
        - name: id
          in: path
          required: true
          schema:
            type: string
            format: uuid
      responses:
{responses}"
    )
}

const CHANNEL_MESSAGES: &str = "      x-snake-arena-messages:
        client:
          $ref: '#/components/schemas/ThingCommand'
        server:
          $ref: '#/components/schemas/ThingEvent'";

const CHANNEL_RESPONSES: &str = "        '101':
          description: Switching to the WebSocket protocol.
        '404':
          $ref: '#/components/responses/Error'";

const MESSAGE_SCHEMAS: &str = "    ThingCommand:
      type: object
      additionalProperties: false
      required: [type]
      properties:
        type:
          type: string
          enum: [stop]
    ThingEvent:
      type: object
      additionalProperties: false
      required: [type, count]
      properties:
        type:
          type: string
          enum: [tick, finished]
        count:
          type: integer
          format: int32
          minimum: 0";

#[test]
fn a_channel_becomes_an_endpoint_that_takes_the_upgrade_and_can_refuse_before_it() {
    let code = squash(&generated(
        &channel_path(CHANNEL_MESSAGES, CHANNEL_RESPONSES),
        MESSAGE_SCHEMAS,
    ));
    assert!(
        code.contains(
            "#[endpoint{method = GET, path = \"/things/{id}/watch\", operation_id = \"thing_watch\""
        ),
        "{code}"
    );
    assert!(code.contains("async fn thing_watch( rqctx: ::dropshot::RequestContext<Self::Context>, path: ::dropshot::Path<types::ThingWatchPath>, upgrade: ::dropshot::WebsocketUpgrade, ) -> ::std::result::Result<support::SwitchingToWebsocket, crate::ApiError>;"), "{code}");
}

#[test]
fn a_channel_gets_a_typed_connection_and_its_messages_are_listed_for_the_document() {
    let code = squash(&generated(
        &channel_path(CHANNEL_MESSAGES, CHANNEL_RESPONSES),
        MESSAGE_SCHEMAS,
    ));
    assert!(
        code.contains(
            "pub type ThingWatch = support::Channel<types::ThingCommand, types::ThingEvent>;"
        ),
        "{code}"
    );
    assert!(code.contains("support::ChannelMessages { path: \"/things/{id}/watch\", method: \"get\", client: Some(support::message_schema::<types::ThingCommand>), server: support::message_schema::<types::ThingEvent>, }"), "{code}");
    assert!(
        code.contains("support::add_channel_messages(&mut document, CHANNEL_MESSAGES)?;"),
        "{code}"
    );
}

#[test]
fn message_schemas_are_emitted_as_types_with_their_kind_enum() {
    let code = squash(&generated(
        &channel_path(CHANNEL_MESSAGES, CHANNEL_RESPONSES),
        MESSAGE_SCHEMAS,
    ));
    assert!(code.contains("pub struct ThingEvent {"), "{code}");
    assert!(
        code.contains("pub r#type: types::ThingEventType,"),
        "{code}"
    );
    assert!(code.contains("pub enum ThingEventType { #[serde(rename = \"tick\")] Tick, #[serde(rename = \"finished\")] Finished, }"), "{code}");
    assert!(code.contains("pub struct ThingCommand {"), "{code}");
}

#[test]
fn a_channel_without_client_messages_refuses_every_client_message() {
    let server_only = "      x-snake-arena-messages:
        server:
          $ref: '#/components/schemas/ThingEvent'";
    let code = squash(&generated(
        &channel_path(server_only, CHANNEL_RESPONSES),
        MESSAGE_SCHEMAS,
    ));
    assert!(
        code.contains(
            "pub type ThingWatch = support::Channel<support::NoClientMessages, types::ThingEvent>;"
        ),
        "{code}"
    );
    assert!(code.contains("client: None,"), "{code}");
}

#[test]
fn a_channel_without_a_101_response_is_refused() {
    let message = refused(
        &channel_path(
            CHANNEL_MESSAGES,
            "        '404':
          $ref: '#/components/responses/Error'",
        ),
        MESSAGE_SCHEMAS,
    );
    assert_eq!(
        message,
        "#/paths/~1things~1{id}~1watch/get/responses: a channel (`x-dropshot-websocket`) needs an explicit `101` response"
    );
}

#[test]
fn a_channel_with_a_request_body_is_refused() {
    let with_body = format!(
        "{CHANNEL_MESSAGES}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/ThingCommand'"
    );
    let message = refused(
        &channel_path(&with_body, CHANNEL_RESPONSES),
        MESSAGE_SCHEMAS,
    );
    assert_eq!(
        message,
        "#/paths/~1things~1{id}~1watch/get/requestBody: a channel takes no request body: its messages travel over the WebSocket"
    );
}

#[test]
fn a_channel_without_message_schemas_is_refused() {
    let message = refused(&channel_path("", CHANNEL_RESPONSES), MESSAGE_SCHEMAS);
    assert!(
        message.starts_with(
            "#/paths/~1things~1{id}~1watch/get: a channel needs `x-snake-arena-messages`"
        ),
        "{message}"
    );
}

#[test]
fn an_inline_message_schema_is_refused_at_its_pointer() {
    let inline = "      x-snake-arena-messages:
        server:
          type: object";
    let message = refused(&channel_path(inline, CHANNEL_RESPONSES), MESSAGE_SCHEMAS);
    assert_eq!(
        message,
        "#/paths/~1things~1{id}~1watch/get/x-snake-arena-messages/server: must be exactly `{$ref: '#/components/schemas/...'}`"
    );
}

#[test]
fn a_101_response_without_the_websocket_extension_is_refused() {
    let paths = "  /x:
    get:
      operationId: x_view
      responses:
        '101':
          description: upgrade";
    let message = refused(paths, "");
    assert!(
        message.starts_with("#/paths/~1x/get/responses/101: a `101` response is for channels"),
        "{message}"
    );
}

#[test]
fn a_prepared_response_operation_answers_with_support_prepared_of_its_body() {
    let paths = THING_PATH.replace(
        "      operationId: thing_view\n",
        "      operationId: thing_view\n      x-snake-arena-prepared-response: true\n",
    );
    let code = squash(&generated(&paths, THING_SCHEMA));
    assert!(
        code.contains("::dropshot::HttpResponseOk<support::Prepared<types::Thing>>"),
        "{code}"
    );
}

#[test]
fn a_prepared_response_flag_that_is_not_a_boolean_is_refused_at_its_pointer() {
    let paths = THING_PATH.replace(
        "      operationId: thing_view\n",
        "      operationId: thing_view\n      x-snake-arena-prepared-response: yes please\n",
    );
    let error = refused(&paths, THING_SCHEMA);
    assert!(
        error.contains("/get/x-snake-arena-prepared-response"),
        "{error}"
    );
}
