//! The one map from domain errors to HTTP: `ApiError`, the error every operation returns, with
//! its status, stable `code` and player-readable `detail`, built from the domain's `Error` or from
//! Dropshot's own errors.

use crate::error::Error;

/// The error every operation returns: status, a stable `code` and a `detail` a player can read,
/// serialized as the contract's `Error` schema.
///
/// This is the one place where failures become HTTP: domain errors through
/// `From<Error>`, Dropshot's own (bad input, unknown routes) through `From<HttpError>`.
#[derive(Debug)]
pub struct ApiError {
    status: dropshot::ErrorStatusCode,
    code: std::borrow::Cow<'static, str>,
    detail: String,
    /// What the operator's log shows instead of `detail`, for server-side faults.
    internal_detail: Option<String>,
    /// When the client may try again, sent as `Retry-After` (whole seconds, at least 1).
    retry_after: Option<std::time::Duration>,
}

/// The contract caps `detail` at 2048 characters; longer Dropshot messages are cut to fit.
const MAX_DETAIL_CHARACTERS: usize = 2048;

/// Cuts a message to the contract's limit.
fn fit_detail(detail: String) -> String {
    if detail.chars().count() > MAX_DETAIL_CHARACTERS {
        detail.chars().take(MAX_DETAIL_CHARACTERS).collect()
    } else {
        detail
    }
}

impl ApiError {
    fn new(
        status: dropshot::ErrorStatusCode,
        code: impl Into<std::borrow::Cow<'static, str>>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            detail: fit_detail(detail.into()),
            internal_detail: None,
            retry_after: None,
        }
    }

    /// A fault of the server: the client reads a generic message, the log the real one.
    pub fn internal(internal_detail: impl Into<String>) -> Self {
        let mut error = Self::new(
            dropshot::ErrorStatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            Error::Internal(String::new()).to_string(),
        );
        error.internal_detail = Some(internal_detail.into());
        error
    }

    /// A refusal that is not about credentials (403), such as a browser origin the server does not
    /// admit.
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(dropshot::ErrorStatusCode::FORBIDDEN, code, detail)
    }

    /// A request refused for its form before any route sees it (a URI or headers too large, a
    /// body that is not labelled JSON); the code follows from the status.
    pub fn malformed_request(status: dropshot::ErrorStatusCode, detail: impl Into<String>) -> Self {
        Self::new(status, code_for_status(status), detail)
    }

    /// A refusal for now (503) with `Retry-After`, such as every channel slot being taken.
    pub fn unavailable(code: &'static str, reason: &str, retry_after: std::time::Duration) -> Self {
        Self::come_back_later(
            dropshot::ErrorStatusCode::SERVICE_UNAVAILABLE,
            code,
            reason,
            retry_after,
        )
    }

    /// Nothing lives at the requested path.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(dropshot::ErrorStatusCode::NOT_FOUND, "not_found", detail)
    }

    /// Replaces the message a client reads, for an error whose generic wording can be made more
    /// helpful where more is known (the router's 404 and 405, say).
    pub fn set_detail(&mut self, detail: impl Into<String>) {
        self.detail = fit_detail(detail.into());
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// An answer that asks the client to try again after `retry_after`, in `Retry-After` and in
    /// the detail.
    fn come_back_later(
        status: dropshot::ErrorStatusCode,
        code: &'static str,
        reason: &str,
        retry_after: std::time::Duration,
    ) -> Self {
        let mut error = Self::new(status, code, "");
        error.retry_after = Some(retry_after);
        let seconds = error.retry_after_seconds().unwrap_or(1);
        error.detail = format!("{reason}, please try again in {seconds} second(s)");
        error
    }

    /// The seconds sent in `Retry-After`, if this answer asks the client to come back later.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        self.retry_after
            .map(|retry_after| retry_after.as_secs_f64().ceil().max(1.0) as u64)
    }

    /// The HTTP response for this error: the contract's `{code, detail}` body and, when the
    /// client should come back later, `Retry-After`.
    pub fn into_response(
        self,
        builder: http::response::Builder,
    ) -> std::result::Result<http::Response<dropshot::Body>, dropshot::HttpError> {
        let mut builder = builder
            .status(self.status.as_status())
            .header(http::header::CONTENT_TYPE, dropshot::CONTENT_TYPE_JSON);
        if let Some(seconds) = self.retry_after_seconds() {
            builder = builder.header(http::header::RETRY_AFTER, seconds);
        }
        let body = serde_json::to_vec(&self.wire_body())
            .map_err(|error| dropshot::HttpError::for_internal_error(error.to_string()))?;
        builder
            .body(body.into())
            .map_err(|error| dropshot::HttpError::for_internal_error(error.to_string()))
    }

    /// The body as the contract's `Error` schema describes it; internal details never go here.
    fn wire_body(&self) -> WireError<'_> {
        WireError {
            code: &self.code,
            detail: &self.detail,
        }
    }
}

