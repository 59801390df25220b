//! Events in. The server builds the envelope with the core (a new `evt_…` id,
//! `created_at` from the clock, canonical bytes), then stores the event and one pending
//! delivery per active webhook of the seller subscribed to its type in one transaction:
//! when [`publish`] returns, the deliveries are durable. `menon-harness emit` and `bench`
//! share [`build`].
//!
//! Data that would not survive a JavaScript round trip (PROTOCOL §3: a member name that is
//! an array index, a number beyond ±(2^53 − 1)) is refused by the core's
//! [`check_event_data`] before anything is built or stored.

use menon_webhooks::{check_event_data, DataError, Envelope, EventType};
use serde_json::{Map, Value};

use super::limits::RateStatus;
use super::webhooks::Paging;
use super::{blocking, AppState, Field, ServiceError};
use super::{next_cursor, page_size};
use crate::store::{EventPage, SellerId, StoredEvent};
use menon_harness_common::ids;

/// Why an event could not be built.
#[derive(Debug)]
pub enum BuildError {
    /// Not one of the 21 types.
    UnknownType(String),
    /// The data would not survive a JavaScript round trip (PROTOCOL §3).
    Refused(DataError),
    /// The data cannot be sent canonically (e.g. a number outside I-JSON).
    Data(String),
    /// No randomness for the id.
    Internal(String),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::UnknownType(m) | BuildError::Data(m) | BuildError::Internal(m) => {
                f.write_str(m)
            }
            BuildError::Refused(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for BuildError {}

impl From<BuildError> for ServiceError {
    fn from(e: BuildError) -> Self {
        match e {
            BuildError::UnknownType(message) => {
                ServiceError::invalid(Field::EventType, "invalid_event_type", message)
            }
            BuildError::Refused(e) => ServiceError::invalid(Field::Data, e.code(), e.to_string()),
            BuildError::Data(message) => {
                ServiceError::invalid(Field::Data, "invalid_data", message)
            }
            BuildError::Internal(message) => ServiceError::Internal(message),
        }
    }
}

/// Builds the stored event (envelope by the core, canonical bytes) for `seller`, after
/// the core's [`check_event_data`]: refused data builds nothing.
pub fn build(
    seller: SellerId,
    kind: &str,
    data: Map<String, Value>,
    now: u64,
) -> Result<StoredEvent, BuildError> {
    let event_type: EventType = kind
        .parse()
        .map_err(|e: menon_webhooks::UnknownEventType| BuildError::UnknownType(e.to_string()))?;
    check_event_data(&data).map_err(BuildError::Refused)?;
    let id = ids::event_id().map_err(|e| BuildError::Internal(e.to_string()))?;
    let body = Envelope::new(id.clone(), event_type, now, data)
        .to_json()
        .map_err(|e| BuildError::Data(format!("data cannot be sent as canonical JSON: {e}")))?;
    Ok(StoredEvent {
        id,
        seller_id: seller,
        event_type: event_type.as_str().to_owned(),
        created_at: now,
        body,
        is_test: false,
    })
}

/// An event stored and queued.
#[derive(Debug)]
pub struct Published {
    /// `evt_…`, the id receivers deduplicate on.
    pub id: String,
    /// The event type.
    pub event_type: String,
    /// Unix seconds (the server's clock).
    pub created_at: u64,
    /// Deliveries queued: one per active webhook of the seller subscribed to the type.
    pub deliveries_queued: usize,
    /// Where the seller stands with its publish rate now.
    pub rate: RateStatus,
}

/// Builds, stores and queues an event for `seller`; wakes the dispatcher. Every attempt
/// counts for the seller's publish rate, a refused one too: past the rate, nothing is
/// checked or stored and the answer is [`ServiceError::RateLimited`].
pub async fn publish(
    state: &AppState,
    seller: SellerId,
    kind: &str,
    data: Map<String, Value>,
) -> Result<Published, ServiceError> {
    let rate = state
        .publish_limiter
        .admit(&seller, state.clock.wall_millis())
        .map_err(ServiceError::RateLimited)?;
    let now = state.clock.now_unix();
    let event = build(seller, kind, data, now)?;
    let (id, event_type) = (event.id.clone(), event.event_type.clone());
    let seller = event.seller_id.0.clone();
    let queued = blocking(state, move |store| store.publish_event(&event)).await?;
    state.metrics.event_published();
    state.wake.notify_one();
    tracing::info!(event = %id, seller = %seller, event_type = %event_type, queued,
        "event published");
    Ok(Published {
        id,
        event_type,
        created_at: now,
        deliveries_queued: queued,
        rate,
    })
}

/// One page of a seller's events.
#[derive(Debug)]
pub struct EventList {
    /// Newest first.
    pub events: Vec<StoredEvent>,
    /// The cursor of the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A page of the seller's events (published, and Send Test's), newest first: what the
/// retention window still keeps.
pub async fn list(
    state: &AppState,
    seller: &SellerId,
    paging: Paging,
) -> Result<EventList, ServiceError> {
    let limit = page_size(paging.limit)?;
    let seller = seller.clone();
    let page = EventPage {
        limit,
        before: paging.cursor,
    };
    let events = blocking(state, move |store| store.list_events(&seller, &page)).await?;
    let next_cursor = next_cursor(&events, limit, |e| &e.id);
    Ok(EventList {
        events,
        next_cursor,
    })
}
