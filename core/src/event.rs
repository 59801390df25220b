//! The 21 event types of PROTOCOL §4 and the event envelope of PROTOCOL §3.
//!
//! The envelope keeps `type` as the string received: receivers must acknowledge event
//! types they do not know yet, so an unknown type is not a parse error.
//! [`Envelope::event_type`] tells whether it is one of the 21.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{CanonicalizeError, CanonicalizeErrorKind, EnvelopeError};

macro_rules! event_types {
    ($($variant:ident = $name:literal, $group:ident, $doc:literal;)*) => {
        /// One of the 21 event types the docs define.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum EventType {
            $(#[doc = $doc] $variant,)*
        }

        impl EventType {
            /// Every event type, in the docs' order.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)*];

            /// The wire name, e.g. `listing.created`.
            pub const fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $name,)* }
            }

            /// The group the docs list it under.
            pub const fn group(self) -> EventGroup {
                match self { $(EventType::$variant => EventGroup::$group,)* }
            }

            /// The docs' one-line description.
            pub const fn description(self) -> &'static str {
                match self { $(EventType::$variant => $doc,)* }
            }
        }

        impl FromStr for EventType {
            type Err = UnknownEventType;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(EventType::$variant),)*
                    _ => Err(UnknownEventType { name: s.chars().take(64).collect() }),
                }
            }
        }
    };
}

event_types! {
    ListingCreated = "listing.created", Listing, "New listing created";
    ListingUpdated = "listing.updated", Listing, "Listing updated";
    ListingPublished = "listing.published", Listing, "Listing published";
    ListingUnpublished = "listing.unpublished", Listing, "Listing unpublished";
    ListingDeleted = "listing.deleted", Listing, "Listing deleted";
    ListingSold = "listing.sold", Listing, "Listing marked as sold";
    MessageReceived = "message.received", Message, "New message received";
    MessageRead = "message.read", Message, "Message marked as read";
    ConversationCreated = "conversation.created", Message, "New conversation started";
    InquiryCreated = "inquiry.created", Inquiry, "New inquiry on listing";
    InquiryResponded = "inquiry.responded", Inquiry, "Inquiry responded to";
    SubscriptionCreated = "subscription.created", Subscription, "New subscription";
    SubscriptionUpdated = "subscription.updated", Subscription, "Plan changed";
    SubscriptionCanceled = "subscription.canceled", Subscription, "Subscription canceled";
    SubscriptionRenewed = "subscription.renewed", Subscription, "Auto-renewal processed";
    PaymentSucceeded = "payment.succeeded", Payment, "Payment successful";
    PaymentFailed = "payment.failed", Payment, "Payment failed";
    InvoiceCreated = "invoice.created", Payment, "Invoice generated";
    InvoicePaid = "invoice.paid", Payment, "Invoice paid";
    UserCreated = "user.created", User, "New user registered";
    UserVerified = "user.verified", User, "User verified";
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <&str>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// The groups the docs list event types under (and the dashboard shows them in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EventGroup {
    /// `listing.*`
    Listing,
    /// `message.*` and `conversation.created`
    Message,
    /// `inquiry.*`
    Inquiry,
    /// `subscription.*`
    Subscription,
    /// `payment.*` and `invoice.*`
    Payment,
    /// `user.*`
    User,
}

impl EventGroup {
    /// Every group, in the docs' order.
    pub const ALL: &'static [EventGroup] = &[
        EventGroup::Listing,
        EventGroup::Message,
        EventGroup::Inquiry,
        EventGroup::Subscription,
        EventGroup::Payment,
        EventGroup::User,
    ];

    /// The group's name in lowercase, e.g. `listing`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventGroup::Listing => "listing",
            EventGroup::Message => "message",
            EventGroup::Inquiry => "inquiry",
            EventGroup::Subscription => "subscription",
            EventGroup::Payment => "payment",
            EventGroup::User => "user",
        }
    }
}

/// A name that is not one of the 21 event types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEventType {
    /// The name given (at most 64 characters are kept).
    pub name: String,
}

impl fmt::Display for UnknownEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown event type {:?}: expected one of the 21 Menon event types, such as \
             listing.created or message.received",
            self.name
        )
    }
}

