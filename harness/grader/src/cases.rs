//! The catalogue of conformance cases (PROTOCOL §7): stable ids, groups, what each case
//! expects and how to fix a receiver that fails it, and `--cases` pattern matching.

use std::fmt;

use menon_harness_common::delivery::SigningScheme;
use menon_webhooks::EventType;
use serde::Serialize;
use utoipa::ToSchema;

/// The four groups of PROTOCOL §7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
pub enum Group {
    /// Signature checking.
    #[serde(rename = "signature")]
    Signature,
    /// Duplicate handling.
    #[serde(rename = "idempotency")]
    Idempotency,
    /// Answering quickly.
    #[serde(rename = "fast-200")]
    Fast200,
    /// Unknown types and test events.
    #[serde(rename = "robustness")]
    Robustness,
}

impl Group {
    /// The group's name as in case ids.
    pub const fn as_str(self) -> &'static str {
        match self {
            Group::Signature => "signature",
            Group::Idempotency => "idempotency",
            Group::Fast200 => "fast-200",
            Group::Robustness => "robustness",
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a malformed `X-Menon-Signature` case is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Malformed {
    /// `sha256=` with no hex.
    Empty,
    /// `sha256=` followed by 64 characters that are not hex.
    NonHex,
    /// The right signature cut to its first 32 hex digits.
    Truncated,
    /// The right hex digits behind `md5=`.
    Md5,
    /// The right signature with its last hex digit changed.
    LastDigit,
    /// No X-Menon-Signature, and an X-Menon-Signature-V2 with a `t=` but no `v2=`.
    V2WithoutSignature,
}

impl Malformed {
    /// Every one, in catalogue order.
    pub const ALL: [Malformed; 6] = [
        Malformed::Empty,
        Malformed::NonHex,
        Malformed::Truncated,
        Malformed::Md5,
        Malformed::LastDigit,
        Malformed::V2WithoutSignature,
    ];

    /// The last part of the case id.
    pub const fn name(self) -> &'static str {
        match self {
            Malformed::Empty => "empty",
            Malformed::NonHex => "non-hex",
            Malformed::Truncated => "truncated",
            Malformed::Md5 => "md5",
            Malformed::LastDigit => "last-digit",
            Malformed::V2WithoutSignature => "v2-without-signature",
        }
    }

    fn expect(self) -> String {
        let what = match self {
            Malformed::Empty => "`sha256=` with no hex",
            Malformed::NonHex => "`sha256=` followed by 64 characters that are not hex",
            Malformed::Truncated => "the right signature cut to its first 32 hex digits",
            Malformed::Md5 => "the right hex digits behind `md5=` instead of `sha256=`",
            Malformed::LastDigit => {
                "the right signature with its last hex digit changed (a prefix comparison accepts it)"
            }
            Malformed::V2WithoutSignature => {
                return String::from(
                    "no X-Menon-Signature and an X-Menon-Signature-V2 with a `t=` but no `v2=` \
                     entry: refused (4xx)",
                )
            }
        };
        format!("X-Menon-Signature with {what} (no V2 header) is refused (4xx)")
    }
}

/// The replayed-timestamp cases: an X-Menon-Signature-V2 `t=` far from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Skew {
    /// 10 minutes old.
    Stale,
    /// 10 minutes in the future.
    Future,
}

impl Skew {
    /// Both, in catalogue order.
    pub const ALL: [Skew; 2] = [Skew::Stale, Skew::Future];

    /// The last part of the case id.
    pub const fn name(self) -> &'static str {
        match self {
            Skew::Stale => "stale-timestamp",
            Skew::Future => "future-timestamp",
        }
    }

    /// Seconds added to now for the signing timestamp.
    pub const fn seconds(self) -> i64 {
        match self {
            Skew::Stale => -600,
            Skew::Future => 600,
        }
    }

    /// How far off the timestamp is, for sentences.
    pub const fn what(self) -> &'static str {
        match self {
            Skew::Stale => "10 minutes old",
            Skew::Future => "10 minutes in the future",
        }
    }
}