#[derive(serde::Serialize)]
struct WireError<'a> {
    code: &'a str,
    detail: &'a str,
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        use dropshot::ErrorStatusCode as Status;
        let detail = error.to_string();
        match error {
            Error::InvalidCredentials => {
                Self::new(Status::UNAUTHORIZED, "invalid_credentials", detail)
            }
            Error::Unauthenticated => Self::new(Status::UNAUTHORIZED, "unauthenticated", detail),
            Error::PasswordTooGuessable { .. } => {
                Self::new(Status::BAD_REQUEST, "invalid_input", detail)
            }
            Error::EmailTaken => Self::new(Status::CONFLICT, "email_taken", detail),
            Error::UsernameTaken => Self::new(Status::CONFLICT, "username_taken", detail),
            Error::HashingBusy { retry_after } => Self::come_back_later(
                Status::SERVICE_UNAVAILABLE,
                "busy",
                "the server is busy",
                retry_after,
            ),
            Error::RateLimited { retry_after } => Self::come_back_later(
                Status::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many attempts",
                retry_after,
            ),
            Error::StoreUnavailable { retry_after, cause } => {
                let mut error = Self::come_back_later(
                    Status::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the server cannot reach its data just now",
                    retry_after,
                );
                error.internal_detail = Some(format!("store unavailable: {cause}"));
                error
            }
            Error::StoreFull { retry_after, cause } => {
                // The same code as any store outage, which is what clients act on; the detail
                // says which.
                let mut error = Self::come_back_later(
                    Status::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    &detail,
                    retry_after,
                );
                error.internal_detail = Some(format!("store full: {cause}"));
                error
            }
            Error::StoreRefusesWrites { retry_after, cause } => {
                let mut error = Self::come_back_later(
                    Status::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    &detail,
                    retry_after,
                );
                error.internal_detail = Some(format!("store refuses writes: {cause}"));
                error
            }
            Error::TooManyLiveGames => {
                Self::new(Status::SERVICE_UNAVAILABLE, "too_many_live_games", detail)
            }
            Error::TooManySpectators => {
                Self::new(Status::SERVICE_UNAVAILABLE, "too_many_spectators", detail)
            }
            Error::ShuttingDown => Self::new(Status::SERVICE_UNAVAILABLE, "shutting_down", detail),
            Error::UnknownGame | Error::UnknownFinishedGame => {
                Self::new(Status::NOT_FOUND, "unknown_game", detail)
            }
            Error::SelfReportedScoresOff => {
                Self::new(Status::FORBIDDEN, "self_reported_scores_off", detail)
            }
            Error::NotYourGame => Self::new(Status::FORBIDDEN, "not_your_game", detail),
            Error::InvalidTicket => Self::new(Status::UNAUTHORIZED, "invalid_ticket", detail),
            Error::Internal(internal_detail) => Self::internal(internal_detail),
        }
    }
}

/// The code for an error Dropshot raised itself, chosen by status so it stays stable whatever
/// Dropshot's own wording.
fn code_for_status(status: dropshot::ErrorStatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalid_input",
        401 => "unauthenticated",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        413 => "payload_too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        429 => "too_many_requests",
        431 => "headers_too_large",
        503 => "unavailable",
        500 => "internal",
        status if status < 500 => "client_error",
        _ => "server_error",
    }
}

/// Whether an error code is one of ours (lower snake case), as opposed to Dropshot's own
/// CamelCase codes, which are replaced by [`code_for_status`].
fn is_our_code(code: &str) -> bool {
    !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_')
}

impl From<dropshot::HttpError> for ApiError {
    fn from(error: dropshot::HttpError) -> Self {
        let code: std::borrow::Cow<'static, str> = match error.error_code {
            Some(code) if is_our_code(&code) => code.into(),
            _ => code_for_status(error.status_code).into(),
        };
        let retry_after = error
            .headers
            .as_ref()
            .and_then(|headers| headers.get(http::header::RETRY_AFTER))
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok())
            .map(std::time::Duration::from_secs);
        let mut api_error = if error.status_code.is_server_error() {
            let mut api_error = Self::internal(error.internal_message);
            api_error.status = error.status_code;
            api_error.code = code;
            api_error
        } else {
            Self::new(error.status_code, code, error.external_message)
        };
        api_error.retry_after = retry_after;
        api_error
    }
}

impl From<ApiError> for dropshot::HttpError {
    fn from(error: ApiError) -> Self {
        let headers = error.retry_after_seconds().map(|seconds| {
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::RETRY_AFTER, seconds.into());
            Box::new(headers)
        });
        let internal_message = error
            .internal_detail
            .unwrap_or_else(|| error.detail.clone());
        dropshot::HttpError {
            status_code: error.status,
            error_code: Some(error.code.into_owned()),
            external_message: error.detail,
            internal_message,
            headers,
        }
    }
}

