//! Tests of `standard.rs`: the official libraries' example, RFC 8032, strictness.

use super::*;
use alloc::format;

// The example of the official libraries' test suites (standard-webhooks, MIT):
// secret, message id, timestamp, payload and the signature they expect.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TIMESTAMP: u64 = 1_614_265_330;
const PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn secret() -> StandardSecret {
    StandardSecret::parse(SECRET).unwrap()
}

#[test]
fn signs_as_the_official_libraries_do() {
    assert_eq!(secret().sign(MSG_ID, TIMESTAMP, PAYLOAD), SIGNATURE);
    // The prefix is optional.
    let bare = StandardSecret::parse(&SECRET[6..]).unwrap();
    assert_eq!(bare.sign(MSG_ID, TIMESTAMP, PAYLOAD), SIGNATURE);
}

#[test]
fn verifies_any_valid_v1_entry_within_the_tolerance() {
    let ts = "1614265330";
    let ok = |header: &str, now| secret().verify(MSG_ID, ts, header, PAYLOAD, now);
    assert_eq!(ok(SIGNATURE, TIMESTAMP), Ok(TIMESTAMP));
    let rotated = format!("v1,Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE= v1a,xyz {SIGNATURE}");
    assert_eq!(ok(&rotated, TIMESTAMP + TOLERANCE), Ok(TIMESTAMP));
    assert_eq!(ok(SIGNATURE, TIMESTAMP - TOLERANCE), Ok(TIMESTAMP));
    assert_eq!(
        ok(SIGNATURE, TIMESTAMP + TOLERANCE + 1).unwrap_err().code(),
        "timestamp_too_old"
    );
    assert_eq!(
        ok(SIGNATURE, TIMESTAMP - TOLERANCE - 1).unwrap_err().code(),
        "timestamp_in_future"
    );
    // `0…` timestamps sign as the integer they read as.
    assert_eq!(
        secret().verify(MSG_ID, "01614265330", SIGNATURE, PAYLOAD, TIMESTAMP),
        Ok(TIMESTAMP)
    );
}

