//! Turns the contract's operations into one `#[dropshot::api_description]` trait: a method per
//! operation, with typed path, query and body extractors, the authenticated caller for secured
//! operations, and the success response type the contract names.

use openapiv3::{
    OpenAPI, Operation, Parameter, ParameterSchemaOrContent, PathItem, ReferenceOr, RequestBody,
    Response, SecurityRequirement, SecurityScheme, StatusCode,
};
use proc_macro2::TokenStream;
use quote::quote;

use crate::names::{field_identifier, pointer_segment, type_identifier};
use crate::schemas::{TypeGenerator, doc_attribute};
use crate::{GenerateError, Settings};

/// What the operations contributed to the generated module.
pub struct GeneratedOperations {
    pub trait_methods: Vec<TokenStream>,
    pub parameter_types: Vec<TokenStream>,
    /// `support::SecuredOperation` literals for `complete_openapi_document`.
    pub secured_operations: Vec<TokenStream>,
    /// The component every error response uses, if any operation declares one.
    pub error_schema: Option<String>,
    /// Statements (inside `openapi_document`) that restore parameter defaults, which Dropshot
    /// strips from parameter schemas together with their other metadata.
    pub parameter_default_restorations: Vec<TokenStream>,
    /// One `support::Channel<Client, Server>` alias per channel operation, named after it.
    pub channel_aliases: Vec<TokenStream>,
    /// `support::ChannelMessages` literals, so the served document names each channel's messages.
    pub channel_messages: Vec<TokenStream>,
}

/// The extension that lets an operation answer with JSON encoded once for many answers
/// (`support::Prepared`), for hot reads; it changes the Rust signature, never the document.
const PREPARED_EXTENSION: &str = "x-snake-arena-prepared-response";

/// The extension Dropshot puts on a WebSocket operation, and that marks one in the contract.
pub const WEBSOCKET_EXTENSION: &str = "x-dropshot-websocket";

/// Our extension naming the schemas of a channel's messages each way:
/// `{client: {$ref: ...}, server: {$ref: ...}}`; `client` may be left out when the client sends
/// nothing.
pub const MESSAGES_EXTENSION: &str = "x-snake-arena-messages";

/// The message schemas of one channel operation, as `#/components/schemas/...` references.
struct ChannelMessages {
    client: Option<String>,
    server: String,
}

/// Reads a channel's `x-snake-arena-messages`, refusing any other shape.
fn channel_messages_of(
    operation: &Operation,
    pointer: &str,
) -> Result<ChannelMessages, GenerateError> {
    let messages_pointer = format!("{pointer}/{MESSAGES_EXTENSION}");
    let messages = operation.extensions.get(MESSAGES_EXTENSION).ok_or_else(|| {
        GenerateError::new(
            pointer,
            format!(
                "a channel needs `{MESSAGES_EXTENSION}` naming its message schemas: `{{client: {{$ref: ...}}, server: {{$ref: ...}}}}`"
            ),
        )
    })?;
    let messages = messages.as_object().ok_or_else(|| {
        GenerateError::new(
            &messages_pointer,
            "must be an object with `server` (and optionally `client`)",
        )
    })?;
    for key in messages.keys() {
        if key != "client" && key != "server" {
            return Err(GenerateError::new(
                &format!("{messages_pointer}/{}", pointer_segment(key)),
                "only `client` and `server` message schemas are supported",
            ));
        }
    }
    let reference = |direction: &str| -> Result<Option<String>, GenerateError> {
        let Some(value) = messages.get(direction) else {
            return Ok(None);
        };
        let direction_pointer = format!("{messages_pointer}/{direction}");
        let reference = value
            .as_object()
            .filter(|value| value.len() == 1)
            .and_then(|value| value.get("$ref"))
            .and_then(|reference| reference.as_str())
            .filter(|reference| reference.starts_with("#/components/schemas/"))
            .ok_or_else(|| {
                GenerateError::new(
                    &direction_pointer,
                    "must be exactly `{$ref: '#/components/schemas/...'}`",
                )
            })?;
        Ok(Some(reference.to_owned()))
    };
    let server = reference("server")?.ok_or_else(|| {
        GenerateError::new(
            &messages_pointer,
            "needs a `server` message schema: what the server sends",
        )
    })?;
    Ok(ChannelMessages {
        client: reference("client")?,
        server,
    })
}

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn operation_of<'a>(item: &'a PathItem, method: &str) -> Option<&'a Operation> {
    match method {
        "get" => item.get.as_ref(),
        "put" => item.put.as_ref(),
        "post" => item.post.as_ref(),
        "delete" => item.delete.as_ref(),
        "options" => item.options.as_ref(),
        "head" => item.head.as_ref(),
        "patch" => item.patch.as_ref(),
        "trace" => item.trace.as_ref(),
        _ => None,
    }
}

