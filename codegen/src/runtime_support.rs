//! Runtime support that every generated API module carries: schema building, constraint checks,
//! null handling, the bearer-token extractor, typed channel connections and completion of the
//! served OpenAPI document.
//!
//! The generator copies this file verbatim into its output as `mod support`, so the generated
//! code depends on nothing but dropshot, schemars, serde, serde_json, regex-lite, uuid, chrono,
//! async-trait, futures, bytes, tokio (its clock and sockets), socket2 and tokio-tungstenite. It
//! is not compiled as part of the generator crate itself.

use std::fmt;

/// A value that breaks a constraint of the contract, described for the person who sent it.
///
/// Serde puts the path of the offending field in front of this message, so the client reads
/// for example `username: must be at most 20 characters long`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConstraintViolation(String);

impl ConstraintViolation {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for ConstraintViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConstraintViolation {}

/// A `date-time` value: a UTC time from chrono, on the wire exactly as chrono writes it (RFC 3339
/// with `Z`, and 0, 3, 6 or 9 fractional digits, as few as the value needs).
///
/// chrono's own `Serialize` hands serde_json about twenty fragments per timestamp through
/// `collect_str`, and serde_json escapes each one separately; on a leaderboard page that made the
/// timestamps a quarter of the request's CPU time (`perf`, under `cargo xtask bench`). This type
/// formats the whole string first, with the same chrono function (`to_rfc3339_opts` with
/// `AutoSi`), and writes it once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime(pub chrono::DateTime<chrono::Utc>);

impl DateTime {
    pub fn into_inner(self) -> chrono::DateTime<chrono::Utc> {
        self.0
    }
}

impl From<chrono::DateTime<chrono::Utc>> for DateTime {
    fn from(value: chrono::DateTime<chrono::Utc>) -> Self {
        Self(value)
    }
}

impl std::ops::Deref for DateTime {
    type Target = chrono::DateTime<chrono::Utc>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl serde::Serialize for DateTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(
            &self
                .0
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        )
    }
}

impl<'de> serde::Deserialize<'de> for DateTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <chrono::DateTime<chrono::Utc> as serde::Deserialize>::deserialize(deserializer).map(Self)
    }
}

impl schemars::JsonSchema for DateTime {
    fn schema_name() -> String {
        <chrono::DateTime<chrono::Utc> as schemars::JsonSchema>::schema_name()
    }
    fn is_referenceable() -> bool {
        <chrono::DateTime<chrono::Utc> as schemars::JsonSchema>::is_referenceable()
    }
    fn json_schema(generator: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        <chrono::DateTime<chrono::Utc> as schemars::JsonSchema>::json_schema(generator)
    }
}

/// Checks a string's length in characters (Unicode scalar values), as JSON Schema counts them.
pub fn check_length(
    value: &str,
    min_length: Option<usize>,
    max_length: Option<usize>,
) -> Result<(), ConstraintViolation> {
    let length = value.chars().count();
    if let Some(min_length) = min_length
        && length < min_length
    {
        return Err(ConstraintViolation::new(format!(
            "must be at least {min_length} characters long"
        )));
    }
    if let Some(max_length) = max_length
        && length > max_length
    {
        return Err(ConstraintViolation::new(format!(
            "must be at most {max_length} characters long"
        )));
    }
    Ok(())
}

/// Checks a string against a pattern compiled once per type.
pub fn check_pattern(
    value: &str,
    pattern: &regex_lite::Regex,
) -> Result<(), ConstraintViolation> {
    if pattern.is_match(value) {
        Ok(())
    } else {
        Err(ConstraintViolation::new(format!(
            "must match the pattern {}",
            pattern.as_str()
        )))
    }
}

/// Checks a pattern of the shape `^[CLASS]+$` (or `*`), which the generator turns into a
/// character test (`is_allowed`) instead of a regex; `pattern` is only for the message.
pub fn check_character_class(
    value: &str,
    pattern: &str,
    allows_empty: bool,
    is_allowed: impl Fn(char) -> bool,
) -> Result<(), ConstraintViolation> {
    if (allows_empty || !value.is_empty()) && value.chars().all(is_allowed) {
        Ok(())
    } else {
        Err(ConstraintViolation::new(format!(
            "must match the pattern {pattern}"
        )))
    }
}

