//! The single domain error type shared by every domain module, so the HTTP layer maps one enum to responses.

use std::time::Duration;

/// Everything that can go wrong in the domain layer.
///
/// Every `Display` message is written so it can be shown to a player as is: none of them
/// contains a password, a password hash, a token or any other internal detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The email is unknown or the password is wrong; one variant for both so a response never
    /// reveals which accounts exist.
    #[error("email or password is incorrect")]
    InvalidCredentials,

    /// Another account already uses this email address, compared ignoring case.
    #[error("that email is already registered")]
    EmailTaken,

    /// Another account already uses this username, compared ignoring case.
    #[error("that username is already taken")]
    UsernameTaken,

    /// The session token is missing, unknown, expired or revoked.
    #[error("you are not logged in or your session has expired")]
    Unauthenticated,

    /// Every password-hashing slot is busy and the wait queue is full, so the request is refused
    /// at once instead of piling up memory-hungry scrypt work.
    #[error("the server is busy, please try again in a moment")]
    HashingBusy {
        /// How long the client should wait before trying again.
        retry_after: Duration,
    },

    /// A fault inside the server. The detail is meant for logs (through `Debug`) and is never
    /// part of the `Display` message, which is what clients may see.
    #[error("something went wrong on the server, please try again")]
    Internal(String),
}

/// Result type used by every domain function.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_error_details_stay_out_of_the_displayed_message() {
        let error = Error::Internal("hash $scrypt$ln=17 secret detail".to_string());
        let shown = error.to_string();
        assert!(!shown.contains("scrypt"));
        assert!(!shown.contains("secret"));
        assert!(format!("{error:?}").contains("secret detail"));
    }

    #[test]
    fn wrong_email_and_wrong_password_share_one_message() {
        assert_eq!(
            Error::InvalidCredentials.to_string(),
            "email or password is incorrect"
        );
    }
}

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
}

/// The contract caps `detail` at 2048 characters; longer Dropshot messages are cut to fit.
const MAX_DETAIL_CHARACTERS: usize = 2048;

impl ApiError {
    fn new(
        status: dropshot::ErrorStatusCode,
        code: impl Into<std::borrow::Cow<'static, str>>,
        detail: impl Into<String>,
    ) -> Self {
        let detail: String = detail.into();
        let detail = if detail.chars().count() > MAX_DETAIL_CHARACTERS {
            detail.chars().take(MAX_DETAIL_CHARACTERS).collect()
        } else {
            detail
        };
        Self {
            status,
            code: code.into(),
            detail,
            internal_detail: None,
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

    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }
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
            Error::EmailTaken => Self::new(Status::CONFLICT, "email_taken", detail),
            Error::UsernameTaken => Self::new(Status::CONFLICT, "username_taken", detail),
            Error::HashingBusy { retry_after } => Self::new(
                Status::SERVICE_UNAVAILABLE,
                "busy",
                format!(
                    "the server is busy, please try again in {} second(s)",
                    retry_after.as_secs().max(1)
                ),
            ),
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
        415 => "unsupported_media_type",
        429 => "too_many_requests",
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
        if error.status_code.is_server_error() {
            let mut api_error = Self::internal(error.internal_message);
            api_error.status = error.status_code;
            api_error.code = code;
            return api_error;
        }
        Self::new(error.status_code, code, error.external_message)
    }
}

impl From<ApiError> for dropshot::HttpError {
    fn from(error: ApiError) -> Self {
        let internal_message = error
            .internal_detail
            .unwrap_or_else(|| error.detail.clone());
        dropshot::HttpError {
            status_code: error.status,
            error_code: Some(error.code.into_owned()),
            external_message: error.detail,
            internal_message,
            headers: None,
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

impl serde::Serialize for ApiError {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct WireError<'a> {
            code: &'a str,
            detail: &'a str,
        }
        WireError {
            code: &self.code,
            detail: &self.detail,
        }
        .serialize(serializer)
    }
}

impl schemars::JsonSchema for ApiError {
    fn schema_name() -> String {
        <crate::api::ErrorBody as schemars::JsonSchema>::schema_name()
    }

    fn json_schema(generator: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        <crate::api::ErrorBody as schemars::JsonSchema>::json_schema(generator)
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
            ApiError::from(Error::HashingBusy {
                retry_after: std::time::Duration::from_secs(1),
            }),
            ApiError::from(Error::Internal("detail".to_owned())),
            ApiError::from(dropshot::HttpError::for_bad_request(None, "x".repeat(5000))),
            ApiError::from(dropshot::HttpError::for_internal_error("boom".to_owned())),
        ];
        for error in errors {
            let json = serde_json::to_value(&error).unwrap();
            let body: crate::api::ErrorBody = serde_json::from_value(json.clone())
                .unwrap_or_else(|problem| panic!("{json} breaks the contract: {problem}"));
            assert_eq!(body.code.as_str(), error.code());
        }
    }

    #[test]
    fn internal_details_reach_the_log_but_not_the_client() {
        let error = ApiError::from(Error::Internal("lock poisoned in store".to_owned()));
        let json = serde_json::to_string(&error).unwrap();
        assert!(!json.contains("poisoned"), "{json}");
        assert!(error.to_string().contains("poisoned"));
    }

    #[test]
    fn dropshot_codes_are_replaced_by_stable_ones_and_ours_survive_a_round_trip() {
        let dropshot_error = dropshot::HttpError::for_internal_error("x".to_owned());
        assert_eq!(ApiError::from(dropshot_error).code(), "internal");
        let ours = dropshot::HttpError::from(ApiError::from(Error::Unauthenticated));
        assert_eq!(ApiError::from(ours).code(), "unauthenticated");
    }
}