/// Follows a `$ref` to a component of one kind (`parameters`, `responses`, `requestBodies`),
/// refusing references elsewhere and references to references.
fn resolve_component<'a, T>(
    item: &'a ReferenceOr<T>,
    kind: &str,
    components: impl FnOnce(&'a openapiv3::Components) -> &'a indexmap::IndexMap<String, ReferenceOr<T>>,
    spec: &'a OpenAPI,
    pointer: &str,
) -> Result<&'a T, GenerateError> {
    let reference = match item {
        ReferenceOr::Item(item) => return Ok(item),
        ReferenceOr::Reference { reference } => reference,
    };
    let prefix = format!("#/components/{kind}/");
    let key = reference.strip_prefix(&prefix).ok_or_else(|| {
        GenerateError::new(
            pointer,
            format!("`{reference}` is not supported: only `{prefix}...` references are"),
        )
    })?;
    match spec
        .components
        .as_ref()
        .and_then(|all| components(all).get(key))
    {
        Some(ReferenceOr::Item(item)) => Ok(item),
        Some(ReferenceOr::Reference { .. }) => Err(GenerateError::new(
            pointer,
            format!("`{reference}` refers to another reference, which is not supported"),
        )),
        None => Err(GenerateError::new(
            pointer,
            format!("`{reference}` does not resolve"),
        )),
    }
}

fn resolve_parameter<'a>(
    spec: &'a OpenAPI,
    parameter: &'a ReferenceOr<Parameter>,
    pointer: &str,
) -> Result<&'a Parameter, GenerateError> {
    resolve_component(
        parameter,
        "parameters",
        |components| &components.parameters,
        spec,
        pointer,
    )
}

fn resolve_response<'a>(
    spec: &'a OpenAPI,
    response: &'a ReferenceOr<Response>,
    pointer: &str,
) -> Result<&'a Response, GenerateError> {
    resolve_component(
        response,
        "responses",
        |components| &components.responses,
        spec,
        pointer,
    )
}

fn resolve_request_body<'a>(
    spec: &'a OpenAPI,
    body: &'a ReferenceOr<RequestBody>,
    pointer: &str,
) -> Result<&'a RequestBody, GenerateError> {
    resolve_component(
        body,
        "requestBodies",
        |components| &components.request_bodies,
        spec,
        pointer,
    )
}