/// Checks the `email` format: one `@`, a local part of 1 to 64 visible characters, and a domain
/// of at least two dot-separated labels of letters, digits and inner hyphens.
///
/// This is deliberately stricter than RFC 5322 (no quoted local parts, no IP literals, no
/// comments): those forms are legal but almost never typed into a game's signup form, and
/// refusing them keeps addresses comparable ignoring case.
pub fn check_email(value: &str) -> Result<(), ConstraintViolation> {
    let invalid = || ConstraintViolation::new("must be a valid email address");
    let (local, domain) = value.rsplit_once('@').ok_or_else(invalid)?;
    let local_is_valid = !local.is_empty()
        && local.chars().count() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"@\"(),:;<>[\\]".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_is_valid = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.chars().count() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local_is_valid && domain_is_valid {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// Checks an integer against inclusive bounds (exclusive bounds are turned into inclusive ones
/// by the generator).
pub fn check_integer_range(
    value: i64,
    minimum: Option<i64>,
    maximum: Option<i64>,
) -> Result<(), ConstraintViolation> {
    if let Some(minimum) = minimum
        && value < minimum
    {
        return Err(ConstraintViolation::new(format!(
            "must be at least {minimum}"
        )));
    }
    if let Some(maximum) = maximum
        && value > maximum
    {
        return Err(ConstraintViolation::new(format!(
            "must be at most {maximum}"
        )));
    }
    Ok(())
}

/// Checks a number against its bounds; `exclusive` says whether each bound itself is excluded.
pub fn check_number_range(
    value: f64,
    minimum: Option<(f64, bool)>,
    maximum: Option<(f64, bool)>,
) -> Result<(), ConstraintViolation> {
    if !value.is_finite() {
        return Err(ConstraintViolation::new("must be a finite number"));
    }
    if let Some((minimum, exclusive)) = minimum
        && (value < minimum || (exclusive && value == minimum))
    {
        let relation = if exclusive { "greater than" } else { "at least" };
        return Err(ConstraintViolation::new(format!(
            "must be {relation} {minimum}"
        )));
    }
    if let Some((maximum, exclusive)) = maximum
        && (value > maximum || (exclusive && value == maximum))
    {
        let relation = if exclusive { "less than" } else { "at most" };
        return Err(ConstraintViolation::new(format!(
            "must be {relation} {maximum}"
        )));
    }
    Ok(())
}

/// Checks how many items an array holds.
pub fn check_item_count(
    count: usize,
    min_items: Option<usize>,
    max_items: Option<usize>,
) -> Result<(), ConstraintViolation> {
    if let Some(min_items) = min_items
        && count < min_items
    {
        return Err(ConstraintViolation::new(format!(
            "must hold at least {min_items} items"
        )));
    }
    if let Some(max_items) = max_items
        && count > max_items
    {
        return Err(ConstraintViolation::new(format!(
            "must hold at most {max_items} items"
        )));
    }
    Ok(())
}

/// Puts the path of the failing field in front of a deserialization error, unless the error is
/// about the whole value (`.`).
pub fn describe_at_path(path: &str, error: &dyn fmt::Display) -> String {
    if path.is_empty() || path == "." {
        error.to_string()
    } else {
        format!("{path}: {error}")
    }
}

/// Deserializes an optional field that must not be `null` when present.
///
/// Serde treats `null` as `None` for `Option<T>`; the contract says an optional, non-nullable
/// field may be absent but never `null`, so a present value goes through `T` itself.
pub fn deserialize_present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Deserializes a required, nullable field: it must be present, and may be `null`.
pub fn deserialize_nullable<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer)
}

/// Deserializes an optional, nullable field: absent is the outer `None`, `null` the inner one.
pub fn deserialize_optional_nullable<'de, D, T>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// Builds the JSON Schema of one contract schema, keyword by keyword, so that every constraint
/// of `openapi.yaml` reaches the OpenAPI document the server emits.
#[derive(Default)]
pub struct SchemaBuilder {
    schema: schemars::schema::SchemaObject,
}

impl SchemaBuilder {
    fn of_type(instance_type: schemars::schema::InstanceType) -> Self {
        Self {
            schema: schemars::schema::SchemaObject {
                instance_type: Some(instance_type.into()),
                ..Default::default()
            },
        }
    }

    pub fn string() -> Self {
        Self::of_type(schemars::schema::InstanceType::String)
    }

    pub fn integer() -> Self {
        Self::of_type(schemars::schema::InstanceType::Integer)
    }

    pub fn number() -> Self {
        Self::of_type(schemars::schema::InstanceType::Number)
    }

    pub fn boolean() -> Self {
        Self::of_type(schemars::schema::InstanceType::Boolean)
    }

    pub fn array(items: schemars::schema::Schema) -> Self {
        let mut builder = Self::of_type(schemars::schema::InstanceType::Array);
        builder.schema.array().items = Some(items.into());
        builder
    }

    pub fn object() -> Self {
        let mut builder = Self::of_type(schemars::schema::InstanceType::Object);
        // Touching the object validation makes an empty object emit `properties: {}` consistently.
        builder.schema.object();
        builder
    }

    pub fn format(mut self, format: &str) -> Self {
        self.schema.format = Some(format.to_owned());
        self
    }

    pub fn description(mut self, description: &str) -> Self {
        self.schema.metadata().description = Some(description.to_owned());
        self
    }

    pub fn default_value(mut self, value: serde_json::Value) -> Self {
        self.schema.metadata().default = Some(value);
        self
    }

    pub fn nullable(mut self) -> Self {
        self.schema
            .extensions
            .insert("nullable".to_owned(), serde_json::Value::Bool(true));
        self
    }

    pub fn min_length(mut self, min_length: u32) -> Self {
        self.schema.string().min_length = Some(min_length);
        self
    }

    pub fn max_length(mut self, max_length: u32) -> Self {
        self.schema.string().max_length = Some(max_length);
        self
    }

    pub fn pattern(mut self, pattern: &str) -> Self {
        self.schema.string().pattern = Some(pattern.to_owned());
        self
    }

    pub fn minimum(mut self, minimum: f64) -> Self {
        self.schema.number().minimum = Some(minimum);
        self
    }

    pub fn maximum(mut self, maximum: f64) -> Self {
        self.schema.number().maximum = Some(maximum);
        self
    }

    pub fn exclusive_minimum(mut self, minimum: f64) -> Self {
        self.schema.number().exclusive_minimum = Some(minimum);
        self
    }

