//! Conformance: dashboard sessions, one-time sign-in links and revoked seller tokens.

use super::seller;
use crate::store::{DashboardSession, Store, StoreError};

/// A session is found by its hash until it expires or is deleted.
pub fn sessions_are_found_until_they_expire_or_end(store: &dyn Store) -> Result<(), StoreError> {
    let session = DashboardSession {
        id_hash: [7; 32],
        seller_id: seller("sel_a"),
        csrf_token: "csrf".into(),
        created_at: 100,
        expires_at: 200,
        token_jti: None,
    };
    store.create_session(&session)?;
    store.create_session(&DashboardSession {
        id_hash: [8; 32],
        ..session.clone()
    })?;
    assert_eq!(store.find_session(&[7; 32], 100)?, Some(session.clone()));
    assert_eq!(store.find_session(&[7; 32], 199)?, Some(session.clone()));
    assert_eq!(store.find_session(&[7; 32], 200)?, None);
    assert_eq!(store.find_session(&[9; 32], 150)?, None);
    store.delete_session(&[7; 32])?;
    store.delete_session(&[7; 32])?; // ending an unknown session is not an error
    assert_eq!(store.find_session(&[7; 32], 150)?, None);
    assert!(store.find_session(&[8; 32], 150)?.is_some());
    Ok(())
}

/// A sign-in link works once; creating a session later forgets used links that expired,
/// and expired sessions.
pub fn sign_in_links_work_once_until_swept(store: &dyn Store) -> Result<(), StoreError> {
    assert!(store.use_sign_in_link("jti_1", 300)?);
    assert!(!store.use_sign_in_link("jti_1", 300)?);
    assert!(store.use_sign_in_link("jti_2", 900)?);
    let session = DashboardSession {
        id_hash: [7; 32],
        seller_id: seller("sel_a"),
        csrf_token: "csrf".into(),
        created_at: 100,
        expires_at: 200,
        token_jti: None,
    };
    store.create_session(&session)?;
    store.create_session(&DashboardSession {
        id_hash: [8; 32],
        created_at: 400,
        expires_at: 500,
        ..session
    })?;
    assert!(store.use_sign_in_link("jti_1", 600)?, "swept at 400");
    assert!(!store.use_sign_in_link("jti_2", 900)?, "still unexpired");
    // The expired session was swept too: it stays gone even asked about in the past.
    assert_eq!(store.find_session(&[7; 32], 150)?, None);
    Ok(())
}

/// A revoked token is on the deny-list, and the sessions it started are no longer found
/// (others are: another token's, a link's); a revocation is forgotten once its token has
/// expired; revoking twice keeps the later expiry.
pub fn revoked_tokens_end_their_sessions_until_they_expire(
    store: &dyn Store,
) -> Result<(), StoreError> {
    let session = |id: u8, jti: Option<&str>| DashboardSession {
        id_hash: [id; 32],
        seller_id: seller("sel_a"),
        csrf_token: "csrf".into(),
        created_at: 100,
        expires_at: 1_000,
        token_jti: jti.map(String::from),
    };
    store.create_session(&session(1, Some("tok_1")))?;
    store.create_session(&session(2, Some("tok_2")))?;
    store.create_session(&session(3, None))?;
    assert_eq!(
        store.find_session(&[1; 32], 150)?,
        Some(session(1, Some("tok_1")))
    );
    assert!(!store.is_token_revoked("tok_1")?);

    assert!(store.revoke_token("tok_1", 1_000, 150)?);
    assert!(store.is_token_revoked("tok_1")?);
    assert!(!store.is_token_revoked("tok_2")?);
    assert_eq!(store.find_session(&[1; 32], 150)?, None);
    assert_eq!(
        store.find_session(&[2; 32], 150)?,
        Some(session(2, Some("tok_2")))
    );
    assert_eq!(store.find_session(&[3; 32], 150)?, Some(session(3, None)));
    // A session started later with the revoked token is not found either.
    store.create_session(&session(4, Some("tok_1")))?;
    assert_eq!(store.find_session(&[4; 32], 150)?, None);

    // Revoking again: `false`, and the later expiry is kept.
    assert!(!store.revoke_token("tok_1", 2_000, 160)?);
    assert!(!store.revoke_token("tok_1", 500, 170)?);
    assert!(store.revoke_token("tok_2", 400, 170)?);
    // A later revocation forgets those whose token expired by then, and only those.
    assert!(store.revoke_token("tok_3", 3_000, 1_500)?);
    assert!(store.is_token_revoked("tok_1")?, "kept until 2000");
    assert!(!store.is_token_revoked("tok_2")?, "expired at 400");
    assert!(store.revoke_token("tok_4", 3_000, 2_000)?);
    assert!(!store.is_token_revoked("tok_1")?, "expired at 2000");
    assert!(store.is_token_revoked("tok_3")?);
    Ok(())
}
