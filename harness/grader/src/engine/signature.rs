//! The signature group: the deliveries a conforming receiver accepts (the 21 fixture
//! types, a non-ASCII body, a 256 KiB body, a rotation's two signature entries in both
//! orders, the header names in the docs' spelling and in mixed case) and those it refuses
//! with 4xx (no signature, another secret, a tampered body, malformed headers for Menon, a
//! forged signature or an altered `webhook-id` for Standard Webhooks, a replayed
//! timestamp).

use std::time::Instant;

use menon_harness_common::delivery::SigningScheme;
use menon_webhooks::{headers, EventType};
use serde_json::{json, Map, Value};

use super::{fixture_data, now, other_key, Runner};
use crate::cases::{CaseId, Malformed, Rotation, Skew, Tier};
use crate::judge::{self, Verdict};
use crate::send::{self, Exchange, Outgoing, Spelling};

impl Runner<'_> {
    /// The deliveries a conforming receiver accepts: the 21 fixtures, non-ASCII, 256 KiB,
    /// the two rotation orders and the header spellings.
    /// A valid delivery is also sent when only fast-200/deadline wants it.
    pub(super) async fn valid_deliveries(&mut self) -> Result<(), String> {
        let deadline = self.wants(CaseId::Deadline);
        for event_type in EventType::ALL {
            let id = CaseId::Valid(*event_type);
            if !self.wants(id) && !deadline {
                continue;
            }
            let out = self.signed(event_type.as_str(), fixture_data(*event_type))?;
            self.accept_case(id, &out).await;
        }
        let t = now();
        let (scheme, secret) = (self.scheme, self.target.secret.clone());
        let specials = [
            (CaseId::NonAscii, {
                let env = send::envelope("message.received", non_ascii_data(), t)?;
                Outgoing::signed(&env, scheme, &secret, t)?
            }),
            (
                CaseId::LargeBody,
                large_body(scheme, &secret, t, 256 * 1024)?,
            ),
        ];
        for (id, out) in specials {
            if !self.wants(id) {
                continue;
            }
            self.accept_case(id, &out).await;
        }
        if scheme == SigningScheme::Menon {
            self.menon_rotation().await?;
        } else {
            for order in Rotation::ALL {
                let id = CaseId::Rotation(order);
                if !self.wants(id) {
                    continue;
                }
                let other = other_key(scheme)?;
                let secrets = match order {
                    Rotation::GoodFirst => [secret.as_str(), other.as_str()],
                    Rotation::GoodSecond => [other.as_str(), secret.as_str()],
                };
                let env = send::envelope(
                    "listing.updated",
                    fixture_data(EventType::ListingUpdated),
                    t,
                )?;
                let out = Outgoing::signed_by_each(&env, scheme, &secrets, t)?;
                self.accept_case(id, &out).await;
            }
        }
        self.header_case().await
    }

    /// The Menon rotation cases. The receiver holds the old secret (the one given to
    /// `grade`); the sender has a new one, signs `X-Menon-Signature` with it and sends a
    /// `v2=` entry for each secret. Three deliveries: a control signed with the old secret
    /// alone, then the two entries in each order. Both orders accepted: both pass. One
    /// order only: the refused one fails (the receiver reads one `v2=` entry). Both
    /// refused with 4xx while the control is accepted: both warn (it checks
    /// `X-Menon-Signature` alone, which the new secret signed: a docs-only receiver, which
    /// cannot see a rotation coming). Anything else is judged as any valid delivery.
    async fn menon_rotation(&mut self) -> Result<(), String> {
        let ids = Rotation::ALL.map(CaseId::Rotation);
        if !ids.iter().any(|id| self.wants(*id)) {
            return Ok(());
        }
        let old = self.target.secret.clone();
        let new = other_key(self.scheme)?;
        let updated = || fixture_data(EventType::ListingUpdated);
        let control = self.signed("listing.updated", updated())?;
        let started = Instant::now();
        let control = self.send(&control).await;
        let mut sent: Vec<(Rotation, Exchange)> = Vec::new();
        for order in Rotation::ALL {
            let t = now();
            let env = send::envelope("listing.updated", updated(), t)?;
            let v2_order = match order {
                Rotation::GoodFirst => [old.as_str(), new.as_str()],
                Rotation::GoodSecond => [new.as_str(), old.as_str()],
            };
            let out = Outgoing::signed_during_rotation(&env, &new, &v2_order, t)?;
            sent.push((order, self.send(&out).await));
        }
        let refused_4xx = |e: &Exchange| e.status().is_some_and(|s| (400..500).contains(&s));
        for (order, exchange) in &sent {
            let (other_order, other) = sent
                .iter()
                .find(|(o, _)| o != order)
                .map(|(o, e)| (*o, e))
                .unwrap_or((*order, exchange));
            let mut verdict = judge::accepted(exchange);
            if verdict.0 == Verdict::Fail && control.acknowledged() && refused_4xx(exchange) {
                let status = exchange.status().unwrap_or_default();
                verdict = if other.acknowledged() {
                    (
                        Verdict::Fail,
                        format!(
                            "refused with {status} the entries in this order ({}) and accepted \
                             them in the other ({}): it verifies one `v2=` entry of \
                             X-Menon-Signature-V2, not each, so during a rotation (24 hours) it \
                             refuses the deliveries whose entries come in this order",
                            order_words(*order),
                            order_words(other_order)
                        ),
                    )
                } else if refused_4xx(other) {
                    (
                        Verdict::Warn,
                        format!(
                            "refused with {status} both orders of a rotation's two `v2=` entries, \
                             while it accepts a delivery signed with its secret alone: it checks \
                             X-Menon-Signature alone, which the new secret signs during a \
                             rotation, so it refuses every delivery until its secret is changed \
                             (verify X-Menon-Signature-V2 when present)"
                        ),
                    )
                } else {
                    verdict
                };
            }
            let id = CaseId::Rotation(*order);
            self.record(id, verdict, started, &[exchange.clone(), control.clone()]);
        }
        self.valid.push(control);
        self.valid.extend(sent.into_iter().map(|(_, e)| e));
        Ok(())
    }

    /// `signature/header-case`: two valid deliveries (new events), one with the header
    /// names spelled as in the docs and one in mixed case; every other case sends them in
    /// lower case. Both must be accepted.
    async fn header_case(&mut self) -> Result<(), String> {
        let id = CaseId::HeaderCase;
        if !self.wants(id) {
            return Ok(());
        }
        let https = self.target.url.starts_with("https:");
        let signature = match self.scheme {
            SigningScheme::Menon => headers::SIGNATURE,
            _ => headers::standard::SIGNATURE,
        };
        let started = Instant::now();
        let mut sent: Vec<(Spelling, Exchange)> = Vec::new();
        for spelling in Spelling::ALL {
            if https && spelling == Spelling::Mixed {
                // Not sent: over https the grader's HTTP client writes title case only.
                self.progress.tick();
                continue;
            }
            let out = self.signed("listing.created", fixture_data(EventType::ListingCreated))?;
            sent.push((spelling, self.send_spelled(&out, spelling).await));
        }
        // The name as written (over https, title case), e.g. `X-Menon-Signature`.
        let written = |e: &Exchange| {
            e.request
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(signature))
                .map(|h| h.name.clone())
                .unwrap_or_default()
        };
        let failed = sent.iter().find_map(|(spelling, e)| {
            let (verdict, reason) = judge::accepted(e);
            (verdict == Verdict::Fail).then(|| {
                format!(
                    "{reason} (a delivery with its header names spelled {}: {}; HTTP header \
                     names are case-insensitive, and the other cases spell them in lower case)",
                    spelling.what(),
                    written(e)
                )
            })
        });
        let verdict = match failed {
            Some(reason) => (Verdict::Fail, reason),
            None => {
                let accepted: Vec<String> = sent
                    .iter()
                    .map(|(spelling, e)| {
                        format!("{} ({}) with {}", spelling.what(), written(e), e.outcome())
                    })
                    .collect();
                let mut reason = format!(
                    "accepted deliveries with the header names spelled {}",
                    accepted.join(" and ")
                );
                if https {
                    reason.push_str(
                        "; over https the grader writes title case only, not the mixed \
                         spelling: grade over http to check that one too",
                    );
                }
                (Verdict::Pass, reason)
            }
        };
        let exchanges: Vec<Exchange> = sent.into_iter().map(|(_, e)| e).collect();
        self.record(id, verdict, started, &exchanges);
        self.valid.extend(exchanges);
        Ok(())
    }

    /// The deliveries a conforming receiver refuses with 4xx.
    pub(super) async fn refusals(&mut self) -> Result<(), String> {
        let (scheme, secret) = (self.scheme, self.target.secret.clone());
        let standard = scheme != SigningScheme::Menon;
        let base = || self.signed("listing.updated", fixture_data(EventType::ListingUpdated));
        if !CaseId::all()
            .into_iter()
            .any(|id| id.is_refusal() && self.wants(id))
        {
            return Ok(());
        }
        // A control: one valid delivery first, so that a 404 to a refusal is known to be
        // the receiver's answer and not a wrong URL.
        let control = self.send(&base()?).await;
        let route_ok = control.acknowledged();

        let mut cases: Vec<(CaseId, Outgoing)> = Vec::new();
        if self.wants(CaseId::Missing) {
            let mut missing = base()?;
            if standard {
                missing.remove(headers::standard::SIGNATURE);
            } else {
                missing.remove(headers::SIGNATURE);
                missing.remove(headers::SIGNATURE_V2);
            }
            cases.push((CaseId::Missing, missing));
        }
        if self.wants(CaseId::WrongSecret) {
            let other = other_key(scheme)?;
            let t = now();
            let env = send::envelope(
                "listing.updated",
                fixture_data(EventType::ListingUpdated),
                t,
            )?;
            cases.push((
                CaseId::WrongSecret,
                Outgoing::signed(&env, scheme, &other, t)?,
            ));
        }
        if self.wants(CaseId::TamperedBody) {
            let mut tampered = base()?;
            tampered.body = if standard {
                change_one_byte(&tampered.body)
            } else {
                tamper(&tampered.body)
            };
            cases.push((CaseId::TamperedBody, tampered));
        }
        // The Standard Webhooks headers with one value altered after signing.
        for (id, name) in [
            (CaseId::Forged, headers::standard::SIGNATURE),
            (CaseId::WrongId, headers::standard::ID),
        ] {
            if self.wants(id) {
                let mut out = base()?;
                let value = out.get(name).map(change_one_character).unwrap_or_default();
                out.set(name, &value);
                cases.push((id, out));
            }
        }
        for how in Malformed::ALL {
            if self.wants(CaseId::Malformed(how)) {
                cases.push((CaseId::Malformed(how), malformed(base()?, how, &secret)));
            }
        }

        for (id, out) in cases {
            let started = Instant::now();
            let exchange = self.send(&out).await;
            let verdict = judge::refused(&exchange, Verdict::Fail, route_ok);
            self.record(id, verdict, started, std::slice::from_ref(&exchange));
        }

        self.valid.push(control);
        for skew in Skew::ALL {
            let id = CaseId::Skewed(skew);
            if !self.wants(id) {
                continue;
            }
            let t = now().saturating_add_signed(skew.seconds());
            let env = send::envelope(
                "listing.updated",
                fixture_data(EventType::ListingUpdated),
                now(),
            )?;
            let out = Outgoing::signed(&env, scheme, &secret, t)?;
            let started = Instant::now();
            let exchange = self.send(&out).await;
            let accepted_is = match id.tier(scheme) {
                Tier::Must => Verdict::Fail,
                Tier::Should => Verdict::Warn,
            };
            let (verdict, mut reason) = judge::refused(&exchange, accepted_is, route_ok);
            if exchange.acknowledged() {
                let header = if standard {
                    "webhook-timestamp"
                } else {
                    "X-Menon-Signature-V2's t="
                };
                reason.push_str(&format!(
                    " ({header} was {}: a replayed delivery was accepted)",
                    skew.what()
                ));
            }
            self.record(
                id,
                (verdict, reason),
                started,
                std::slice::from_ref(&exchange),
            );
        }
        Ok(())
    }
}