    pub fn exclusive_maximum(mut self, maximum: f64) -> Self {
        self.schema.number().exclusive_maximum = Some(maximum);
        self
    }

    pub fn min_items(mut self, min_items: u32) -> Self {
        self.schema.array().min_items = Some(min_items);
        self
    }

    pub fn max_items(mut self, max_items: u32) -> Self {
        self.schema.array().max_items = Some(max_items);
        self
    }

    pub fn enum_values(mut self, values: &[&str]) -> Self {
        self.schema.enum_values = Some(
            values
                .iter()
                .map(|value| serde_json::Value::String((*value).to_owned()))
                .collect(),
        );
        self
    }

    pub fn property(
        mut self,
        name: &str,
        schema: schemars::schema::Schema,
        required: bool,
    ) -> Self {
        let object = self.schema.object();
        object.properties.insert(name.to_owned(), schema);
        if required {
            object.required.insert(name.to_owned());
        }
        self
    }

    pub fn additional_properties(mut self, allowed: bool) -> Self {
        self.schema.object().additional_properties =
            Some(Box::new(schemars::schema::Schema::Bool(allowed)));
        self
    }

    pub fn build(self) -> schemars::schema::Schema {
        schemars::schema::Schema::Object(self.schema)
    }
}

/// Turns a bearer token into the caller it belongs to. Implemented by the type the server names
/// as its principal; the generated trait hands that type to every secured operation.
pub trait BearerAuthenticator: Sized + Send + Sync + 'static {
    /// The server context that can resolve tokens; it must be the API's `Context` type.
    type Context: dropshot::ServerContext;

    /// Resolves a token (without the `Bearer ` prefix). A failure must be a 401 error.
    fn authenticate(
        context: &Self::Context,
        bearer_token: &str,
    ) -> impl std::future::Future<Output = Result<Self, dropshot::HttpError>> + Send;
}

/// The authenticated caller of a secured operation. Only the generated extractor makes one, so
/// a handler that receives it knows the token was checked before it ran.
pub struct Authenticated<P>(P);

impl<P> Authenticated<P> {
    pub fn principal(&self) -> &P {
        &self.0
    }

    pub fn into_principal(self) -> P {
        self.0
    }
}

fn unauthenticated(message: &str) -> dropshot::HttpError {
    dropshot::HttpError::for_client_error(
        Some("unauthenticated".to_owned()),
        dropshot::ClientErrorStatusCode::UNAUTHORIZED,
        message.to_owned(),
    )
}

/// Reads the token of an `Authorization: Bearer <token>` header. The scheme is matched ignoring
/// case (RFC 7235); tokens in the query string are never looked at.
pub fn bearer_token(headers: &http::HeaderMap) -> Result<&str, dropshot::HttpError> {
    let header = headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| unauthenticated("this call needs an `Authorization: Bearer <token>` header"))?;
    let header = header
        .to_str()
        .map_err(|_| unauthenticated("the Authorization header is not valid text"))?;
    let (scheme, token) = header
        .split_once(' ')
        .ok_or_else(|| unauthenticated("the Authorization header must be `Bearer <token>`"))?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(unauthenticated(
            "the Authorization header must be `Bearer <token>`",
        ));
    }
    Ok(token)
}

#[async_trait::async_trait]
impl<P: BearerAuthenticator> dropshot::SharedExtractor for Authenticated<P> {
    async fn from_request<Context: dropshot::ServerContext>(
        rqctx: &dropshot::RequestContext<Context>,
    ) -> Result<Self, dropshot::HttpError> {
        let token = bearer_token(rqctx.request.headers())?;
        // Dropshot's extractors are generic over every context type, so the principal's context
        // is recovered by type. It only fails if the server was built with a context other than
        // the one the principal type names, which is a wiring mistake, not a client's.
        let context = (rqctx.context() as &dyn std::any::Any)
            .downcast_ref::<P::Context>()
            .ok_or_else(|| {
                dropshot::HttpError::for_internal_error(format!(
                    "the server context is not {}, which {} needs to authenticate",
                    std::any::type_name::<P::Context>(),
                    std::any::type_name::<P>(),
                ))
            })?;
        P::authenticate(context, token).await.map(Authenticated)
    }

    fn metadata(
        _body_content_type: dropshot::ApiEndpointBodyContentType,
    ) -> dropshot::ExtractorMetadata {
        // The requirement is declared in the document's `security` instead of as a parameter,
        // by `complete_openapi_document`.
        dropshot::ExtractorMetadata {
            extension_mode: dropshot::ExtensionMode::None,
            parameters: Vec::new(),
        }
    }
}

/// One operation's security requirement, as the generator read it from the contract.
pub struct SecuredOperation {
    pub path: &'static str,
    pub method: &'static str,
    pub scheme: &'static str,
}

/// Adds what Dropshot does not emit to its document: the security schemes and each secured
/// operation's requirement.
pub fn add_security(
    document: &mut serde_json::Value,
    security_schemes: serde_json::Value,
    secured_operations: &[SecuredOperation],
) {
    if let Some(document) = document.as_object_mut() {
        let components = document
            .entry("components")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(components) = components.as_object_mut() {
            components.insert("securitySchemes".to_owned(), security_schemes);
        }
    }
    for operation in secured_operations {
        if let Some(entry) = document
            .get_mut("paths")
            .and_then(|paths| paths.get_mut(operation.path))
            .and_then(|path| path.get_mut(operation.method))
            .and_then(|entry| entry.as_object_mut())
        {
            entry.insert(
                "security".to_owned(),
                serde_json::json!([{ operation.scheme: [] }]),
            );
        }
    }
}