/// The rotation cases: a signature header with two entries, one by the receiver's key (the
/// one given to `grade`, the old one in a rotation) and one by another key of the same
/// scheme (the new one). Standard Webhooks: two `webhook-signature` entries. Menon: two
/// `v2=` entries in `X-Menon-Signature-V2`, and `X-Menon-Signature` signed with the new
/// secret, as the server signs while a secret is rotated (PROTOCOL §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rotation {
    /// The receiver's entry first, then the other key's.
    GoodFirst,
    /// The other key's entry first, then the receiver's (the order the server sends:
    /// newest first).
    GoodSecond,
}

impl Rotation {
    /// Both, in catalogue order.
    pub const ALL: [Rotation; 2] = [Rotation::GoodFirst, Rotation::GoodSecond];

    /// The last part of the case id.
    pub const fn name(self) -> &'static str {
        match self {
            Rotation::GoodFirst => "good-first",
            Rotation::GoodSecond => "good-second",
        }
    }
}

/// How much a case weighs: a MUST, whose miss is a `fail`, or a SHOULD, whose miss is a
/// `warn` (a failure only under `--strict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Not met: `fail`.
    Must,
    /// Not met: `warn`.
    Should,
}

impl Tier {
    /// `must` or `should`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Tier::Must => "must",
            Tier::Should => "should",
        }
    }
}

/// The three idempotency scenarios; each has an `acknowledged` and a `processed-once` case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scenario {
    /// The same delivery sent twice in a row.
    Sequential,
    /// The same event sent [`crate::engine::COPIES`] times at once.
    Concurrent,
    /// A redelivery: new X-Menon-Delivery, same event id.
    Redelivery,
}

impl Scenario {
    /// All three, in catalogue order.
    pub const ALL: [Scenario; 3] = [
        Scenario::Sequential,
        Scenario::Concurrent,
        Scenario::Redelivery,
    ];

    /// The middle part of the case ids.
    pub const fn name(self) -> &'static str {
        match self {
            Scenario::Sequential => "sequential",
            Scenario::Concurrent => "concurrent",
            Scenario::Redelivery => "redelivery",
        }
    }

    const fn what(self, standard: bool) -> &'static str {
        match (self, standard) {
            (Scenario::Sequential, _) => "the same delivery sent twice in a row",
            (Scenario::Concurrent, false) => "the same event sent 5 times at once",
            (Scenario::Concurrent, true) => {
                "the same message (one webhook-id) sent 5 times at once, each with its own \
                 X-Menon-Delivery"
            }
            (Scenario::Redelivery, false) => "a redelivery (new X-Menon-Delivery, same event id)",
            (Scenario::Redelivery, true) => {
                "a redelivery (new X-Menon-Delivery and webhook-timestamp, same webhook-id)"
            }
        }
    }
}

/// A case's id, typed: the one place case names are spelled is its [`fmt::Display`],
/// which writes the stable string id (`signature/tampered-body`) that `--cases`,
/// `--list` and the reports show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CaseId {
    /// `signature/valid/<type>`: a validly signed fixture event of each type.
    Valid(EventType),
    /// `signature/non-ascii`
    NonAscii,
    /// `signature/large-body`
    LargeBody,
    /// `signature/rotation/<order>`
    Rotation(Rotation),
    /// `signature/header-case`: the header names in the docs' spelling and in mixed case
    HeaderCase,
    /// `signature/missing`
    Missing,
    /// `signature/wrong-secret`
    WrongSecret,
    /// `signature/tampered-body`
    TamperedBody,
    /// `signature/forged` (Standard Webhooks only)
    Forged,
    /// `signature/wrong-id` (Standard Webhooks only)
    WrongId,
    /// `signature/malformed/<how>` (Menon only)
    Malformed(Malformed),
    /// `signature/stale-timestamp`, `signature/future-timestamp`
    Skewed(Skew),
    /// `idempotency/<scenario>/acknowledged`
    Acknowledged(Scenario),
    /// `idempotency/<scenario>/processed-once`
    ProcessedOnce(Scenario),
    /// `fast-200/deadline`
    Deadline,
    /// `fast-200/burst`
    Burst,
    /// `robustness/unknown-event-type`
    UnknownEventType,
    /// `robustness/test-event`
    TestEvent,
    /// `robustness/extra-fields`: `data` with members the docs do not show (yet)
    ExtraFields,
    /// `robustness/out-of-order`: an update of a listing not seen created
    OutOfOrder,
}