/// `GoodFirst` → "its secret's entry first", for reasons.
const fn order_words(order: Rotation) -> &'static str {
    match order {
        Rotation::GoodFirst => "its secret's entry first",
        Rotation::GoodSecond => "the new secret's entry first",
    }
}

/// `out` (a correctly signed delivery) with its signature headers broken as `how` says.
fn malformed(mut out: Outgoing, how: Malformed, secret: &str) -> Outgoing {
    if how == Malformed::V2WithoutSignature {
        out.remove(headers::SIGNATURE);
        out.set(headers::SIGNATURE_V2, &format!("t={}", now()));
        return out;
    }
    let right = menon_webhooks::sign(secret, &out.body);
    let hex = right.trim_start_matches("sha256=");
    let value = match how {
        Malformed::Empty => String::from("sha256="),
        Malformed::NonHex => format!("sha256={}", "z".repeat(64)),
        Malformed::Truncated => format!("sha256={}", &hex[..32.min(hex.len())]),
        Malformed::LastDigit => {
            let (head, last) = hex.split_at(hex.len().saturating_sub(1));
            let other = if last == "0" { "1" } else { "0" };
            format!("sha256={head}{other}")
        }
        Malformed::Md5 | Malformed::V2WithoutSignature => format!("md5={hex}"),
    };
    out.set(headers::SIGNATURE, &value);
    out.remove(headers::SIGNATURE_V2);
    out
}

