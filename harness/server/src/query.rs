//! Query strings read strictly, the same way for the API (`?status=…&limit=…`) and the
//! dashboard (its log filter): what does not fit the target type is refused with one
//! message, so a page and an API answer to the same query say the same words.

use serde::de::DeserializeOwned;

/// Parses a query string (none is an empty one) as `T`; the error is the message saying
/// what does not fit.
pub fn parse<T: DeserializeOwned>(query: Option<&str>) -> Result<T, String> {
    let uri: axum::http::Uri = format!("/?{}", query.unwrap_or_default())
        .parse()
        .map_err(|e: axum::http::uri::InvalidUri| e.to_string())?;
    axum::extract::Query::<T>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|e| e.body_text())
}