/// Puts a parameter's `default` back into its schema: Dropshot removes every parameter schema's
/// metadata, `default` included, when it turns the parameter struct into parameters.
pub fn restore_parameter_default(
    document: &mut serde_json::Value,
    path: &str,
    method: &str,
    name: &str,
    default: serde_json::Value,
) {
    let parameters = document
        .get_mut("paths")
        .and_then(|paths| paths.get_mut(path))
        .and_then(|entry| entry.get_mut(method))
        .and_then(|operation| operation.get_mut("parameters"))
        .and_then(|parameters| parameters.as_array_mut());
    for parameter in parameters.into_iter().flatten() {
        if parameter.get("name").and_then(|value| value.as_str()) == Some(name)
            && let Some(schema) = parameter.get_mut("schema").and_then(|schema| schema.as_object_mut())
        {
            schema.insert("default".to_owned(), default.clone());
        }
    }
}

/// What the server emits a channel's upgrade as: Dropshot's `SwitchingToWebsocket`, the success
/// type of `WebsocketEndpointResult`, which Dropshot does not export by name.
pub type SwitchingToWebsocket = <dropshot::WebsocketEndpointResult as ResultParts>::Success;

/// Names the success type of a `Result` alias.
pub trait ResultParts {
    type Success;
}

impl<T, E> ResultParts for Result<T, E> {
    type Success = T;
}

/// The body of an operation marked `x-snake-arena-prepared-response: true`: either a value,
/// encoded when it is sent, or JSON text encoded earlier (once, for many answers) that is sent
/// as it is. Its JSON Schema is the value's, so the served document does not change.
#[derive(Debug, Clone)]
pub enum Prepared<T> {
    Value(T),
    Json(std::sync::Arc<serde_json::value::RawValue>),
}

impl<T> From<T> for Prepared<T> {
    fn from(value: T) -> Self {
        Self::Value(value)
    }
}

impl<T: serde::Serialize> Prepared<T> {
    /// Encodes `value` once, for answers that will share it.
    pub fn encode(value: &T) -> serde_json::Result<std::sync::Arc<serde_json::value::RawValue>> {
        let text = serde_json::to_string(value)?;
        Ok(std::sync::Arc::from(serde_json::value::RawValue::from_string(text)?))
    }
}

impl<T: serde::Serialize> serde::Serialize for Prepared<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Value(value) => value.serialize(serializer),
            Self::Json(json) => json.serialize(serializer),
        }
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Prepared<T> {
    fn schema_name() -> String {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        T::json_schema(generator)
    }

    fn is_referenceable() -> bool {
        T::is_referenceable()
    }
}

/// The client messages of a channel whose contract names none (`x-snake-arena-messages` without
/// `client`): no message can be read as one, so every client message is refused.
#[derive(Debug)]
pub enum NoClientMessages {}

impl<'de> serde::Deserialize<'de> for NoClientMessages {
    fn deserialize<D: serde::Deserializer<'de>>(_deserializer: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom("this channel takes no client messages"))
    }
}

/// Why a channel's conversation stopped early.
#[derive(Debug)]
pub enum ChannelError {
    /// The WebSocket failed (the client went away, a protocol error).
    WebSocket(tokio_tungstenite::tungstenite::Error),
    /// The client sent a message that is not JSON text of the channel's client message schema.
    InvalidClientMessage(String),
    /// A server message could not be written as JSON.
    Serialize(serde_json::Error),
    /// The upgraded connection is not a plain TCP connection (it is TLS), which channels need
    /// to share a socket between tasks.
    NotPlainTcp,
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WebSocket(error) => write!(f, "the WebSocket failed: {error}"),
            Self::InvalidClientMessage(detail) => write!(f, "invalid client message: {detail}"),
            Self::Serialize(error) => write!(f, "a server message is not serializable: {error}"),
            Self::NotPlainTcp => write!(f, "channels are served over plain TCP only, not TLS"),
        }
    }
}

impl std::error::Error for ChannelError {}

impl From<std::io::Error> for ChannelError {
    fn from(error: std::io::Error) -> Self {
        Self::WebSocket(tokio_tungstenite::tungstenite::Error::Io(error))
    }
}

impl From<tokio_tungstenite::tungstenite::Error> for ChannelError {
    fn from(error: tokio_tungstenite::tungstenite::Error) -> Self {
        Self::WebSocket(error)
    }
}

/// The upgraded connection of one channel, typed by the contract: `receive` reads the client's
/// messages as `Client`, `send` writes `Server` messages, both as JSON text frames.
pub struct Channel<Client, Server> {
    stream: tokio_tungstenite::WebSocketStream<ChannelSocket>,
    /// The socket's outgoing side, shared with the stream and with every [`FrameWriter`] handed
    /// out, so the channel can write out what they queued while it waits for the client.
    outbox: std::sync::Arc<Outbox>,
    /// When the client was last heard from (any frame, pongs included), so a conversation can
    /// close a peer that has gone silent.
    last_heard: tokio::time::Instant,
    messages: std::marker::PhantomData<fn(Server) -> Client>,
}