impl std::fmt::Display for ApiError {
    /// What Dropshot logs for a failed request: the internal detail when there is one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = self.internal_detail.as_deref().unwrap_or(&self.detail);
        write!(f, "{}: {}", self.code, message)
    }
}

/// Written by hand instead of derived from `Serialize` and `JsonSchema`, so that error responses
/// can carry headers (`Retry-After`); the documented schema is the contract's `Error`.
impl dropshot::HttpResponseContent for ApiError {
    fn to_response(
        self,
        builder: http::response::Builder,
    ) -> std::result::Result<http::Response<dropshot::Body>, dropshot::HttpError> {
        self.into_response(builder)
    }

    fn content_metadata() -> Option<dropshot::ApiSchemaGenerator> {
        Some(dropshot::ApiSchemaGenerator::Gen {
            name: <crate::api::ErrorBody as schemars::JsonSchema>::schema_name,
            schema: |generator| generator.subschema_for::<crate::api::ErrorBody>(),
        })
    }
}

impl dropshot::HttpResponseError for ApiError {
    fn status_code(&self) -> dropshot::ErrorStatusCode {
        self.status
    }
}

#[cfg(test)]
mod api_error_tests {
    use super::*;

    #[test]
    fn every_error_serializes_as_the_contract_error_schema() {
        let errors = [
            ApiError::from(Error::InvalidCredentials),
            ApiError::from(Error::EmailTaken),
            ApiError::from(Error::UsernameTaken),
            ApiError::from(Error::Unauthenticated),
            ApiError::from(Error::PasswordTooGuessable {
                reason: "This is a top-10 common password.".to_owned(),
            }),
            ApiError::from(Error::HashingBusy {
                retry_after: std::time::Duration::from_secs(1),
            }),
            ApiError::from(Error::StoreUnavailable {
                retry_after: std::time::Duration::from_secs(2),
                cause: "database is locked".to_owned(),
            }),
            ApiError::from(Error::Internal("detail".to_owned())),
            ApiError::from(dropshot::HttpError::for_bad_request(None, "x".repeat(5000))),
            ApiError::from(dropshot::HttpError::for_internal_error("boom".to_owned())),
        ];
        for error in errors {
            let json = serde_json::to_value(error.wire_body()).unwrap();
            let body: crate::api::ErrorBody = serde_json::from_value(json.clone())
                .unwrap_or_else(|problem| panic!("{json} breaks the contract: {problem}"));
            assert_eq!(body.code.as_str(), error.code());
        }
    }

    #[test]
    fn internal_details_reach_the_log_but_not_the_client() {
        let error = ApiError::from(Error::Internal("lock poisoned in store".to_owned()));
        let json = serde_json::to_string(&error.wire_body()).unwrap();
        assert!(!json.contains("poisoned"), "{json}");
        assert!(error.to_string().contains("poisoned"));
    }

    #[test]
    fn a_busy_answer_says_when_to_retry_in_a_header_rounded_up_to_whole_seconds() {
        let error = ApiError::from(Error::HashingBusy {
            retry_after: std::time::Duration::from_millis(1500),
        });
        let response = error.into_response(http::Response::builder()).unwrap();
        assert_eq!(response.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "2");
    }

    #[test]
    fn an_unavailable_store_is_a_503_with_retry_after_and_its_cause_only_in_the_log() {
        let error = ApiError::from(Error::StoreUnavailable {
            retry_after: std::time::Duration::from_secs(2),
            cause: "(code: 13) database or disk is full".to_owned(),
        });
        assert_eq!(error.code(), "store_unavailable");
        assert!(error.to_string().contains("disk is full"), "{error}");
        let json = serde_json::to_string(&error.wire_body()).unwrap();
        assert!(!json.contains("disk"), "{json}");
        let response = error.into_response(http::Response::builder()).unwrap();
        assert_eq!(response.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "2");
    }

    #[test]
    fn retry_after_survives_a_round_trip_through_dropshot_errors() {
        let busy = ApiError::from(Error::HashingBusy {
            retry_after: std::time::Duration::from_secs(3),
        });
        let round_tripped = ApiError::from(dropshot::HttpError::from(busy));
        assert_eq!(round_tripped.retry_after_seconds(), Some(3));
        assert_eq!(round_tripped.code(), "busy");
    }

    #[test]
    fn dropshot_codes_are_replaced_by_stable_ones_and_ours_survive_a_round_trip() {
        let dropshot_error = dropshot::HttpError::for_internal_error("x".to_owned());
        assert_eq!(ApiError::from(dropshot_error).code(), "internal");
        let ours = dropshot::HttpError::from(ApiError::from(Error::Unauthenticated));
        assert_eq!(ApiError::from(ours).code(), "unauthenticated");
    }
}
