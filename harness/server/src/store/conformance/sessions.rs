//! Conformance: dashboard sessions and one-time sign-in links.

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