/// The largest client message a channel reads: a client message is a small JSON object, and the
/// read buffer of every connection is sized by it, so a spectator costs little memory.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 1024;

/// How many bytes a channel asks the socket for at a time. tungstenite zeroes this much of its
/// read buffer on every attempt to read, which a channel makes each time it wakes to send a
/// frame; at 4 KiB that was the largest cost of a frame sent to a crowd of spectators after the
/// send itself (their buffers do not stay in cache). Client messages are a few dozen bytes, and
/// a longer one is still read whole, in several reads.
const CHANNEL_READ_CHUNK_BYTES: usize = 256;

/// The WebSocket settings of every channel: messages and frames of at most
/// [`MAX_CLIENT_MESSAGE_BYTES`] (a larger one fails the connection with "message too big"), a
/// small read buffer, and every server message written at once rather than batched.
fn channel_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_CLIENT_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_CLIENT_MESSAGE_BYTES))
        .read_buffer_size(CHANNEL_READ_CHUNK_BYTES)
        .write_buffer_size(0)
}

impl<Client, Server> Channel<Client, Server>
where
    Client: serde::de::DeserializeOwned + Send + 'static,
    Server: serde::Serialize + Send + 'static,
{
    /// Accepts the upgrade and runs `conversation` on the typed connection once the client has
    /// switched protocols. Everything that may refuse the request (credentials, path, query)
    /// must happen before this call, since its result is the `101` answer.
    pub fn accept<Conversation, Finished>(
        upgrade: dropshot::WebsocketUpgrade,
        conversation: Conversation,
    ) -> dropshot::WebsocketEndpointResult
    where
        Conversation: FnOnce(Self) -> Finished + Send + 'static,
        Finished: std::future::Future<Output = Result<(), ChannelError>> + Send + 'static,
    {
        upgrade.handle(move |connection| async move {
            let Ok((socket, unread)) = connection.into_inner().into_tcp_stream() else {
                return Err(ChannelError::NotPlainTcp.into());
            };
            let socket = ChannelSocket::new(socket, unread);
            let outbox = std::sync::Arc::clone(&socket.outbox);
            let stream = tokio_tungstenite::WebSocketStream::from_raw_socket(
                socket,
                tokio_tungstenite::tungstenite::protocol::Role::Server,
                Some(channel_config()),
            )
            .await;
            conversation(Self {
                stream,
                outbox,
                last_heard: tokio::time::Instant::now(),
                messages: std::marker::PhantomData,
            })
            .await
            .map_err(Into::into)
        })
    }

    /// Sends one server message as a JSON text frame.
    pub async fn send(&mut self, message: &Server) -> Result<(), ChannelError> {
        use futures::SinkExt;
        let text = serde_json::to_string(message).map_err(ChannelError::Serialize)?;
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::text(text))
            .await?;
        Ok(())
    }

    /// Sends a server message that was serialised once for many connections (a live game's frame
    /// shared by all its spectators); `json` must be a `Server` message as JSON.
    pub async fn send_prepared(&mut self, json: bytes::Bytes) -> Result<(), ChannelError> {
        use futures::SinkExt;
        let text = tokio_tungstenite::tungstenite::Utf8Bytes::try_from(json).map_err(|error| {
            ChannelError::Serialize(serde::ser::Error::custom(format!(
                "a prepared message is not UTF-8: {error}"
            )))
        })?;
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::Text(text))
            .await?;
        Ok(())
    }

    /// A handle through which another task writes messages prepared once for many channels
    /// (a live game's frame, written to each of its spectators) straight to this connection's
    /// socket, without waking this channel's task; what the socket does not take at once, this
    /// channel writes out while it waits in [`Channel::receive`].
    pub fn frame_writer(&self) -> FrameWriter {
        FrameWriter {
            outbox: std::sync::Arc::downgrade(&self.outbox),
        }
    }

    /// Sends a ping; the client's pong counts as hearing from it.
    pub async fn ping(&mut self) -> Result<(), ChannelError> {
        use futures::SinkExt;
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::Ping(
                bytes::Bytes::new(),
            ))
            .await?;
        Ok(())
    }

    /// When the client last sent anything: a message, a ping, a pong or a close.
    pub fn last_heard(&self) -> tokio::time::Instant {
        self.last_heard
    }

    /// The next client message; `None` once the client has closed the connection. Pings are
    /// answered by the WebSocket layer and skipped here; a binary frame or a text frame that is
    /// not a client message of the contract is an `InvalidClientMessage`.
    pub async fn receive(&mut self) -> Option<Result<Client, ChannelError>> {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            // While it waits for the client, the channel writes out what frame writers queued
            // for it; it cannot fail otherwise, only when the socket does.
            let next = tokio::select! {
                biased;
                failure = self.outbox.keep_writing() => return Some(Err(failure.into())),
                next = self.stream.next() => next?,
            };
            let message = match next {
                Ok(message) => message,
                Err(error) => return Some(Err(error.into())),
            };
            self.last_heard = tokio::time::Instant::now();
            return Some(match message {
                Message::Text(text) => serde_json::from_str(text.as_str())
                    .map_err(|error| ChannelError::InvalidClientMessage(error.to_string())),
                Message::Binary(_) => Err(ChannelError::InvalidClientMessage(
                    "messages are JSON text frames, not binary".to_owned(),
                )),
                Message::Close(_) => return None,
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            });
        }
    }

    /// Closes the connection normally (code 1000) with `reason`, then waits for the client's
    /// close frame so the closing handshake completes.
    pub async fn close(self, reason: &str) -> Result<(), ChannelError> {
        self.close_with(
            tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Normal,
            reason,
        )
        .await
    }

    /// Closes the connection with `code` (1008 for a policy violation, say) and `reason`, then
    /// waits for the client's close frame (or the connection's end).
    pub async fn close_with(
        mut self,
        code: tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode,
        reason: &str,
    ) -> Result<(), ChannelError> {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::protocol::CloseFrame;
        // Nothing may follow the close frame: frame writers' messages are refused from now on.
        self.outbox.refuse_shared_messages();
        // A client that takes nothing more (it stopped reading, and its socket is full) must not
        // hold the connection either: the close frame waits for it within the same bound.
        match tokio::time::timeout(
            CLOSE_HANDSHAKE_TIMEOUT,
            self.stream.close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })),
        )
        .await
        {
            Ok(sent) => sent?,
            Err(_) => return Ok(()),
        }
        // A client that never answers the close (a silent or vanished peer) must not hold the
        // connection: after the bound the connection is dropped all the same.
        let _ = tokio::time::timeout(CLOSE_HANDSHAKE_TIMEOUT, async {
            let mut client_closed = false;
            while let Some(message) = self.stream.next().await {
                match message {
                    Ok(tokio_tungstenite::tungstenite::Message::Close(_)) => client_closed = true,
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            if !client_closed {
                // The WebSocket layer stopped reading before the client's close (after a
                // message too large to read, say), and the client's bytes may still wait in
                // the socket: closing it with bytes unread would make the kernel reset the
                // connection, and the client could lose the error message and the close frame
                // before reading them.
                discard_unread(self.stream.get_mut()).await;
            }
        })
        .await;
        Ok(())
    }
}