#[test]
fn refuses_each_way_a_message_can_be_wrong() {
    let code = |id: &str, ts: &str, sig: &str, body: &[u8]| {
        secret()
            .verify(id, ts, sig, body, TIMESTAMP)
            .unwrap_err()
            .code()
    };
    let ts = "1614265330";
    assert_eq!(
        code(MSG_ID, ts, SIGNATURE, br#"{"test": 2432232315}"#),
        "signature_mismatch"
    );
    assert_eq!(
        code("msg_other", ts, SIGNATURE, PAYLOAD),
        "signature_mismatch"
    );
    assert_eq!(
        code(MSG_ID, "1614265331", SIGNATURE, PAYLOAD),
        "signature_mismatch"
    );
    assert_eq!(
        code(
            MSG_ID,
            ts,
            "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            PAYLOAD
        ),
        "signature_mismatch"
    );
    assert_eq!(
        code(MSG_ID, ts, "v1,not base64", PAYLOAD),
        "signature_mismatch"
    );
    assert_eq!(
        code(
            MSG_ID,
            ts,
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            PAYLOAD
        ),
        "signature_mismatch"
    );
    assert_eq!(code("", ts, SIGNATURE, PAYLOAD), "missing_header");
    assert_eq!(code(MSG_ID, " ", SIGNATURE, PAYLOAD), "missing_header");
    assert_eq!(code(MSG_ID, "-1", SIGNATURE, PAYLOAD), "invalid_timestamp");
    assert_eq!(code(MSG_ID, "1e9", SIGNATURE, PAYLOAD), "invalid_timestamp");
    assert_eq!(
        code(MSG_ID, "99999999999999999999999", SIGNATURE, PAYLOAD),
        "invalid_timestamp"
    );
    assert_eq!(code(MSG_ID, ts, "  ", PAYLOAD), "missing_signature");
    let other = StandardSecret::from_key(b"another key");
    assert_eq!(
        other
            .verify(MSG_ID, ts, SIGNATURE, PAYLOAD, TIMESTAMP)
            .unwrap_err()
            .code(),
        "signature_mismatch"
    );
}

#[test]
fn secrets_are_base64_of_1_to_64_bytes() {
    for bad in [
        "",
        "whsec_",
        "whsec_!!!!",
        "whsec_a",
        &format!("whsec_{}", "A".repeat(100)),
    ] {
        assert_eq!(
            StandardSecret::parse(bad).unwrap_err().code(),
            "invalid_secret",
            "{bad}"
        );
    }
    assert_eq!(format!("{:?}", secret()), "StandardSecret(***)");
}

fn hex<const N: usize>(text: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

// RFC 8032 §7.1, tests 1 to 3: seed, public key, message, signature.
const RFC8032: [(&str, &str, &str, &str); 3] = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
];

#[test]
fn ed25519_keys_and_signatures_are_rfc_8032s() {
    for (seed, public, message, signature) in RFC8032 {
        let key = StandardSigningKey::from_seed(&hex::<32>(seed));
        assert_eq!(key.public_key().key.as_bytes(), &hex::<32>(public));
        let message: alloc::vec::Vec<u8> = (0..message.len() / 2)
            .map(|i| u8::from_str_radix(&message[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        assert_eq!(key.key.sign(&message).to_bytes(), hex::<64>(signature));
        // Verified through the streaming path, the message in pieces.
        let (head, tail) = message.split_at(message.len() / 2);
        assert!(key
            .public_key()
            .verify_parts(&[head, tail], &hex::<64>(signature)));
        let mut wrong = hex::<64>(signature);
        wrong[63] ^= 1;
        assert!(!key.public_key().verify_parts(&[&message], &wrong));
    }
}

#[test]
fn v1a_signs_and_verifies_through_the_headers() {
    let (seed, ..) = RFC8032[0];
    let key = StandardSigningKey::from_seed(&hex::<32>(seed));
    let public = StandardPublicKey::parse(&key.public_key().to_text()).unwrap();
    assert!(public.to_text().starts_with("whpk_"));
    let signature = key.sign(MSG_ID, TIMESTAMP, PAYLOAD);
    assert!(signature.starts_with("v1a,"));
    let ts = "1614265330";
    assert_eq!(
        public.verify(MSG_ID, ts, &signature, PAYLOAD, TIMESTAMP),
        Ok(TIMESTAMP)
    );
    // Beside an HMAC entry, as a sender signing both ways writes it.
    let both = format!("{SIGNATURE} {signature}");
    assert_eq!(
        public.verify(MSG_ID, ts, &both, PAYLOAD, TIMESTAMP),
        Ok(TIMESTAMP)
    );
    assert_eq!(
        secret().verify(MSG_ID, ts, &both, PAYLOAD, TIMESTAMP),
        Ok(TIMESTAMP)
    );
    let code = |id: &str, sig: &str, body: &[u8], now| {
        public.verify(id, ts, sig, body, now).unwrap_err().code()
    };
    assert_eq!(
        code(MSG_ID, &signature, b"{}", TIMESTAMP),
        "signature_mismatch"
    );
    assert_eq!(
        code("msg_x", &signature, PAYLOAD, TIMESTAMP),
        "signature_mismatch"
    );
    assert_eq!(
        code(MSG_ID, SIGNATURE, PAYLOAD, TIMESTAMP),
        "signature_mismatch"
    );
    assert_eq!(
        code(MSG_ID, &signature, PAYLOAD, TIMESTAMP + 301),
        "timestamp_too_old"
    );
    let other = StandardSigningKey::from_seed(&[7; 32]).sign(MSG_ID, TIMESTAMP, PAYLOAD);
    assert_eq!(
        code(MSG_ID, &other, PAYLOAD, TIMESTAMP),
        "signature_mismatch"
    );
    // The signing key round-trips, as a seed and as seed + public key.
    let again = StandardSigningKey::parse(&key.to_text()).unwrap();
    assert_eq!(again.sign(MSG_ID, TIMESTAMP, PAYLOAD), signature);
    let mut pair = hex::<32>(seed).to_vec();
    pair.extend_from_slice(key.public_key().key.as_bytes());
    let pair = format!("whsk_{}", STANDARD.encode(&pair));
    assert!(StandardSigningKey::parse(&pair).is_ok());
    let mismatched = format!("whsk_{}", STANDARD.encode([1u8; 64]));
    assert_eq!(
        StandardSigningKey::parse(&mismatched).unwrap_err().code(),
        "invalid_secret"
    );
}

#[test]
fn verification_is_strict() {
    let (seed, ..) = RFC8032[0];
    let key = StandardSigningKey::from_seed(&hex::<32>(seed));
    let content = b"msg_1.1614265330.{}";
    let good = key.key.sign(content).to_bytes();
    assert!(key.public_key().verify_parts(&[content], &good));
    // S + L: the same value mod L, so a lax verifier accepts it; strict refuses.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut malleable = good;
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(malleable[32 + i]) + u16::from(L[i]) + carry;
        malleable[32 + i] = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    assert!(!key.public_key().verify_parts(&[content], &malleable));
    // R of small order (the identity) never verifies.
    let mut small_r = good;
    small_r[..32].copy_from_slice(&hex::<32>(
        "0100000000000000000000000000000000000000000000000000000000000000",
    ));
    assert!(!key.public_key().verify_parts(&[content], &small_r));
    // Public keys of small order, or off the curve, are refused when read.
    for weak in [
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ] {
        let text = format!("whpk_{}", STANDARD.encode(hex::<32>(weak)));
        assert_eq!(
            StandardPublicKey::parse(&text).unwrap_err().code(),
            "invalid_secret"
        );
    }
    for bad in ["whpk_", "whpk_AAAA", "whpk_!!"] {
        assert_eq!(
            StandardPublicKey::parse(bad).unwrap_err().code(),
            "invalid_secret"
        );
    }
}

#[test]
fn a_key_is_told_apart_by_its_prefix() {
    let (seed, ..) = RFC8032[0];
    let signing = StandardSigningKey::from_seed(&hex::<32>(seed));
    let by_prefix = StandardKey::parse(&signing.to_text()).unwrap();
    let public = StandardKey::parse(&signing.public_key().to_text()).unwrap();
    let secret = StandardKey::parse(SECRET).unwrap();
    assert!(matches!(by_prefix, StandardKey::Signing(_)));
    assert!(matches!(public, StandardKey::Public(_)));
    assert!(matches!(secret, StandardKey::Secret(_)));
    assert_eq!(secret.sign(MSG_ID, TIMESTAMP, PAYLOAD).unwrap(), SIGNATURE);
    assert_eq!(secret.public_key(), None);
    assert_eq!(by_prefix.public_key(), public.public_key());
    let signed = by_prefix.sign(MSG_ID, TIMESTAMP, PAYLOAD).unwrap();
    for key in [&by_prefix, &public] {
        assert_eq!(
            key.verify(MSG_ID, "1614265330", &signed, PAYLOAD, TIMESTAMP),
            Ok(TIMESTAMP)
        );
    }
    assert_eq!(
        public.sign(MSG_ID, TIMESTAMP, PAYLOAD).unwrap_err().code(),
        "invalid_secret"
    );
}