impl CaseId {
    /// Every case of every scheme, in the order they run and are reported.
    pub fn all() -> Vec<CaseId> {
        let mut ids: Vec<CaseId> = EventType::ALL.iter().copied().map(CaseId::Valid).collect();
        ids.extend([CaseId::NonAscii, CaseId::LargeBody]);
        ids.extend(Rotation::ALL.map(CaseId::Rotation));
        ids.extend([
            CaseId::HeaderCase,
            CaseId::Missing,
            CaseId::WrongSecret,
            CaseId::TamperedBody,
            CaseId::Forged,
            CaseId::WrongId,
        ]);
        ids.extend(Malformed::ALL.map(CaseId::Malformed));
        ids.extend(Skew::ALL.map(CaseId::Skewed));
        for scenario in Scenario::ALL {
            ids.extend([
                CaseId::Acknowledged(scenario),
                CaseId::ProcessedOnce(scenario),
            ]);
        }
        ids.extend([
            CaseId::Deadline,
            CaseId::Burst,
            CaseId::UnknownEventType,
            CaseId::TestEvent,
            CaseId::ExtraFields,
            CaseId::OutOfOrder,
        ]);
        ids
    }

    /// The cases of a run with `scheme`, in the order they run and are reported.
    pub fn of_scheme(scheme: SigningScheme) -> Vec<CaseId> {
        let mut ids = Self::all();
        ids.retain(|id| id.applies_to(scheme));
        ids
    }

    /// Whether a run with `scheme` has this case: the malformed `X-Menon-Signature` cases
    /// are Menon's, the forged and wrong-id cases Standard Webhooks'.
    pub const fn applies_to(self, scheme: SigningScheme) -> bool {
        let standard = !matches!(scheme, SigningScheme::Menon);
        match self {
            CaseId::Malformed(_) => !standard,
            CaseId::Forged | CaseId::WrongId => standard,
            _ => true,
        }
    }

    /// Its tier with `scheme`: everything is a MUST but
    /// - a replayed timestamp for Menon (receivers written from the docs check v1 alone and
    ///   cannot see it); Standard Webhooks signs its timestamp, so there a replay must be
    ///   refused;
    /// - an update that arrives before its create (`robustness/out-of-order`): a receiver
    ///   that answers 5xx to it until the create has come is retried and recovers when the
    ///   create is only late; it loses the update only when the create never comes (PROTOCOL
    ///   §7 says why this is a SHOULD).
    ///
    /// A MUST case can still end in `warn`: the Menon rotation cases, when both orders are
    /// refused by a receiver that checks `X-Menon-Signature` alone (as for a replay, it
    /// cannot see the v2 header it ignores).
    pub const fn tier(self, scheme: SigningScheme) -> Tier {
        match (self, scheme) {
            (CaseId::Skewed(_), SigningScheme::Menon) | (CaseId::OutOfOrder, _) => Tier::Should,
            _ => Tier::Must,
        }
    }

    /// Its group.
    pub const fn group(self) -> Group {
        match self {
            CaseId::Valid(_)
            | CaseId::NonAscii
            | CaseId::LargeBody
            | CaseId::Rotation(_)
            | CaseId::HeaderCase
            | CaseId::Missing
            | CaseId::WrongSecret
            | CaseId::TamperedBody
            | CaseId::Forged
            | CaseId::WrongId
            | CaseId::Malformed(_)
            | CaseId::Skewed(_) => Group::Signature,
            CaseId::Acknowledged(_) | CaseId::ProcessedOnce(_) => Group::Idempotency,
            CaseId::Deadline | CaseId::Burst => Group::Fast200,
            CaseId::UnknownEventType
            | CaseId::TestEvent
            | CaseId::ExtraFields
            | CaseId::OutOfOrder => Group::Robustness,
        }
    }

    /// Whether a conforming receiver refuses this case's delivery (with 4xx).
    pub const fn is_refusal(self) -> bool {
        matches!(
            self,
            CaseId::Missing
                | CaseId::WrongSecret
                | CaseId::TamperedBody
                | CaseId::Forged
                | CaseId::WrongId
                | CaseId::Malformed(_)
                | CaseId::Skewed(_)
        )
    }