/// The most a closing channel reads and drops of what its client is still sending.
const MAX_DISCARDED_BYTES: usize = 64 * 1024;

/// Reads and drops what the client sends until it closes, fails or has sent
/// [`MAX_DISCARDED_BYTES`].
async fn discard_unread(stream: &mut ChannelSocket) {
    use tokio::io::AsyncReadExt;
    let mut buffer = [0u8; 1024];
    let mut discarded = 0;
    while discarded < MAX_DISCARDED_BYTES {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => discarded += read,
        }
    }
}

/// How long a channel waits for the client's answer to its close frame before it drops the
/// connection anyway.
pub const CLOSE_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The send buffer a channel asks the kernel for (Linux reserves twice as much). A channel sends
/// a few KiB a second, so this is ample on any link; left to itself, the kernel lets the buffer
/// of a client that stops reading grow to megabytes, and a crowd of such clients would hold the
/// machine's memory, while a bounded buffer makes the server notice and skip frames instead.
const CHANNEL_SEND_BUFFER_BYTES: usize = 16 * 1024;

/// The socket under a channel's WebSocket. The channel's own task reads it and writes through
/// it (replies, pings, its messages, the close) by way of tungstenite; other tasks write whole
/// messages prepared once for many channels through a [`FrameWriter`]. Both go through one
/// [`Outbox`], so every hand-over reaches the socket whole and in order.
pub struct ChannelSocket {
    read: tokio::net::tcp::OwnedReadHalf,
    /// Bytes the client sent right after its upgrade request, read along with the request;
    /// they are read before the socket.
    unread: bytes::Bytes,
    outbox: std::sync::Arc<Outbox>,
}

impl ChannelSocket {
    fn new(socket: tokio::net::TcpStream, unread: bytes::Bytes) -> Self {
        // Should this fail, the socket keeps the kernel's default, which only costs memory.
        let _ = socket2::SockRef::from(&socket).set_send_buffer_size(CHANNEL_SEND_BUFFER_BYTES);
        let (read, write) = socket.into_split();
        Self {
            read,
            // Even empty, `unread` may be a slice of the whole HTTP read buffer, which it would
            // keep for the connection's life.
            unread: if unread.is_empty() {
                bytes::Bytes::new()
            } else {
                unread
            },
            outbox: std::sync::Arc::new(Outbox {
                socket: write,
                queue: std::sync::Mutex::new(OutboxQueue::default()),
                channel_task: futures::task::AtomicWaker::new(),
            }),
        }
    }
}