/// A body with text a careless re-serializer breaks: accents, CJK, emoji, a line
/// separator, and control characters JSON must escape.
fn non_ascii_data() -> Map<String, Value> {
    // The docs' `message.received` shape (`data.message.content`, `sender`, `listing`),
    // with text a re-serializer gets wrong.
    // Only the docs' members, so that a receiver with a strict schema accepts it (unknown
    // members are robustness/extra-fields' to test).
    let Value::Object(data) = json!({
        "message": {
            "id": "msg_grade_unicode",
            "conversation_id": "conv_123",
            "content": "Grüße aus München! Überführung nach Zürich möglich? 北京 东京 서울 🚚🚛✨ — \u{2028}ok; tab\tnewline\nquote\"backslash\\ bell\u{7} nul-ish\u{1} del\u{7f}",
            "sender": {"id": "usr_456", "name": "Łukasz Żółć (Ünal Lojistik A.Ş.)"},
            "listing": {"id": "lst_xyz", "title": "2021 Volvo FH 500 · € 85.000,00 · ½ VAT"},
            "sent_at": "2024-01-15T14:30:00Z",
        },
    }) else {
        return Map::new();
    };
    data
}

/// `value` (a header value) with its middle character changed to another base64 one.
/// In a `webhook-signature` entry (`v1,<base64>`, `v1a,<base64>`) that is a signature
/// byte, so the signature no longer matches (a prefix comparison of the first half does
/// not notice); in an id, another id.
fn change_one_character(value: &str) -> String {
    let mut chars: Vec<char> = value.chars().collect();
    let middle = chars.len() / 2;
    if let Some(c) = chars.get_mut(middle) {
        *c = if *c == 'A' { 'B' } else { 'A' };
    }
    chars.into_iter().collect()
}