    /// What a conforming receiver does with `scheme`, in one sentence.
    pub fn expect(self, scheme: SigningScheme) -> String {
        let standard = !matches!(scheme, SigningScheme::Menon);
        match self {
            CaseId::Valid(t) => format!("a validly signed `{t}` delivery is accepted (2xx)"),
            CaseId::NonAscii => "a validly signed body with accents, CJK, emoji and escaped \
                                 control characters is accepted"
                .into(),
            CaseId::LargeBody => "a validly signed 256 KiB body is accepted".into(),
            CaseId::Rotation(r) if standard => {
                let order = match r {
                    Rotation::GoodFirst => "the receiver's key's entry first, another key's second",
                    Rotation::GoodSecond => {
                        "another key's entry first, the receiver's key's second"
                    }
                };
                format!(
                    "a `webhook-signature` with two entries ({order}), as during a key \
                     rotation, is accepted (2xx): any one valid entry passes"
                )
            }
            CaseId::Rotation(r) => {
                let order = match r {
                    Rotation::GoodFirst => {
                        "the receiver's secret's entry first, the new one's second"
                    }
                    Rotation::GoodSecond => {
                        "the new secret's entry first, as the server sends them, the receiver's \
                         second"
                    }
                };
                format!(
                    "during a secret rotation (X-Menon-Signature signed with a new secret the \
                     receiver does not hold yet), an X-Menon-Signature-V2 with two `v2=` entries \
                     ({order}) is accepted (2xx); accepting one order only fails (it reads one \
                     entry), refusing both warns (it checks X-Menon-Signature alone)"
                )
            }
            CaseId::HeaderCase => {
                let (docs, mixed) = if standard {
                    (
                        "`webhook-signature`, `X-Menon-Event`",
                        "`wEbHoOk-sIgNaTuRe`",
                    )
                } else {
                    ("`X-Menon-Signature`", "`x-mEnOn-sIgNaTuRe`")
                };
                format!(
                    "a valid delivery with its header names spelled as in the docs ({docs}) and \
                     one spelled in mixed case ({mixed}) are both accepted: header names are \
                     case-insensitive (the other cases send them in lowercase)"
                )
            }
            CaseId::Missing if standard => {
                "a delivery without a `webhook-signature` header is refused (4xx)".into()
            }
            CaseId::Missing => "a delivery without any signature header is refused (4xx)".into(),
            CaseId::WrongSecret if standard => {
                "a delivery signed with another key of the same scheme is refused (4xx)".into()
            }
            CaseId::WrongSecret => "a delivery signed with another secret is refused (4xx)".into(),
            CaseId::TamperedBody if standard => {
                "a delivery whose body was changed by one byte after signing is refused (4xx)"
                    .into()
            }
            CaseId::TamperedBody => {
                "a delivery whose body was changed after signing is refused (4xx)".into()
            }
            CaseId::Forged => "a `webhook-signature` whose signature was altered (one base64 \
                               character changed) is refused (4xx)"
                .into(),
            CaseId::WrongId => "a delivery whose `webhook-id` was changed after signing is \
                                refused (4xx): the id is part of the signed content"
                .into(),
            CaseId::Malformed(m) => m.expect(),
            CaseId::Skewed(s) if standard => format!(
                "a delivery whose `webhook-timestamp` is {} (signed with that timestamp) is \
                 refused (4xx)",
                s.what()
            ),
            CaseId::Skewed(s) => format!(
                "a delivery whose X-Menon-Signature-V2 timestamp is {} is refused \
                 (a warning only: receivers that check v1 alone cannot see it)",
                s.what()
            ),
            CaseId::Acknowledged(s) => {
                format!("{}: every copy is acknowledged (2xx)", s.what(standard))
            }
            CaseId::ProcessedOnce(s) => {
                format!(
                    "{}: the side effect runs exactly once (needs --probe)",
                    s.what(standard)
                )
            }
            CaseId::Deadline => {
                "every valid delivery of the other cases is answered within the deadline".into()
            }
            CaseId::Burst => "100 concurrent valid deliveries: every one acknowledged (2xx), \
                              the p99 answer time within the deadline, none reaching the 10 s \
                              delivery timeout"
                .into(),
            CaseId::UnknownEventType => "a validly signed event of a type not (yet) in the docs \
                                         is acknowledged (2xx)"
                .into(),
            CaseId::TestEvent => "a validly signed test delivery (header `X-Menon-Test: true`) \
                                  is acknowledged (2xx)"
                .into(),
            CaseId::ExtraFields => "a valid `listing.created` whose `data` carries members the \
                                    docs do not show yet (`data.actor`, \
                                    `data.listing.location`) is acknowledged (2xx)"
                .into(),
            CaseId::OutOfOrder => "a `listing.updated` of a listing the receiver has not seen \
                                   created is acknowledged (2xx), as are that listing's \
                                   `listing.created` and next update sent after it: deliveries \
                                   carry no ordering promise (a warning only: a 5xx to it is \
                                   retried and passes once the create has come)"
                .into(),
        }
    }