impl tokio::io::AsyncRead for ChannelSocket {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if !self.unread.is_empty() {
            let taken = self.unread.len().min(buf.remaining());
            let unread = self.unread.split_to(taken);
            buf.put_slice(&unread);
            if self.unread.is_empty() {
                self.unread = bytes::Bytes::new();
            }
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.read).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for ChannelSocket {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        // Always taken whole (what the socket does not take waits in the queue), so a message
        // tungstenite writes is one hand-over; its flush, which follows every message, waits
        // until the queue is written out, which bounds the queue.
        std::task::Poll::Ready(
            self.outbox
                .write_or_queue(buf, HandOver::Channel, |from| {
                    bytes::Bytes::copy_from_slice(&buf[from..])
                })
                .map(|_| buf.len()),
        )
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.outbox.poll_write_queued(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        // The socket's writing side is shut when the channel drops it; here everything queued
        // is written out first.
        self.outbox.poll_write_queued(cx)
    }
}

/// The outgoing side of a channel's socket: bytes are written at once as far as the socket takes
/// them, and the rest waits, in order, for the channel's task to write it out.
struct Outbox {
    socket: tokio::net::tcp::OwnedWriteHalf,
    queue: std::sync::Mutex<OutboxQueue>,
    /// The channel's task, woken when bytes are queued for it to write out.
    channel_task: futures::task::AtomicWaker,
}

#[derive(Default)]
struct OutboxQueue {
    waiting: std::collections::VecDeque<bytes::Bytes>,
    waiting_bytes: usize,
    /// Set once the channel has sent its close frame, after which no shared message may follow.
    refuses_shared_messages: bool,
    /// Why the socket failed, once it has: every later write fails the same way.
    failure: Option<std::io::ErrorKind>,
}

/// Who hands bytes to an [`Outbox`].
#[derive(Clone, Copy)]
enum HandOver {
    /// The channel itself (through tungstenite): always taken.
    Channel,
    /// A [`FrameWriter`]: refused once the channel has sent its close frame, and skipped when
    /// more than `max_waiting` bytes (if given) already wait.
    Shared { max_waiting: Option<usize> },
}

/// What became of a message handed to a [`FrameWriter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Written to the socket, or queued behind what the socket has not taken yet.
    Accepted,
    /// Left out: the connection has more than the allowed bytes still waiting (its client reads
    /// too slowly), so this message would only add to them.
    Skipped,
    /// The channel has ended, is closing, or its socket failed: nothing more can go to it.
    Gone,
}

impl Outbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, OutboxQueue> {
        // The lock is held only around non-blocking writes that cannot panic halfway through a
        // change to the queue, so a poisoned lock still holds a consistent queue.
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes `bytes` to the socket as far as it takes them now and queues the rest, made by
    /// `rest_from(offset)`, behind anything queued before it.
    fn write_or_queue(
        &self,
        bytes: &[u8],
        from: HandOver,
        rest_from: impl FnOnce(usize) -> bytes::Bytes,
    ) -> std::io::Result<Delivery> {
        let mut queue = self.lock();
        if let Some(kind) = queue.failure {
            return Err(kind.into());
        }
        if let HandOver::Shared { max_waiting } = from {
            if queue.refuses_shared_messages {
                return Ok(Delivery::Gone);
            }
            if max_waiting.is_some_and(|max_waiting| queue.waiting_bytes > max_waiting) {
                return Ok(Delivery::Skipped);
            }
        }
        let mut written = 0;
        if queue.waiting.is_empty() {
            while written < bytes.len() {
                let kind = match self.socket.try_write(&bytes[written..]) {
                    Ok(0) => std::io::ErrorKind::WriteZero,
                    Ok(count) => {
                        written += count;
                        continue;
                    }
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(error) => error.kind(),
                };
                let error = Self::fail(&mut queue, kind);
                drop(queue);
                // The channel's task learns of the failure when it next writes out its queue.
                self.channel_task.wake();
                return Err(error);
            }
            if written == bytes.len() {
                return Ok(Delivery::Accepted);
            }
        }
        let rest = rest_from(written);
        queue.waiting_bytes += rest.len();
        queue.waiting.push_back(rest);
        drop(queue);
        self.channel_task.wake();
        Ok(Delivery::Accepted)
    }

    fn fail(queue: &mut OutboxQueue, kind: std::io::ErrorKind) -> std::io::Error {
        queue.failure = Some(kind);
        queue.waiting.clear();
        queue.waiting_bytes = 0;
        kind.into()
    }

