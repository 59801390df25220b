//! The signature group: the deliveries a conforming receiver accepts (the 21 fixture
//! types, a non-ASCII body, a 256 KiB body) and those it refuses with 4xx (no signature,
//! another secret, a tampered body, malformed headers, a replayed v2 timestamp).

use std::time::Instant;

use menon_webhooks::{headers, EventType};
use serde_json::{json, Map, Value};

use super::{fixture_data, now, Runner};
use crate::cases::{CaseId, Malformed, Skew};
use crate::judge::{self, Verdict};
use crate::send::{self, Outgoing};

impl Runner<'_> {
    /// The deliveries a conforming receiver accepts: the 21 fixtures, non-ASCII, 256 KiB.
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
        let specials = [
            (CaseId::NonAscii, {
                let env = send::envelope("message.received", non_ascii_data(), t)?;
                Outgoing::signed(&env, &self.target.secret, t)?
            }),
            (
                CaseId::LargeBody,
                large_body(&self.target.secret, t, 256 * 1024)?,
            ),
        ];
        for (id, out) in specials {
            if !self.wants(id) {
                continue;
            }
            self.accept_case(id, &out).await;
        }
        Ok(())
    }

    /// The deliveries a conforming receiver refuses with 4xx.
    pub(super) async fn refusals(&mut self) -> Result<(), String> {
        let secret = self.target.secret.clone();
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
        let mut missing = base()?;
        missing.remove(headers::SIGNATURE);
        missing.remove(headers::SIGNATURE_V2);
        cases.push((CaseId::Missing, missing));

        let other = menon_harness_common::ids::webhook_secret(
            menon_harness_common::delivery::SigningScheme::Menon,
        )
        .map_err(|e| e.to_string())?;
        let t = now();
        let env = send::envelope(
            "listing.updated",
            fixture_data(EventType::ListingUpdated),
            t,
        )?;
        cases.push((
            CaseId::WrongSecret,
            Outgoing::signed(&env, other.expose(), t)?,
        ));

        let mut tampered = base()?;
        tampered.body = tamper(&tampered.body);
        cases.push((CaseId::TamperedBody, tampered));

        for how in Malformed::ALL {
            cases.push((CaseId::Malformed(how), malformed(base()?, how, &secret)));
        }

        for (id, out) in cases {
            if !self.wants(id) {
                continue;
            }
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
            let out = Outgoing::signed(&env, &secret, t)?;
            let started = Instant::now();
            let exchange = self.send(&out).await;
            let (verdict, mut reason) = judge::refused(&exchange, Verdict::Warn, route_ok);
            if verdict == Verdict::Warn {
                reason.push_str(&format!(
                    " (X-Menon-Signature-V2's t= was {}: a replayed delivery was accepted)",
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
    let Value::Object(data) = json!({
        "message": {
            "id": "msg_grade_unicode",
            "conversation_id": "conv_123",
            "content": "Grüße aus München! Überführung nach Zürich möglich? 北京 东京 서울 🚚🚛✨ — \u{2028}ok",
            "escapes": "tab\tnewline\nquote\"backslash\\ bell\u{7} nul-ish\u{1} del\u{7f}",
            "sender": {"id": "usr_456", "name": "Łukasz Żółć", "company": "Ünal Lojistik A.Ş."},
            "listing": {"id": "lst_xyz", "title": "2021 Volvo FH 500", "price": 85000, "currency": "EUR", "note": "€ 85.000,00 · ½ VAT"},
            "sent_at": "2024-01-15T14:30:00Z",
        },
    }) else {
        return Map::new();
    };
    data
}

/// `data` padding the envelope to exactly `target` bytes (256 KiB).
fn large_body(secret: &str, now: u64, target: usize) -> Result<Outgoing, String> {
    let mut data = fixture_data(EventType::ListingCreated);
    data.insert("notes".into(), Value::String(String::new()));
    let env = send::envelope("listing.created", data.clone(), now)?;
    let base = env.to_json().map_err(|e| e.to_string())?.len();
    let pad = target.saturating_sub(base);
    let mut env = env;
    let text: String = "Lorem ipsum dolor sit amet, Fahrzeug geprüft. "
        .chars()
        .cycle()
        .take(pad)
        .collect();
    // Multi-byte characters in the cycle make `pad` chars more than `pad` bytes: trim.
    let mut text = text;
    while base + text.len() > target {
        text.pop();
    }
    env.data.insert("notes".into(), Value::String(text));
    Outgoing::signed(&env, secret, now)
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
        let out = large_body("whsec_x", 1_705_314_600, 256 * 1024)?;
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
    fn non_ascii_body_is_canonical_and_non_ascii() -> Result<(), String> {
        let env = send::envelope("message.received", non_ascii_data(), 1)?;
        let body = env.to_json().map_err(|e| e.to_string())?;
        assert!(body.iter().any(|b| *b >= 0x80));
        let text = String::from_utf8(body).map_err(|e| e.to_string())?;
        assert!(text.contains("\\u0007") && text.contains("🚚") && text.contains('\u{2028}'));
        Ok(())
    }
}