    /// How to fix a receiver that fails it, with `scheme`.
    pub const fn fix(self, scheme: SigningScheme) -> &'static str {
        let standard = !matches!(scheme, SigningScheme::Menon);
        match self {
            CaseId::Valid(_) | CaseId::NonAscii if standard => FIX_ACCEPT_STANDARD,
            CaseId::Valid(_) | CaseId::NonAscii => FIX_ACCEPT,
            CaseId::LargeBody => FIX_LARGE,
            CaseId::Rotation(_) if standard => FIX_ROTATION,
            CaseId::Rotation(_) => FIX_ROTATION_MENON,
            CaseId::HeaderCase => FIX_HEADER_CASE,
            CaseId::Missing
            | CaseId::WrongSecret
            | CaseId::TamperedBody
            | CaseId::Forged
            | CaseId::WrongId
                if standard =>
            {
                FIX_REFUSE_STANDARD
            }
            CaseId::Missing
            | CaseId::WrongSecret
            | CaseId::TamperedBody
            | CaseId::Forged
            | CaseId::WrongId
            | CaseId::Malformed(_) => FIX_REFUSE,
            CaseId::Skewed(_) if standard => FIX_STALE_STANDARD,
            CaseId::Skewed(_) => FIX_STALE,
            CaseId::Acknowledged(_) if standard => FIX_IDEMPOTENT_ACK_STANDARD,
            CaseId::Acknowledged(_) => FIX_IDEMPOTENT_ACK,
            CaseId::ProcessedOnce(_) if standard => FIX_ONCE_STANDARD,
            CaseId::ProcessedOnce(_) => FIX_ONCE,
            CaseId::Deadline | CaseId::Burst => FIX_FAST,
            CaseId::UnknownEventType | CaseId::TestEvent => FIX_ROBUST,
            CaseId::ExtraFields => FIX_EXTRA_FIELDS,
            CaseId::OutOfOrder => FIX_ORDER,
        }
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut id = String::with_capacity(48);
        self.write_id(&mut id)?;
        // `pad`, so that `{:<width$}` lines ids up in `--list` and the terminal table.
        f.pad(&id)
    }
}

impl CaseId {
    fn write_id(self, f: &mut impl fmt::Write) -> fmt::Result {
        write!(f, "{}/", self.group())?;
        match self {
            CaseId::Valid(t) => write!(f, "valid/{t}"),
            CaseId::NonAscii => f.write_str("non-ascii"),
            CaseId::LargeBody => f.write_str("large-body"),
            CaseId::Missing => f.write_str("missing"),
            CaseId::WrongSecret => f.write_str("wrong-secret"),
            CaseId::TamperedBody => f.write_str("tampered-body"),
            CaseId::Rotation(r) => write!(f, "rotation/{}", r.name()),
            CaseId::HeaderCase => f.write_str("header-case"),
            CaseId::Forged => f.write_str("forged"),
            CaseId::WrongId => f.write_str("wrong-id"),
            CaseId::Malformed(m) => write!(f, "malformed/{}", m.name()),
            CaseId::Skewed(s) => f.write_str(s.name()),
            CaseId::Acknowledged(s) => write!(f, "{}/acknowledged", s.name()),
            CaseId::ProcessedOnce(s) => write!(f, "{}/processed-once", s.name()),
            CaseId::Deadline => f.write_str("deadline"),
            CaseId::Burst => f.write_str("burst"),
            CaseId::UnknownEventType => f.write_str("unknown-event-type"),
            CaseId::TestEvent => f.write_str("test-event"),
            CaseId::ExtraFields => f.write_str("extra-fields"),
            CaseId::OutOfOrder => f.write_str("out-of-order"),
        }
    }
}