    /// Writes the queue out: ready once it is empty, pending while the socket takes no more.
    fn poll_write_queued(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use bytes::Buf;
        loop {
            let mut queue = self.lock();
            if let Some(kind) = queue.failure {
                return std::task::Poll::Ready(Err(kind.into()));
            }
            let Some(front) = queue.waiting.front() else {
                return std::task::Poll::Ready(Ok(()));
            };
            match self.socket.try_write(front) {
                Ok(0) => {
                    let error = Self::fail(&mut queue, std::io::ErrorKind::WriteZero);
                    return std::task::Poll::Ready(Err(error));
                }
                Ok(count) => {
                    queue.waiting_bytes -= count;
                    if let Some(front) = queue.waiting.front_mut() {
                        front.advance(count);
                        if front.is_empty() {
                            queue.waiting.pop_front();
                        }
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                    drop(queue);
                    // Only the channel's task waits for the socket to drain (frame writers only
                    // try), so the one waker the socket keeps for writing is always its own.
                    match self.socket.as_ref().poll_write_ready(cx) {
                        std::task::Poll::Ready(Ok(())) => continue,
                        std::task::Poll::Ready(Err(error)) => {
                            let error = Self::fail(&mut self.lock(), error.kind());
                            return std::task::Poll::Ready(Err(error));
                        }
                        std::task::Poll::Pending => return std::task::Poll::Pending,
                    }
                }
                Err(error) => {
                    let error = Self::fail(&mut queue, error.kind());
                    return std::task::Poll::Ready(Err(error));
                }
            }
        }
    }

    /// Writes out whatever is queued, whenever it is, for as long as the socket works: it
    /// finishes only with the socket's failure.
    async fn keep_writing(&self) -> std::io::Error {
        std::future::poll_fn(|cx| {
            // Registered before the queue is looked at, so bytes queued after the look wake it.
            self.channel_task.register(cx.waker());
            match self.poll_write_queued(cx) {
                std::task::Poll::Ready(Err(error)) => std::task::Poll::Ready(error),
                _ => std::task::Poll::Pending,
            }
        })
        .await
    }

    fn refuse_shared_messages(&self) {
        self.lock().refuses_shared_messages = true;
    }
}

/// A server message framed for WebSocket once, to be written as it is to many connections: a
/// server's frames are not masked, so the bytes are the same for every client.
#[derive(Debug, Clone)]
pub struct PreparedMessage(bytes::Bytes);

impl PreparedMessage {
    /// A text message of `json`, which must be a server message of the channels it is written to
    /// as JSON.
    pub fn text(json: &[u8]) -> Result<Self, ChannelError> {
        std::str::from_utf8(json).map_err(|error| {
            ChannelError::Serialize(serde::ser::Error::custom(format!(
                "a prepared message is not UTF-8: {error}"
            )))
        })?;
        // RFC 6455 section 5.2: FIN and the text opcode, then the payload length in 7 bits, or
        // 126 and 16 bits, or 127 and 64 bits, with no mask.
        let mut frame = bytes::BytesMut::with_capacity(json.len() + 10);
        frame.extend_from_slice(&[0x81]);
        match json.len() {
            length @ 0..=125 => frame.extend_from_slice(&[length as u8]),
            length @ 126..=0xFFFF => {
                frame.extend_from_slice(&[126]);
                frame.extend_from_slice(&(length as u16).to_be_bytes());
            }
            length => {
                frame.extend_from_slice(&[127]);
                frame.extend_from_slice(&(length as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(json);
        Ok(Self(frame.freeze()))
    }
}

/// Writes prepared messages to one channel's connection from any task. It does not keep the
/// connection open: once the channel has ended, every message is [`Delivery::Gone`].
#[derive(Clone)]
pub struct FrameWriter {
    outbox: std::sync::Weak<Outbox>,
}

impl FrameWriter {
    /// Writes `message` to the connection at once as far as its socket takes it; the rest waits
    /// for the channel's task to write it out. A message is skipped when more than `max_waiting`
    /// bytes already wait, unless it `must_arrive` (a game's final frame).
    pub fn write(&self, message: &PreparedMessage, max_waiting: usize, must_arrive: bool) -> Delivery {
        let Some(outbox) = self.outbox.upgrade() else {
            return Delivery::Gone;
        };
        let max_waiting = (!must_arrive).then_some(max_waiting);
        outbox
            .write_or_queue(&message.0, HandOver::Shared { max_waiting }, |from| {
                message.0.slice(from..)
            })
            .unwrap_or(Delivery::Gone)
    }
}

/// The schema of a message type, as a reference to its component.
pub fn message_schema<T: schemars::JsonSchema>(
    generator: &mut schemars::r#gen::SchemaGenerator,
) -> schemars::schema::Schema {
    generator.subschema_for::<T>()
}

/// One channel operation's message schemas, as the contract's `x-snake-arena-messages` names them.
pub struct ChannelMessages {
    pub path: &'static str,
    pub method: &'static str,
    pub client: Option<fn(&mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema>,
    pub server: fn(&mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema,
}

/// The extension that names a channel's message schemas each way.
pub const MESSAGES_EXTENSION: &str = "x-snake-arena-messages";

/// Adds what no endpoint's signature tells Dropshot about channels: each channel operation's
/// `x-snake-arena-messages`, and the message schemas (with the schemas they use) under
/// `components/schemas`, written from the generated types' own JSON Schemas, so a message type
/// that drifts from the contract shows in the served document.
pub fn add_channel_messages(
    document: &mut serde_json::Value,
    channels: &[ChannelMessages],
) -> serde_json::Result<()> {
    if channels.is_empty() {
        return Ok(());
    }
    let mut generator = schemars::r#gen::SchemaSettings::openapi3().into_generator();
    for channel in channels {
        let mut messages = serde_json::Map::new();
        if let Some(client) = channel.client {
            messages.insert("client".to_owned(), serde_json::to_value(client(&mut generator))?);
        }
        messages.insert(
            "server".to_owned(),
            serde_json::to_value((channel.server)(&mut generator))?,
        );
        if let Some(operation) = document
            .get_mut("paths")
            .and_then(|paths| paths.get_mut(channel.path))
            .and_then(|path| path.get_mut(channel.method))
            .and_then(|operation| operation.as_object_mut())
        {
            operation.insert(
                MESSAGES_EXTENSION.to_owned(),
                serde_json::Value::Object(messages),
            );
        }
    }
    let Some(document) = document.as_object_mut() else {
        return Ok(());
    };
    let components = document
        .entry("components")
        .or_insert_with(|| serde_json::json!({}));
    let Some(components) = components.as_object_mut() else {
        return Ok(());
    };
    let schemas = components
        .entry("schemas")
        .or_insert_with(|| serde_json::json!({}));
    let Some(schemas) = schemas.as_object_mut() else {
        return Ok(());
    };
    for (name, schema) in generator.take_definitions() {
        if !schemas.contains_key(&name) {
            schemas.insert(name, serde_json::to_value(schema)?);
        }
    }
    Ok(())
}