/// The single bearer scheme an operation requires, or `None` for a public operation.
fn bearer_scheme_of(
    spec: &OpenAPI,
    operation: &Operation,
    pointer: &str,
) -> Result<Option<String>, GenerateError> {
    let requirements: &Vec<SecurityRequirement> = match (&operation.security, &spec.security) {
        (Some(requirements), _) => requirements,
        (None, Some(requirements)) => requirements,
        (None, None) => return Ok(None),
    };
    let security_pointer = format!("{pointer}/security");
    match requirements.as_slice() {
        [] => Ok(None),
        [requirement] if requirement.is_empty() => Ok(None),
        [requirement] if requirement.len() == 1 => {
            let (scheme_name, scopes) = requirement.iter().next().ok_or_else(|| {
                GenerateError::new(&security_pointer, "an empty security requirement")
            })?;
            if !scopes.is_empty() {
                return Err(GenerateError::new(
                    &security_pointer,
                    "bearer schemes take no scopes",
                ));
            }
            let scheme = spec
                .components
                .as_ref()
                .and_then(|components| components.security_schemes.get(scheme_name))
                .ok_or_else(|| {
                    GenerateError::new(&security_pointer, format!("the security scheme `{scheme_name}` is not declared in `#/components/securitySchemes`"))
                })?;
            match scheme {
                ReferenceOr::Item(SecurityScheme::HTTP { scheme, .. })
                    if scheme.eq_ignore_ascii_case("bearer") =>
                {
                    Ok(Some(scheme_name.clone()))
                }
                _ => Err(GenerateError::new(
                    &format!(
                        "#/components/securitySchemes/{}",
                        pointer_segment(scheme_name)
                    ),
                    "only `type: http` with `scheme: bearer` is supported",
                )),
            }
        }
        _ => Err(GenerateError::new(
            &security_pointer,
            "alternative or combined security requirements are not supported; use exactly one bearer scheme",
        )),
    }
}

/// Generates the parameter struct for one location (`Path` or `Query`) of an operation.
fn parameter_struct(
    types: &mut TypeGenerator<'_>,
    type_name: &str,
    parameters: &[(&openapiv3::ParameterData, String)],
    pointer: &str,
) -> Result<(proc_macro2::Ident, TokenStream), GenerateError> {
    let ident = type_identifier(type_name, pointer)?;
    let mut fields: Vec<crate::schemas::FieldParts> = Vec::new();
    let mut properties = Vec::new();
    for (data, parameter_pointer) in parameters {
        let schema = match &data.format {
            ParameterSchemaOrContent::Schema(schema) => schema,
            ParameterSchemaOrContent::Content(_) => {
                return Err(GenerateError::new(
                    parameter_pointer,
                    "parameters with `content` are not supported; use `schema`",
                ));
            }
        };
        let schema_pointer = format!("{parameter_pointer}/schema");
        let hint = format!("{type_name}_{}", data.name);
        fields.push(types.field_parts(
            &data.name,
            schema,
            data.required,
            &schema_pointer,
            &hint,
        )?);
        let resolved = types.resolve(schema, &schema_pointer, &hint)?;
        let name = &data.name;
        let required = data.required;
        let expression = resolved.schema_expression;
        properties.push(quote!(.property(#name, #expression, #required)));
    }
    let public_fields = fields.iter().map(|field| field.declaration(false));
    let wire_fields = fields.iter().map(|field| field.declaration(true));
    let moves = fields.iter().map(|field| {
        let field = &field.ident;
        quote!(#field: fields.#field)
    });
    // Dropshot parses parameters without tracking which one failed, so the struct tracks it
    // itself: the client reads `limit: must be at most 100`, not just `must be at most 100`.
    let definition = quote! {
        #[derive(Clone, Debug, PartialEq)]
        pub struct #ident {
            #(#public_fields)*
        }

        impl<'de> ::serde::Deserialize<'de> for #ident {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                #[derive(::serde::Deserialize)]
                struct Fields {
                    #(#wire_fields)*
                }
                let fields: Fields = ::serde_path_to_error::deserialize(deserializer).map_err(|error| {
                    <D::Error as ::serde::de::Error>::custom(support::describe_at_path(&error.path().to_string(), error.inner()))
                })?;
                Ok(Self { #(#moves),* })
            }
        }

        impl ::schemars::JsonSchema for #ident {
            fn schema_name() -> ::std::string::String {
                #type_name.to_owned()
            }

            fn is_referenceable() -> bool {
                false
            }

            fn json_schema(
                #[allow(unused_variables)] generator: &mut ::schemars::r#gen::SchemaGenerator,
            ) -> ::schemars::schema::Schema {
                support::SchemaBuilder::object() #(#properties)* .build()
            }
        }
    };
    Ok((ident, definition))
}

fn json_schema_of_media<'a>(
    content: &'a indexmap::IndexMap<String, openapiv3::MediaType>,
    pointer: &str,
) -> Result<Option<&'a ReferenceOr<openapiv3::Schema>>, GenerateError> {
    if content.is_empty() {
        return Ok(None);
    }
    if content.len() != 1 || !content.contains_key("application/json") {
        return Err(GenerateError::new(
            pointer,
            "only `application/json` content is supported",
        ));
    }
    let media = &content["application/json"];
    media.schema.as_ref().map(Some).ok_or_else(|| {
        GenerateError::new(
            &format!("{pointer}/application~1json"),
            "the media type needs a `schema`",
        )
    })
}