/// Written as its string id.
impl Serialize for CaseId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One case of the catalogue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Case {
    /// Stable id, `<group>/<name>`, e.g. `signature/tampered-body`.
    #[schema(value_type = String)]
    pub id: CaseId,
    /// Its group.
    pub group: Group,
    /// `must` (not met: `fail`) or `should` (not met: `warn`).
    pub tier: Tier,
    /// What a conforming receiver does, in one sentence.
    pub expect: String,
    /// How to fix a receiver that fails it.
    pub fix: &'static str,
}

impl Case {
    /// The catalogue entry of `id` in a run with `scheme`.
    pub fn of(id: CaseId, scheme: SigningScheme) -> Self {
        Case {
            id,
            group: id.group(),
            tier: id.tier(scheme),
            expect: id.expect(scheme),
            fix: id.fix(scheme),
        }
    }
}

const FIX_ACCEPT: &str =
    "Verify the raw request body exactly as received (before any JSON parsing), \
    with the secret as given (`whsec_` prefix included, not base64-decoded), and answer 2xx.";
const FIX_LARGE: &str = "Raise your framework's body size limit (Express' default is 100 kB) \
    to at least 1 MiB for the webhook route, and verify the raw bytes.";
const FIX_REFUSE: &str = "Compute HMAC-SHA256 over the raw body with your secret, compare it in \
    constant time with the hex after `sha256=` in X-Menon-Signature (or use the SDK's verify), \
    and answer 400 or 401 when it does not match or the header is missing or malformed. \
    A 5xx makes Menon retry a request that can never succeed.";
const FIX_STALE: &str = "Check X-Menon-Signature-V2 when present: refuse when its `t=` is more \
    than 300 s from your clock, in either direction (the SDKs' verify does this).";
const FIX_IDEMPOTENT_ACK: &str =
    "Deduplicate by the envelope's `id` and answer 2xx to every copy, \
    also to a copy you already processed (never 409 or 5xx: Menon would retry it).";
const FIX_ONCE: &str = "Record the event id atomically before doing the work (a unique key \
    in your database, INSERT ... ON CONFLICT DO NOTHING) and skip the work when it was \
    already there; concurrent copies must not both pass the check.";
const FIX_FAST: &str = "Acknowledge first: verify, record the event id, answer 2xx, then do \
    slow work in a background job or queue.";
const FIX_ACCEPT_STANDARD: &str = "Verify the raw request body exactly as received (before \
    any JSON parsing) with the webhook-id, webhook-timestamp and webhook-signature headers and \
    your key as given (`whsec_…` for standard-v1, the `whpk_…` public key for standard-v1a), \
    with a Standard Webhooks library or the SDK, and answer 2xx.";
const FIX_ROTATION: &str = "During a key rotation webhook-signature holds one space-separated \
    entry per key (`v1,…` or `v1a,…`), newest first: try every entry and accept when any one \
    verifies, not only the first (Standard Webhooks libraries do).";
const FIX_ROTATION_MENON: &str = "During a secret rotation X-Menon-Signature is signed with \
    the new secret, which you may not hold yet, and X-Menon-Signature-V2 carries one `v2=` \
    entry per live secret, newest first: verify X-Menon-Signature-V2 when it is present and \
    accept when any one of its `v2=` entries verifies (the SDKs' verify does), not only the \
    first or the last.";
const FIX_HEADER_CASE: &str = "Read headers case-insensitively: through your framework's \
    header accessor (Express `req.get`, Starlette `request.headers`, an `http::HeaderMap`), or, \
    with a case-sensitive map (API Gateway REST `event.headers`, a dict or object built from \
    raw headers), lowercase every name first and look up the lowercase one. Menon's server \
    writes `X-Menon-Signature`; proxies and HTTP/2 write `x-menon-signature`.";
const FIX_EXTRA_FIELDS: &str = "Validate the members you use and ignore the others: the docs \
    add members to `data` over time. Let your schema allow unknown members (pydantic's default \
    `extra=\"ignore\"`, not `\"forbid\"`; zod without `.strict()`; serde without \
    `deny_unknown_fields`), and keep verifying the raw body.";
const FIX_ORDER: &str = "Acknowledge every valid delivery whatever order it comes in: \
    deliveries carry no ordering promise (PROTOCOL §5). Keep an update to something you have \
    not seen (or fetch its current state from the API) and apply events by `created_at`. A \
    5xx makes Menon retry it for about 26 hours and then drop it, and answering 5xx to every \
    delivery for that long disables the webhook.";