impl core::error::Error for UnknownEventType {}

/// The event envelope every delivery carries (PROTOCOL §3):
/// `{"created_at", "data", "id", "type"}`, test events included (a test delivery is
/// marked by the [`crate::headers::TEST`] header, never by a body member).
///
/// Members this version does not know are kept in [`Envelope::extra`], so that parsing
/// and writing an envelope never loses a field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// When the event happened: RFC 3339 UTC with seconds, e.g. `2024-01-15T10:30:00Z`.
    pub created_at: String,
    /// The event's payload.
    pub data: Map<String, Value>,
    /// The event id, `evt_…`: the key receivers deduplicate on.
    pub id: String,
    /// The event type as sent; see [`Envelope::event_type`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Members not listed above, kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Envelope {
    /// A new envelope for an event of `event_type` that happened at `created_at`
    /// (unix seconds). The caller supplies the id (`evt_…`): the core draws no randomness.
    pub fn new(
        id: impl Into<String>,
        event_type: EventType,
        created_at: u64,
        data: Map<String, Value>,
    ) -> Self {
        Self {
            created_at: format_rfc3339(created_at),
            data,
            id: id.into(),
            kind: String::from(event_type.as_str()),
            extra: Map::new(),
        }
    }

    /// The event type, when it is one of the 21.
    pub fn event_type(&self) -> Option<EventType> {
        self.kind.parse().ok()
    }

    /// Parses a body, refusing what RFC 8785 refuses (duplicate names included) and what
    /// is not an envelope.
    pub fn from_json(json: &[u8]) -> Result<Self, EnvelopeError> {
        let canonical = crate::canonicalize(json).map_err(EnvelopeError::Json)?;
        let envelope: Self =
            serde_json::from_slice(&canonical).map_err(|e| EnvelopeError::Shape {
                message: alloc::format!("{e}"),
            })?;
        if !envelope.id.starts_with("evt_") || envelope.id.len() == 4 {
            return Err(EnvelopeError::InvalidId);
        }
        if parse_rfc3339(&envelope.created_at).is_none() {
            return Err(EnvelopeError::InvalidCreatedAt);
        }
        Ok(envelope)
    }

    /// The canonical (RFC 8785) bytes of this envelope: the body the server signs and sends.
    pub fn to_json(&self) -> Result<Vec<u8>, CanonicalizeError> {
        let json = serde_json::to_vec(self).map_err(|_| CanonicalizeError {
            kind: CanonicalizeErrorKind::InvalidJson {
                reason: "the envelope could not be serialized",
            },
            offset: 0,
        })?;
        crate::canonicalize(&json)
    }
}

