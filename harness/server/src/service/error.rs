//! Why an operation refused or failed, in the application's terms: each adapter maps it
//! to its own answer (`api/error.rs` to the error envelope and a status, the dashboard to
//! a page or a message beside a form field).

use std::fmt;

use super::limits::RateStatus;
use crate::store::StoreError;

/// Why an operation did not happen.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServiceError {
    /// The seller has no such resource (another seller's is "no such" too); names it.
    NotFound(&'static str),
    /// The input is refused: one or more fields, each with what is wrong.
    Invalid(Invalid),
    /// The request conflicts with the resource's state (retrying on a disabled webhook).
    Conflict {
        /// Stable snake_case code.
        code: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// The seller publishes faster than its limit allows; says when to try again.
    RateLimited(RateStatus),
    /// A failure on our side (the database, the OS's randomness); for the log only.
    Internal(String),
}

/// Which part of the input a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    /// A webhook's endpoint URL.
    Url,
    /// A webhook's list of event types.
    Events,
    /// An event type: of a test event, a published event or a log filter.
    EventType,
    /// A published event's data.
    Data,
    /// The page size of a listing.
    Limit,
    /// The request as a whole (an update that changes nothing).
    Request,
}

/// One refused field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field.
    pub field: Field,
    /// Stable snake_case code (`invalid_url`, `invalid_event_type`, …).
    pub code: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

/// The refused fields of one input, in the order of the input's fields; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    first: FieldError,
    rest: Vec<FieldError>,
}

impl Invalid {
    /// A refusal of one field.
    pub fn one(field: Field, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            first: FieldError {
                field,
                code,
                message: message.into(),
            },
            rest: Vec::new(),
        }
    }

    /// The refusals gathered in `errors`, or `None` when there are none.
    pub fn all(errors: Vec<FieldError>) -> Option<Self> {
        let mut errors = errors.into_iter();
        errors.next().map(|first| Self {
            first,
            rest: errors.collect(),
        })
    }

    /// The first refused field (what an API answer names).
    pub fn first(&self) -> &FieldError {
        &self.first
    }

    /// Every refused field, in order.
    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        std::iter::once(&self.first).chain(&self.rest)
    }

    /// The first, by value.
    pub fn into_first(self) -> FieldError {
        self.first
    }
}

impl ServiceError {
    /// A refusal of one field.
    pub fn invalid(field: Field, code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Invalid(Invalid::one(field, code, message))
    }

    /// A failure on our side.
    pub fn internal(e: impl fmt::Display) -> Self {
        ServiceError::Internal(e.to_string())
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::NotFound(what) => write!(f, "no such {what} for this account"),
            ServiceError::Invalid(invalid) => f.write_str(&invalid.first.message),
            ServiceError::Conflict { message, .. } => f.write_str(message),
            ServiceError::RateLimited(status) => write!(
                f,
                "this account publishes faster than its limit of {} events at once; \
                 try again in {} s",
                status.limit, status.retry_after_secs
            ),
            ServiceError::Internal(detail) => write!(f, "internal error: {detail}"),
        }
    }
}

impl std::error::Error for ServiceError {}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        ServiceError::Internal(e.to_string())
    }
}

impl From<FieldError> for ServiceError {
    fn from(e: FieldError) -> Self {
        ServiceError::Invalid(Invalid {
            first: e,
            rest: Vec::new(),
        })
    }
}

impl From<Invalid> for ServiceError {
    fn from(e: Invalid) -> Self {
        ServiceError::Invalid(e)
    }
}