/// `body` (a canonical envelope) with one byte changed: the last digit of the seconds of
/// `created_at`, so it stays the same canonical envelope shape.
fn change_one_byte(body: &[u8]) -> Vec<u8> {
    let mut changed = body.to_vec();
    const KEY: &[u8] = b"\"created_at\":\"";
    // `YYYY-MM-DDTHH:MM:SSZ`: the second's last digit is the 19th character.
    let digit = changed
        .windows(KEY.len())
        .position(|w| w == KEY)
        .map(|at| at + KEY.len() + 18)
        .filter(|&i| changed.get(i).is_some_and(u8::is_ascii_digit));
    match digit {
        Some(i) => changed[i] = if changed[i] == b'0' { b'1' } else { b'0' },
        None => changed.push(b' '),
    }
    changed
}

/// A `listing.updated` whose listing `description` (a member the docs show) pads the
/// envelope to exactly `target` bytes (256 KiB).
fn large_body(
    scheme: SigningScheme,
    secret: &str,
    now: u64,
    target: usize,
) -> Result<Outgoing, String> {
    let mut env = send::envelope(
        "listing.updated",
        fixture_data(EventType::ListingUpdated),
        now,
    )?;
    let describe = |env: &mut menon_webhooks::Envelope, text: String| -> Result<(), String> {
        env.data
            .get_mut("listing")
            .and_then(Value::as_object_mut)
            .ok_or("the listing.updated fixture has no data.listing")?
            .insert("description".into(), Value::String(text));
        Ok(())
    };
    describe(&mut env, String::new())?;
    let base = env.to_json().map_err(|e| e.to_string())?.len();
    let pad = target.saturating_sub(base);
    let mut text: String = "Lorem ipsum dolor sit amet, Fahrzeug geprüft. "
        .chars()
        .cycle()
        .take(pad)
        .collect();
    // Multi-byte characters in the cycle make `pad` chars more than `pad` bytes: trim.
    while base + text.len() > target {
        text.pop();
    }
    describe(&mut env, text)?;
    Outgoing::signed(&env, scheme, secret, now)
}