const FIX_REFUSE_STANDARD: &str = "Verify `<webhook-id>.<webhook-timestamp>.<raw body>` against \
    the entries of webhook-signature with your key (a Standard Webhooks library or the SDK), \
    comparing whole signatures in constant time, and answer 400 or 401 when none verifies or a \
    header is missing. A 5xx makes Menon retry a request that can never succeed.";
const FIX_STALE_STANDARD: &str = "Refuse a webhook-timestamp more than 300 s from your clock, \
    in either direction (Standard Webhooks libraries do): the timestamp is signed so that a \
    replayed message can be told apart.";
const FIX_IDEMPOTENT_ACK_STANDARD: &str = "Deduplicate by webhook-id (the event id, the same \
    on every attempt) and answer 2xx to every copy, also to a copy you already processed \
    (never 409 or 5xx: Menon would retry it).";
const FIX_ONCE_STANDARD: &str = "Record the webhook-id atomically before doing the work (a \
    unique key in your database, INSERT ... ON CONFLICT DO NOTHING) and skip the work when it \
    was already there; not X-Menon-Delivery, which is new on every attempt, and concurrent \
    copies must not both pass the check.";
const FIX_ROBUST: &str = "Answer 2xx to every validly signed delivery, including event types \
    you do not handle and test deliveries (header `X-Menon-Test: true`); new types can appear at any time.";

/// The cases of a run with `scheme`, in the order they run and are reported.
pub fn catalogue(scheme: SigningScheme) -> Vec<Case> {
    CaseId::of_scheme(scheme)
        .into_iter()
        .map(|id| Case::of(id, scheme))
        .collect()
}

/// A `--cases` selection: comma-separated patterns, each a case id, a group or id prefix
/// (`signature`, `signature/malformed`), or a glob with `*` (`*/valid/listing.*`).
#[derive(Debug, Clone)]
pub struct Selection {
    patterns: Vec<String>,
}

impl Selection {
    /// Parses `--cases`; `None` selects everything.
    pub fn parse(text: Option<&str>) -> Self {
        let patterns = text
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect();
        Self { patterns }
    }

    /// Whether `id` is selected.
    pub fn matches(&self, id: &str) -> bool {
        self.patterns.is_empty() || self.patterns.iter().any(|p| pattern_matches(p, id))
    }

    /// Whether case `id` is selected.
    pub fn selects(&self, id: CaseId) -> bool {
        self.patterns.is_empty() || self.matches(&id.to_string())
    }

    /// The patterns that select nothing in `cases` (a typo, most likely).
    pub fn unmatched<'a>(&'a self, cases: &[Case]) -> Vec<&'a str> {
        self.patterns
            .iter()
            .filter(|p| !cases.iter().any(|c| pattern_matches(p, &c.id.to_string())))
            .map(String::as_str)
            .collect()
    }
}

