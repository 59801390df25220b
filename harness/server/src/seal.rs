//! Webhook secrets at rest (PROTOCOL §1): sealed with XChaCha20-Poly1305 (RustCrypto's
//! `chacha20poly1305`) under the server's secret key before the store sees them, and
//! opened only where a delivery is signed. The webhook's id is the associated data, so a
//! sealed secret copied onto another webhook's row does not open. A database file alone
//! (stolen, or a backup) holds no secret that signs.
//!
//! The key is `MENON_SECRET_KEY` (64 hex digits or 43 characters of URL-safe base64),
//! else the file `secret.key` in the data folder, created with mode 0600 on first start.
//! Instances sharing one database share the key. `menon-harness secret-key rotate` seals
//! every secret again under a new key (with every `serve` on the database stopped: a
//! running one keeps the old key until it restarts).

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::store::{Store, StoreError};
use menon_harness_common::ids::{self, Secret};

/// What a sealed secret starts with (the version of this format).
const SEALED: &str = "sealed1:";
/// Bytes of a nonce.
const NONCE: usize = 24;

/// Why a key or a sealed secret could not be used.
#[derive(Debug)]
pub enum SealError {
    /// The key's text is neither 64 hex digits nor 43 characters of URL-safe base64.
    BadKey(String),
    /// Reading or writing the key file failed.
    Io(String),
    /// No randomness for a key or a nonce.
    Rng(String),
    /// A sealed secret did not open: another key sealed it, or it was changed.
    Unopenable,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::BadKey(from) => write!(
                f,
                "the secret key from {from} is not 32 bytes as 64 hex digits or 43 characters \
                 of URL-safe base64"
            ),
            SealError::Io(e) => write!(f, "secret key file: {e}"),
            SealError::Rng(e) => write!(f, "no randomness for sealing: {e}"),
            SealError::Unopenable => f.write_str(
                "a webhook secret in the database does not open with this server's secret key \
                 (MENON_SECRET_KEY or secret.key in the data folder): it was sealed under \
                 another key",
            ),
        }
    }
}

impl std::error::Error for SealError {}

/// The server's secret key: 32 bytes. Never printed by `Debug`.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl SecretKey {
    /// A new random key.
    pub fn generate() -> Result<Self, SealError> {
        ids::random_bytes::<32>()
            .map(Self)
            .map_err(|e| SealError::Rng(e.to_string()))
    }

    /// Reads a key written as 64 hex digits or 43 characters of URL-safe base64;
    /// `from` names where it came from, for the error.
    pub fn from_text(text: &str, from: &str) -> Result<Self, SealError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .ok()
        } else {
            URL_SAFE_NO_PAD.decode(text).ok()
        };
        bytes
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(Self)
            .ok_or_else(|| SealError::BadKey(from.into()))
    }

    /// The key as text (URL-safe base64), as the key file holds it.
    pub fn to_text(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// `MENON_SECRET_KEY` when given (`env`), else the key file at `path`, created with
    /// a new key (mode 0600) when it does not exist.
    pub fn resolve(env: Option<&str>, path: &Path) -> Result<Self, SealError> {
        match env {
            Some(text) => Self::from_text(text, "MENON_SECRET_KEY"),
            None => Self::load_or_create(path),
        }
    }

    /// Reads the key file at `path`, or creates it (mode 0600) with a new key.
    pub fn load_or_create(path: &Path) -> Result<Self, SealError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_text(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                key.write_new(path)?;
                Ok(key)
            }
            Err(e) => Err(SealError::Io(format!("{}: {e}", path.display()))),
        }
    }

    /// Writes the key to a new file at `path`, mode 0600, synced.
    pub fn write_new(&self, path: &Path) -> Result<(), SealError> {
        let io = |e: std::io::Error| SealError::Io(format!("{}: {e}", path.display()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io)?;
        writeln!(file, "{}", self.to_text()).map_err(io)?;
        file.sync_all().map_err(io)
    }
}

/// Seals and opens webhook secrets under one key.
pub struct Sealer {
    cipher: Option<XChaCha20Poly1305>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer")
    }
}

impl Sealer {
    /// A sealer under `key`.
    pub fn new(key: &SecretKey) -> Self {
        Self {
            cipher: Some(XChaCha20Poly1305::new((&key.0).into())),
        }
    }

    /// A sealer with no key: it opens only secrets stored unsealed (as `bench` stores
    /// them), and seals nothing.
    pub fn unkeyed() -> Self {
        Self { cipher: None }
    }