/// Changes one value of a canonical body, keeping it canonical JSON of the same shape.
fn tamper(body: &[u8]) -> Vec<u8> {
    let Ok(mut value) = serde_json::from_slice::<Value>(body) else {
        let mut changed = body.to_vec();
        changed.push(b' ');
        return changed;
    };
    if let Some(data) = value.get_mut("data").and_then(Value::as_object_mut) {
        data.insert("tampered".into(), Value::Bool(true));
    }
    let json = serde_json::to_vec(&value).unwrap_or_else(|_| body.to_vec());
    menon_webhooks::canonicalize(&json).unwrap_or(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_body_is_exact_and_signed() -> Result<(), String> {
        let out = large_body(SigningScheme::Menon, "whsec_x", 1_705_314_600, 256 * 1024)?;
        assert_eq!(out.body.len(), 256 * 1024);
        let v1 = out.get("x-menon-signature").unwrap_or_default();
        assert!(menon_webhooks::verify("whsec_x", &out.body, v1).is_ok());
        assert!(menon_webhooks::Envelope::from_json(&out.body).is_ok());
        Ok(())
    }

    #[test]
    fn tampering_keeps_json_and_breaks_the_signature() -> Result<(), String> {
        let env = send::envelope("listing.updated", Map::new(), 1)?;
        let body = env.to_json().map_err(|e| e.to_string())?;
        let changed = tamper(&body);
        assert_ne!(changed, body);
        assert!(menon_webhooks::Envelope::from_json(&changed).is_ok());
        Ok(())
    }

    #[test]
    fn one_byte_changes_keep_the_envelope() -> Result<(), String> {
        let env = send::envelope("listing.updated", Map::new(), 1_705_314_600)?;
        let body = env.to_json().map_err(|e| e.to_string())?;
        let changed = change_one_byte(&body);
        assert_eq!(changed.len(), body.len());
        assert_eq!(body.iter().zip(&changed).filter(|(a, b)| a != b).count(), 1);
        let parsed = menon_webhooks::Envelope::from_json(&changed).map_err(|e| e.to_string())?;
        assert_eq!(parsed.created_at, "2024-01-15T10:30:01Z");
        assert_eq!(change_one_character("v1,AAAA"), "v1,BAAA");
        assert_eq!(change_one_character("evt_abcdef"), "evt_aAcdef");
        Ok(())
    }

    #[test]
    fn non_ascii_body_is_canonical_and_non_ascii() -> Result<(), String> {
        let env = send::envelope("message.received", non_ascii_data(), 1)?;
        let body = env.to_json().map_err(|e| e.to_string())?;
        assert!(body.iter().any(|b| *b >= 0x80));
        let text = String::from_utf8(body).map_err(|e| e.to_string())?;
        assert!(text.contains("\\u0007") && text.contains("🚚") && text.contains('\u{2028}'));
        Ok(())
    }
}