fn pattern_matches(pattern: &str, id: &str) -> bool {
    if pattern.contains('*') {
        return glob(pattern.as_bytes(), id.as_bytes());
    }
    let pattern = pattern.trim_end_matches('/');
    id == pattern
        || id
            .strip_prefix(pattern)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// `*` matches any run of characters (slashes included); everything else matches itself.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            backtrack = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star, from)) = backtrack {
            p = star + 1;
            t = from + 1;
            backtrack = Some((star, from + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_grouped() {
        let mut every: Vec<String> = CaseId::all().iter().map(ToString::to_string).collect();
        every.sort_unstable();
        every.dedup();
        assert_eq!(every.len(), CaseId::all().len());
        for scheme in SigningScheme::ALL {
            let cases = catalogue(scheme);
            for c in &cases {
                assert!(
                    c.id.to_string().starts_with(&format!("{}/", c.group)),
                    "{}",
                    c.id
                );
            }
            assert_eq!(
                cases
                    .iter()
                    .filter(|c| c.id.to_string().starts_with("signature/valid/"))
                    .count(),
                21
            );
        }
    }

    #[test]
    fn each_scheme_has_its_own_cases_and_tiers() {
        let ids = |scheme| -> Vec<String> {
            catalogue(scheme).iter().map(|c| c.id.to_string()).collect()
        };
        let menon = ids(SigningScheme::Menon);
        let standard = ids(SigningScheme::StandardV1);
        assert_eq!(standard, ids(SigningScheme::StandardV1a));
        assert_eq!(standard.len(), 45);
        assert!(menon.contains(&"signature/malformed/md5".into()));
        assert!(!standard
            .iter()
            .any(|id| id.starts_with("signature/malformed/")));
        for id in ["signature/forged", "signature/wrong-id"] {
            assert!(
                standard.contains(&id.into()) && !menon.contains(&id.into()),
                "{id}"
            );
        }
        for id in [
            "signature/rotation/good-first",
            "signature/rotation/good-second",
            "signature/header-case",
            "robustness/extra-fields",
            "robustness/out-of-order",
        ] {
            assert!(
                standard.contains(&id.into()) && menon.contains(&id.into()),
                "{id}"
            );
        }
        let stale = CaseId::Skewed(Skew::Stale);
        assert_eq!(stale.tier(SigningScheme::Menon), Tier::Should);
        assert_eq!(stale.tier(SigningScheme::StandardV1a), Tier::Must);
        for scheme in SigningScheme::ALL {
            assert_eq!(CaseId::OutOfOrder.tier(scheme), Tier::Should);
            assert_eq!(
                CaseId::Rotation(Rotation::GoodFirst).tier(scheme),
                Tier::Must
            );
            assert_eq!(CaseId::HeaderCase.tier(scheme), Tier::Must);
            assert_eq!(CaseId::ExtraFields.tier(scheme), Tier::Must);
        }
        assert_ne!(
            CaseId::Rotation(Rotation::GoodFirst).fix(SigningScheme::Menon),
            CaseId::Rotation(Rotation::GoodFirst).fix(SigningScheme::StandardV1)
        );
        assert!(CaseId::Forged.is_refusal() && CaseId::WrongId.is_refusal());
        assert!(!CaseId::Rotation(Rotation::GoodSecond).is_refusal());
    }

    #[test]
    fn typed_ids_write_the_stable_strings() {
        let ids = [
            (
                CaseId::Valid(EventType::ListingSold),
                "signature/valid/listing.sold",
            ),
            (
                CaseId::Malformed(Malformed::V2WithoutSignature),
                "signature/malformed/v2-without-signature",
            ),
            (CaseId::Skewed(Skew::Stale), "signature/stale-timestamp"),
            (
                CaseId::Rotation(Rotation::GoodSecond),
                "signature/rotation/good-second",
            ),
            (CaseId::Forged, "signature/forged"),
            (CaseId::WrongId, "signature/wrong-id"),
            (
                CaseId::ProcessedOnce(Scenario::Concurrent),
                "idempotency/concurrent/processed-once",
            ),
            (CaseId::Burst, "fast-200/burst"),
            (CaseId::TestEvent, "robustness/test-event"),
            (CaseId::HeaderCase, "signature/header-case"),
            (CaseId::ExtraFields, "robustness/extra-fields"),
            (CaseId::OutOfOrder, "robustness/out-of-order"),
        ];
        for (id, text) in ids {
            assert_eq!(id.to_string(), text);
            assert_eq!(serde_json::to_value(id).ok(), Some(text.into()));
        }
        assert_eq!(format!("{:<20}|", CaseId::Burst), "fast-200/burst      |");
        assert_eq!(catalogue(SigningScheme::Menon).len(), 49);
        assert!(Selection::parse(Some("*/burst")).selects(CaseId::Burst));
    }

    #[test]
    fn patterns() {
        let s = Selection::parse(Some(
            "signature/malformed, fast-200/burst,*/valid/listing.*",
        ));
        assert!(s.matches("signature/malformed/md5"));
        assert!(s.matches("fast-200/burst"));
        assert!(s.matches("signature/valid/listing.sold"));
        assert!(!s.matches("signature/valid/message.read"));
        assert!(!s.matches("fast-200/deadline"));
        assert!(!s.matches("signature/malformed-ish"));
        assert!(Selection::parse(None).matches("anything"));
        let typo = Selection::parse(Some("signatur,idempotency"));
        assert_eq!(
            typo.unmatched(&catalogue(SigningScheme::Menon)),
            vec!["signatur"]
        );
    }
}