/// Formats unix seconds as RFC 3339 UTC with seconds, e.g. `2024-01-15T10:30:00Z`.
/// Years past 9999 are clamped to `9999-12-31T23:59:59Z`.
pub fn format_rfc3339(unix: u64) -> String {
    const MAX: u64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    let unix = unix.min(MAX);
    let (days, secs) = (unix / 86_400, unix % 86_400);
    let (year, month, day) = civil_from_days(days);
    alloc::format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (from 1970) into unix seconds.
pub(crate) fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |range: core::ops::Range<usize>| -> Option<u64> {
        let part = &b[range];
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(part.iter().fold(0, |acc, d| acc * 10 + u64::from(d - b'0')))
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if year < 1970 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

fn is_leap(year: u64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let before_year: u64 = (1970..year)
        .map(|y| if is_leap(y) { 366 } else { 365 })
        .sum();
    let before_month: u64 = (1..month).map(|m| days_in_month(year, m)).sum();
    before_year + before_month + day - 1
}

fn civil_from_days(mut days: u64) -> (u64, u64, u64) {
    let mut year = 1970;
    loop {
        let len = if is_leap(year) { 366 } else { 365 };
        if days < len {
            break;
        }
        days -= len;
        year += 1;
    }
    let mut month = 1;
    while days >= days_in_month(year, month) {
        days -= days_in_month(year, month);
        month += 1;
    }
    (year, month, days + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        for unix in [
            0,
            951_782_400,
            1_705_314_600,
            4_102_444_799,
            253_402_300_799,
        ] {
            let text = format_rfc3339(unix);
            assert_eq!(parse_rfc3339(&text), Some(unix), "{text}");
        }
        assert_eq!(format_rfc3339(1_705_314_600), "2024-01-15T10:30:00Z");
        assert_eq!(parse_rfc3339("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-02-29T24:00:00Z"), None);
    }

    /// Dates pinned to known unix times, not only round-tripped: a calendar rule broken
    /// the same way in both directions (a 31-day April, no century rule, a year that
    /// ends a day late) still round-trips.
    #[test]
    fn calendar_against_known_dates() {
        for (unix, text) in [
            (31_536_000, "1971-01-01T00:00:00Z"),
            (68_169_600, "1972-02-29T00:00:00Z"),
            (68_256_000, "1972-03-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_709_164_800, "2024-02-29T00:00:00Z"),
            (1_709_251_199, "2024-02-29T23:59:59Z"),
            (1_714_521_600, "2024-05-01T00:00:00Z"),
            (1_727_740_800, "2024-10-01T00:00:00Z"),
            (1_733_011_200, "2024-12-01T00:00:00Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
        ] {
            assert_eq!(format_rfc3339(unix), text);
            assert_eq!(parse_rfc3339(text), Some(unix), "{text}");
        }
    }

    /// Each check refuses on its own: exactly one part is wrong in each string.
    #[test]
    fn parse_refuses_each_malformed_part() {
        for bad in [
            "2024-02-29T23:59:59Z0",
            "2024-02-29T23:59:59",
            "2024/02-29T23:59:59Z",
            "2024-02/29T23:59:59Z",
            "2024-02-29 23:59:59Z",
            "2024-02-29T23-59:59Z",
            "2024-02-29T23:59-59Z",
            "2024-02-29T23:59:59z",
            "1969-12-31T23:59:59Z",
            "2024-00-01T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-00T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-06-31T00:00:00Z",
            "2024-09-31T00:00:00Z",
            "2024-11-31T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2024-01-15T24:00:00Z",
            "2024-01-15T10:60:00Z",
            "2024-01-15T10:30:60Z",
            "2024-01-15T1a:30:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn type_and_group_names() {
        for t in EventType::ALL {
            assert_eq!(alloc::format!("{t}"), t.as_str());
        }
        let groups: Vec<&str> = EventGroup::ALL.iter().map(|g| g.as_str()).collect();
        assert_eq!(
            groups,
            [
                "listing",
                "message",
                "inquiry",
                "subscription",
                "payment",
                "user"
            ]
        );
    }

    #[test]
    fn all_types_parse_back() {
        assert_eq!(EventType::ALL.len(), 21);
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(*t));
            assert!(t.as_str().starts_with(t.group().as_str()) || t.group() != EventGroup::Listing);
        }
        assert!("listing.exploded".parse::<EventType>().is_err());
    }

    /// The docs' "Webhook Events" tables, row by row as published: every type, in the
    /// docs' order, with the docs' description word for word.
    const DOCS_TABLES: &str = "\
listing.created | New listing created
listing.updated | Listing updated
listing.published | Listing published
listing.unpublished | Listing unpublished
listing.deleted | Listing deleted
listing.sold | Listing marked as sold
message.received | New message received
message.read | Message marked as read
conversation.created | New conversation started
inquiry.created | New inquiry on listing
inquiry.responded | Inquiry responded to
subscription.created | New subscription
subscription.updated | Plan changed
subscription.canceled | Subscription canceled
subscription.renewed | Auto-renewal processed
payment.succeeded | Payment successful
payment.failed | Payment failed
invoice.created | Invoice generated
invoice.paid | Invoice paid
user.created | New user registered
user.verified | User verified";

    #[test]
    fn descriptions_are_the_docs_words() {
        let ours: Vec<String> = EventType::ALL
            .iter()
            .map(|t| alloc::format!("{} | {}", t.as_str(), t.description()))
            .collect();
        let docs: Vec<&str> = DOCS_TABLES.lines().collect();
        assert_eq!(ours, docs);
    }
}