pub fn generate_operations(
    spec: &OpenAPI,
    settings: &Settings,
    types: &mut TypeGenerator<'_>,
) -> Result<GeneratedOperations, GenerateError> {
    let error_type: syn::Type = syn::parse_str(&settings.error_type).map_err(|error| {
        GenerateError::new(
            "#",
            format!("the configured error type does not parse: {error}"),
        )
    })?;
    let principal_type: syn::Type = syn::parse_str(&settings.principal_type).map_err(|error| {
        GenerateError::new(
            "#",
            format!("the configured principal type does not parse: {error}"),
        )
    })?;
    let mut generated = GeneratedOperations {
        trait_methods: Vec::new(),
        parameter_types: Vec::new(),
        secured_operations: Vec::new(),
        error_schema: None,
        parameter_default_restorations: Vec::new(),
        channel_aliases: Vec::new(),
        channel_messages: Vec::new(),
    };
    let mut operation_ids = std::collections::BTreeMap::<String, String>::new();

    for (path, item) in &spec.paths.paths {
        let path_pointer = format!("#/paths/{}", pointer_segment(path));
        let item = match item {
            ReferenceOr::Item(item) => item,
            ReferenceOr::Reference { .. } => {
                return Err(GenerateError::new(
                    &path_pointer,
                    "path item references are not supported",
                ));
            }
        };
        for method in METHODS {
            let Some(operation) = operation_of(item, method) else {
                continue;
            };
            let pointer = format!("{path_pointer}/{method}");
            let operation_id = operation.operation_id.as_ref().ok_or_else(|| {
                GenerateError::new(&pointer, "every operation needs an `operationId`")
            })?;
            if let Some(previous) = operation_ids.insert(operation_id.clone(), pointer.clone()) {
                return Err(GenerateError::new(
                    &format!("{pointer}/operationId"),
                    format!("`{operation_id}` is already the id of {previous}"),
                ));
            }
            let method_ident = field_identifier(operation_id, &format!("{pointer}/operationId"))?;
            let type_prefix = crate::names::pascal_case(operation_id);
            let is_channel = match operation.extensions.get(WEBSOCKET_EXTENSION) {
                None => false,
                Some(value) if value.is_object() => true,
                Some(_) => {
                    return Err(GenerateError::new(
                        &format!("{pointer}/{WEBSOCKET_EXTENSION}"),
                        "must be an empty object, `{}`, as Dropshot emits it",
                    ));
                }
            };
            if is_channel && *method != "get" {
                return Err(GenerateError::new(
                    &pointer,
                    "a channel (`x-dropshot-websocket`) must be a `get` operation: WebSocket handshakes are GET requests",
                ));
            }
            if !is_channel && operation.extensions.contains_key(MESSAGES_EXTENSION) {
                return Err(GenerateError::new(
                    &format!("{pointer}/{MESSAGES_EXTENSION}"),
                    "message schemas belong to channels; add `x-dropshot-websocket: {}` and a `101` response",
                ));
            }

            // Parameters: the path item's, overridden by the operation's of the same name and place.
            let mut path_parameters = Vec::new();
            let mut query_parameters = Vec::new();
            let inherited = item
                .parameters
                .iter()
                .enumerate()
                .map(|(index, parameter)| {
                    (parameter, format!("{path_pointer}/parameters/{index}"))
                });
            let own = operation
                .parameters
                .iter()
                .enumerate()
                .map(|(index, parameter)| (parameter, format!("{pointer}/parameters/{index}")));
            let mut all_parameters: Vec<(&Parameter, String)> = Vec::new();
            for (parameter, parameter_pointer) in inherited.chain(own) {
                let parameter = resolve_parameter(spec, parameter, &parameter_pointer)?;
                let data = parameter.parameter_data_ref();
                all_parameters.retain(|(existing, _)| {
                    existing.parameter_data_ref().name != data.name
                        || std::mem::discriminant(*existing) != std::mem::discriminant(parameter)
                });
                all_parameters.push((parameter, parameter_pointer));
            }
            for (parameter, parameter_pointer) in &all_parameters {
                match parameter {
                    Parameter::Path { parameter_data, .. } => {
                        if !parameter_data.required {
                            return Err(GenerateError::new(
                                parameter_pointer,
                                "path parameters must be required",
                            ));
                        }
                        if !path.contains(&format!("{{{}}}", parameter_data.name)) {
                            return Err(GenerateError::new(
                                parameter_pointer,
                                format!("`{}` is not a variable of the path", parameter_data.name),
                            ));
                        }
                        path_parameters.push((parameter_data, parameter_pointer.clone()));
                    }
                    Parameter::Query { parameter_data, .. } => {
                        query_parameters.push((parameter_data, parameter_pointer.clone()))
                    }
                    Parameter::Header { .. } | Parameter::Cookie { .. } => {
                        return Err(GenerateError::new(
                            parameter_pointer,
                            "header and cookie parameters are not supported",
                        ));
                    }
                }
            }
            for segment in path.split('/') {
                if let Some(variable) = segment
                    .strip_prefix('{')
                    .and_then(|segment| segment.strip_suffix('}'))
                    && !path_parameters
                        .iter()
                        .any(|(data, _)| data.name == variable)
                {
                    return Err(GenerateError::new(
                        &pointer,
                        format!("the path variable `{variable}` has no path parameter"),
                    ));
                }
            }

            let mut extractors = Vec::new();
            let secured_by = bearer_scheme_of(spec, operation, &pointer)?;
            if let Some(scheme) = &secured_by {
                extractors.push(quote!(caller: support::Authenticated<#principal_type>));
                let method_name = *method;
                generated.secured_operations.push(quote! {
                    support::SecuredOperation { path: #path, method: #method_name, scheme: #scheme }
                });
            }
            if !path_parameters.is_empty() {
                let (ident, definition) = parameter_struct(
                    types,
                    &format!("{type_prefix}Path"),
                    &path_parameters,
                    &pointer,
                )?;
                generated.parameter_types.push(definition);
                extractors.push(quote!(path: ::dropshot::Path<types::#ident>));
            }
            for (data, _) in path_parameters.iter().chain(query_parameters.iter()) {
                if let ParameterSchemaOrContent::Schema(ReferenceOr::Item(schema)) = &data.format
                    && let Some(default) = &schema.schema_data.default
                {
                    let name = &data.name;
                    let method_name = *method;
                    let default = crate::schemas::json_tokens(default);
                    generated.parameter_default_restorations.push(quote! {
                        support::restore_parameter_default(&mut document, #path, #method_name, #name, ::serde_json::json!(#default));
                    });
                }
            }
            if !query_parameters.is_empty() {
                let (ident, definition) = parameter_struct(
                    types,
                    &format!("{type_prefix}Query"),
                    &query_parameters,
                    &pointer,
                )?;
                generated.parameter_types.push(definition);
                extractors.push(quote!(query: ::dropshot::Query<types::#ident>));
            }
            if is_channel && operation.request_body.is_some() {
                return Err(GenerateError::new(
                    &format!("{pointer}/requestBody"),
                    "a channel takes no request body: its messages travel over the WebSocket",
                ));
            }
            if let Some(body) = &operation.request_body {
                let body_pointer = format!("{pointer}/requestBody");
                let body = resolve_request_body(spec, body, &body_pointer)?;
                if !body.required {
                    return Err(GenerateError::new(
                        &body_pointer,
                        "optional request bodies are not supported; set `required: true`",
                    ));
                }
                let schema =
                    json_schema_of_media(&body.content, &format!("{body_pointer}/content"))?
                        .ok_or_else(|| {
                            GenerateError::new(
                                &body_pointer,
                                "a request body needs `application/json` content",
                            )
                        })?;
                let resolved = types.resolve(
                    schema,
                    &format!("{body_pointer}/content/application~1json/schema"),
                    &format!("{type_prefix}Body"),
                )?;
                let body_type = resolved.rust_type;
                extractors.push(quote!(body: ::dropshot::TypedBody<#body_type>));
            }

            // Responses: exactly one success, and errors that all share one schema.
            let mut success = None;
            let mut upgrade = false;
            for (status, response) in &operation.responses.responses {
                let status_text = match status {
                    StatusCode::Code(code) => code.to_string(),
                    StatusCode::Range(range) => format!("{range}XX"),
                };
                let response_pointer = format!("{pointer}/responses/{status_text}");
                let response = resolve_response(spec, response, &response_pointer)?;
                if !response.headers.is_empty() || !response.links.is_empty() {
                    return Err(GenerateError::new(
                        &response_pointer,
                        "response headers and links are not supported",
                    ));
                }
                let schema = json_schema_of_media(
                    &response.content,
                    &format!("{response_pointer}/content"),
                )?;
                let is_success = matches!(status, StatusCode::Code(code) if (200..300).contains(code))
                    || matches!(status, StatusCode::Range(2));
                if matches!(status, StatusCode::Code(101)) {
                    if !is_channel {
                        return Err(GenerateError::new(
                            &response_pointer,
                            "a `101` response is for channels; add `x-dropshot-websocket: {}` to the operation",
                        ));
                    }
                    if schema.is_some() {
                        return Err(GenerateError::new(
                            &response_pointer,
                            "a channel's `101` response has no content",
                        ));
                    }
                    upgrade = true;
                } else if is_success && is_channel {
                    return Err(GenerateError::new(
                        &response_pointer,
                        "a channel succeeds with its `101` response only",
                    ));
                } else if is_success {
                    if success.is_some() {
                        return Err(GenerateError::new(
                            &response_pointer,
                            "only one success response per operation is supported",
                        ));
                    }
                    success = Some((status.clone(), schema, response_pointer));
                } else {
                    let reference = match schema {
                        Some(ReferenceOr::Reference { reference }) => reference.clone(),
                        _ => {
                            return Err(GenerateError::new(
                                &response_pointer,
                                "an error response must reference one `#/components/schemas/...` error schema",
                            ));
                        }
                    };
                    match &generated.error_schema {
                        None => generated.error_schema = Some(reference),
                        Some(existing) if *existing == reference => {}
                        Some(existing) => {
                            return Err(GenerateError::new(
                                &response_pointer,
                                format!(
                                    "every error response must use one schema; this one uses `{reference}`, others `{existing}`"
                                ),
                            ));
                        }
                    }
                }
            }
            if operation.responses.default.is_some() {
                return Err(GenerateError::new(
                    &format!("{pointer}/responses/default"),
                    "`default` responses are not supported; name the status codes",
                ));
            }
            let response_type = if is_channel {
                if !upgrade {
                    return Err(GenerateError::new(
                        &format!("{pointer}/responses"),
                        "a channel (`x-dropshot-websocket`) needs an explicit `101` response",
                    ));
                }
                let messages = channel_messages_of(operation, &pointer)?;
                let messages_pointer = format!("{pointer}/{MESSAGES_EXTENSION}");
                let message_type = |types: &mut TypeGenerator<'_>,
                                    reference: &str,
                                    direction: &str|
                 -> Result<TokenStream, GenerateError> {
                    Ok(types
                        .resolve(
                            &ReferenceOr::Reference {
                                reference: reference.to_owned(),
                            },
                            &format!("{messages_pointer}/{direction}"),
                            "",
                        )?
                        .rust_type)
                };
                let server_type = message_type(types, &messages.server, "server")?;
                let client_type = match &messages.client {
                    Some(reference) => message_type(types, reference, "client")?,
                    None => quote!(support::NoClientMessages),
                };
                let alias = proc_macro2::Ident::new(&type_prefix, proc_macro2::Span::call_site());
                let alias_doc = format!(
                    "The typed connection of the `{operation_id}` channel (`GET {path}`): it reads the client's messages and sends the server's as the contract's `{MESSAGES_EXTENSION}` names them."
                );
                generated.channel_aliases.push(quote! {
                    #[doc = #alias_doc]
                    pub type #alias = support::Channel<#client_type, #server_type>;
                });
                let client_schema = match &messages.client {
                    Some(_) => quote!(Some(support::message_schema::<#client_type>)),
                    None => quote!(None),
                };
                let method_name = *method;
                generated.channel_messages.push(quote! {
                    support::ChannelMessages {
                        path: #path,
                        method: #method_name,
                        client: #client_schema,
                        server: support::message_schema::<#server_type>,
                    }
                });
                extractors.push(quote!(upgrade: ::dropshot::WebsocketUpgrade));
                quote!(support::SwitchingToWebsocket)
            } else {
                let (status, schema, response_pointer) = success.ok_or_else(|| {
                    GenerateError::new(
                        &format!("{pointer}/responses"),
                        "an operation needs one success (2xx) response",
                    )
                })?;
                match (&status, schema) {
                    (StatusCode::Code(204), None) => {
                        quote!(::dropshot::HttpResponseUpdatedNoContent)
                    }
                    (StatusCode::Code(code), Some(schema)) if [200, 201, 202].contains(code) => {
                        let resolved = types.resolve(
                            schema,
                            &format!("{response_pointer}/content/application~1json/schema"),
                            &format!("{type_prefix}Response"),
                        )?;
                        let body_type = resolved.rust_type;
                        let prepared = match operation.extensions.get(PREPARED_EXTENSION) {
                            None => false,
                            Some(serde_json::Value::Bool(prepared)) if *code == 200 => *prepared,
                            Some(_) => {
                                return Err(GenerateError::new(
                                    &format!("{pointer}/{PREPARED_EXTENSION}"),
                                    "`x-snake-arena-prepared-response` is `true` or `false`, on an operation whose success is 200",
                                ));
                            }
                        };
                        match code {
                            200 if prepared => {
                                quote!(::dropshot::HttpResponseOk<support::Prepared<#body_type>>)
                            }
                            200 => quote!(::dropshot::HttpResponseOk<#body_type>),
                            201 => quote!(::dropshot::HttpResponseCreated<#body_type>),
                            _ => quote!(::dropshot::HttpResponseAccepted<#body_type>),
                        }
                    }
                    _ => {
                        return Err(GenerateError::new(
                            &response_pointer,
                            "supported successes are 200, 201 and 202 with a JSON body, and 204 without one",
                        ));
                    }
                }
            };

            let method_upper = proc_macro2::Ident::new(
                &method.to_ascii_uppercase(),
                proc_macro2::Span::call_site(),
            );
            let tags = &operation.tags;
            let mut doc_text = operation.summary.clone().unwrap_or_default();
            if let Some(description) = &operation.description {
                if !doc_text.is_empty() {
                    doc_text.push_str("\n\n");
                }
                doc_text.push_str(description);
            }
            let doc = doc_attribute((!doc_text.is_empty()).then_some(doc_text.as_str()));
            generated.trait_methods.push(quote! {
                #doc
                #[endpoint {
                    method = #method_upper,
                    path = #path,
                    operation_id = #operation_id,
                    tags = [#(#tags),*],
                }]
                async fn #method_ident(
                    rqctx: ::dropshot::RequestContext<Self::Context>,
                    #(#extractors),*
                ) -> ::std::result::Result<#response_type, #error_type>;
            });
        }
    }
    Ok(generated)
}
