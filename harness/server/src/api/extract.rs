//! Request extractors that refuse with [`ApiError`]: the caller's identity (seller JWT or
//! API key, both as `Authorization: Bearer …`) and a strict JSON body (declared JSON,
//! within the size limit, no unknown fields, errors naming the field).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::auth::AuthError;
use crate::service::{access, AppState};
use crate::store::SellerId;

/// A caller authenticated with a seller JWT.
#[derive(Debug)]
pub struct SellerAuth(pub SellerId);

/// A caller authenticated with an API key.
#[derive(Debug)]
pub struct ApiKeyAuth(pub SellerId);

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Unauthorized(AuthError::Missing))?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(ApiError::Unauthorized(AuthError::Missing))?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::Unauthorized(AuthError::Missing));
    }
    Ok(token)
}

impl FromRequestParts<AppState> for SellerAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        access::seller_for_token(state, token)
            .await?
            .map(SellerAuth)
            .map_err(ApiError::Unauthorized)
    }
}

impl FromRequestParts<AppState> for ApiKeyAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = bearer(parts)?;
        access::seller_for_api_key(state, key)
            .await?
            .map(ApiKeyAuth)
            .ok_or(ApiError::Unauthorized(AuthError::UnknownApiKey))
    }
}

/// A JSON request body of type `T`, refused with the error envelope when it is not one.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit = state.settings.max_body_bytes;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(limit)
            } else {
                ApiError::InvalidJson(rejection.body_text())
            }
        })?;
        parse(&bytes).map(JsonBody)
    }
}

/// A JSON body that may be left out: an empty body is `T::default()`; a non-empty one
/// is held to the rules of [`JsonBody`].
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let json = is_json(req.headers());
        let limit = state.settings.max_body_bytes;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(limit)
            } else {
                ApiError::InvalidJson(rejection.body_text())
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        parse(&bytes).map(OptionalJsonBody)
    }
}

/// Path parameters of type `T`; a path that cannot be decoded is refused with 400
/// `invalid_path` instead of axum's plain-text answer.
#[derive(Debug)]
pub struct PathParams<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| PathParams(p.0))
            .map_err(|e| ApiError::BadRequest {
                code: "invalid_path",
                message: e.body_text(),
            })
    }
}

/// Query parameters of type `T`; unknown or malformed ones are refused with 400
/// `invalid_query`.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        crate::query::parse(parts.uri.query())
            .map(QueryParams)
            .map_err(|message| ApiError::BadRequest {
                code: "invalid_query",
                message,
            })
    }
}

/// Parses `bytes` as `T`, sorting failures into syntax (400 `invalid_json`), unknown
/// fields (400 `unknown_field`) and wrong or missing values (422 `invalid_field`).
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let text = inner.to_string();
                if text.starts_with("unknown field") {
                    ApiError::BadRequest {
                        code: "unknown_field",
                        message: if path == "." {
                            text
                        } else {
                            format!("{path}: {text}")
                        },
                    }
                } else {
                    ApiError::InvalidField(format!("field `{path}`: {text}"))
                }
            }
            _ => ApiError::InvalidJson(inner.to_string()),
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        url: String,
        events: Vec<String>,
    }

    fn code(result: Result<Body, ApiError>) -> String {
        match result {
            Ok(_) => "ok".into(),
            Err(ApiError::BadRequest { code, .. }) => code.into(),
            Err(ApiError::InvalidField(m)) => format!("invalid_field {m}"),
            Err(ApiError::InvalidJson(_)) => "invalid_json".into(),
            Err(other) => format!("{other:?}"),
        }
    }

    #[test]
    fn sorts_failures() {
        assert_eq!(code(parse(br#"{"url":"x","events":[]}"#)), "ok");
        assert_eq!(code(parse(br#"{"url":"x","events":[]"#)), "invalid_json");
        assert_eq!(code(parse(br#"{"url":"x","events":[]} x"#)), "invalid_json");
        assert_eq!(
            code(parse(br#"{"url":"x","events":[],"y":1}"#)),
            "unknown_field"
        );
        let wrong = code(parse(br#"{"url":"x","events":[1]}"#));
        assert!(
            wrong.starts_with("invalid_field field `events[0]`"),
            "{wrong}"
        );
        let missing = code(parse(br#"{"url":"x"}"#));
        assert!(missing.contains("missing field `events`"), "{missing}");
    }

    #[test]
    fn json_content_types() {
        let mut headers = HeaderMap::new();
        assert!(!is_json(&headers));
        for (value, json) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
        ] {
            headers.insert(
                CONTENT_TYPE,
                value
                    .parse()
                    .unwrap_or(axum::http::HeaderValue::from_static("x")),
            );
            assert_eq!(is_json(&headers), json, "{value}");
        }
    }
}