    /// `secret` of webhook `webhook_id`, sealed: `sealed1:` and the URL-safe base64 of a
    /// random nonce and the ciphertext.
    pub fn seal(&self, webhook_id: &str, secret: &Secret) -> Result<Secret, SealError> {
        let cipher = self.cipher.as_ref().ok_or(SealError::Unopenable)?;
        let nonce = ids::random_bytes::<NONCE>().map_err(|e| SealError::Rng(e.to_string()))?;
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret.expose().as_bytes(),
                    aad: webhook_id.as_bytes(),
                },
            )
            .map_err(|_| SealError::Unopenable)?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(Secret::new(format!(
            "{SEALED}{}",
            URL_SAFE_NO_PAD.encode(bytes)
        )))
    }

    /// The secret `stored` holds for webhook `webhook_id`: opened when sealed; as it is
    /// when it was stored unsealed (a database from before sealing, until `serve` seals
    /// it at start, or `bench`'s).
    pub fn open(&self, webhook_id: &str, stored: &Secret) -> Result<Secret, SealError> {
        let Some(encoded) = stored.expose().strip_prefix(SEALED) else {
            return Ok(stored.clone());
        };
        let cipher = self.cipher.as_ref().ok_or(SealError::Unopenable)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| SealError::Unopenable)?;
        if bytes.len() < NONCE {
            return Err(SealError::Unopenable);
        }
        let (nonce, sealed) = bytes.split_at(NONCE);
        let opened = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: webhook_id.as_bytes(),
                },
            )
            .map_err(|_| SealError::Unopenable)?;
        String::from_utf8(opened)
            .map(Secret::new)
            .map_err(|_| SealError::Unopenable)
    }

    /// Whether `stored` is sealed.
    pub fn is_sealed(stored: &Secret) -> bool {
        stored.expose().starts_with(SEALED)
    }
}

/// Seals every secret of `store` again: opened with `old`, sealed with `new`, in one
/// transaction (a secret that does not open with `old` stops it, changing nothing).
/// Returns how many secrets were sealed again.
pub fn reseal_all(store: &dyn Store, old: &Sealer, new: &Sealer) -> Result<u64, StoreError> {
    store.reseal_secrets(&|webhook_id, stored| {
        let secret = old
            .open(webhook_id, stored)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        new.seal(webhook_id, &secret)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    })
}

/// `menon-harness secret-key rotate` on a key file: writes a new key beside it
/// (`<file>.next`, mode 0600), seals every secret again under it, then moves it into
/// place. Stopped half-way, the old key still opens every secret (the transaction did not
/// commit) or the `.next` file does (it did): the error says which to keep. Returns how
/// many secrets were sealed again.
pub fn rotate_key_file(store: &dyn Store, path: &Path) -> Result<u64, Box<dyn std::error::Error>> {
    let old = SecretKey::load_or_create(path)?;
    let next_path = path.with_extension("key.next");
    let new = SecretKey::generate()?;
    new.write_new(&next_path).map_err(|e| {
        format!(
            "{e} (a rotation that did not finish leaves {}: if the server starts with the \
             current key, delete it; else move it over {})",
            next_path.display(),
            path.display()
        )
    })?;
    let resealed = reseal_all(store, &Sealer::new(&old), &Sealer::new(&new))?;
    std::fs::rename(&next_path, path)
        .map_err(|e| format!("move {} over {}: {e}", next_path.display(), path.display()))?;
    Ok(resealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into())
    }

    #[test]
    fn a_sealed_secret_opens_with_its_key_and_webhook_only() {
        let (key, other) = (
            SecretKey::generate().unwrap(),
            SecretKey::generate().unwrap(),
        );
        let sealer = Sealer::new(&key);
        let sealed = sealer.seal("wh_a", &secret()).unwrap();
        assert!(Sealer::is_sealed(&sealed));
        assert!(!sealed.expose().contains("MfKQ9r8"));
        assert_eq!(
            sealer.open("wh_a", &sealed).unwrap().expose(),
            secret().expose()
        );
        // Every sealing draws a new nonce.
        assert_ne!(
            sealer.seal("wh_a", &secret()).unwrap().expose(),
            sealed.expose()
        );
        assert!(matches!(
            Sealer::new(&other).open("wh_a", &sealed),
            Err(SealError::Unopenable)
        ));
        assert!(matches!(
            sealer.open("wh_b", &sealed),
            Err(SealError::Unopenable)
        ));
        assert!(matches!(
            Sealer::unkeyed().open("wh_a", &sealed),
            Err(SealError::Unopenable)
        ));
        let mut tampered = sealed.expose().to_owned();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(matches!(
            sealer.open("wh_a", &Secret::new(tampered)),
            Err(SealError::Unopenable)
        ));
        assert!(sealer
            .open("wh_a", &Secret::new("sealed1:abc".into()))
            .is_err());
    }

    #[test]
    fn an_unsealed_secret_opens_as_it_is() {
        let sealer = Sealer::new(&SecretKey::generate().unwrap());
        assert_eq!(
            sealer.open("wh_a", &secret()).unwrap().expose(),
            secret().expose()
        );
        assert_eq!(
            Sealer::unkeyed().open("wh_a", &secret()).unwrap().expose(),
            secret().expose()
        );
    }

    #[test]
    fn keys_are_read_as_hex_or_base64_and_nothing_else() {
        let key = SecretKey::generate().unwrap();
        let again = SecretKey::from_text(&key.to_text(), "test").unwrap();
        assert_eq!(again.0, key.0);
        let hex: String = key.0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(SecretKey::from_text(&hex, "test").unwrap().0, key.0);
        for bad in ["", "short", &hex[..62], &format!("{hex}00"), "!!"] {
            assert!(matches!(
                SecretKey::from_text(bad, "MENON_SECRET_KEY"),
                Err(SealError::BadKey(_))
            ));
        }
        assert_eq!(format!("{key:?}"), "SecretKey(***)");
    }

    #[test]
    fn a_key_file_is_created_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let key = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(SecretKey::load_or_create(&path).unwrap().0, key.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            SecretKey::resolve(Some(&key.to_text()), &dir.path().join("none"))
                .unwrap()
                .0,
            key.0
        );
        assert!(
            !dir.path().join("none").exists(),
            "the env key writes no file"
        );
    }
}
