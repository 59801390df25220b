//! The DNS resolver of the delivery client: it resolves a host name and hands the HTTP
//! client only addresses that pass the private-target guard. The guard's check and the
//! connection therefore use the same answer: a name cannot pass the check with a public
//! address and then be dialled at a private one (DNS rebinding).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::target::{AllowedTargets, TargetError};

/// An answer to a lookup: the addresses a host name resolves to.
pub type Lookup = Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>;

/// Looks a host name up. Production uses [`SystemLookup`]; tests inject answers that
/// change over time (DNS rebinding) without touching the system resolver.
pub trait LookupHost: Send + Sync + 'static {
    /// The addresses `host` resolves to (port 0: the HTTP client puts the URL's port on
    /// each address).
    fn lookup(&self, host: String) -> Lookup;
}

/// The system resolver (`getaddrinfo`, through tokio).
#[derive(Debug, Clone, Copy)]
pub struct SystemLookup;

impl LookupHost for SystemLookup {
    fn lookup(&self, host: String) -> Lookup {
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.collect()) })
    }
}

/// Resolves with the system resolver, refusing answers outside the public and allowed
/// ranges.
#[derive(Clone)]
pub struct GuardedResolver {
    /// `--allow-target`.
    pub allowed: AllowedTargets,
    lookup: Arc<dyn LookupHost>,
}

impl std::fmt::Debug for GuardedResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedResolver")
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

impl GuardedResolver {
    /// The resolver of `serve`: the system's answers, guarded.
    pub fn system(allowed: AllowedTargets) -> Self {
        Self {
            allowed,
            lookup: Arc::new(SystemLookup),
        }
    }

    /// A resolver guarding `lookup`'s answers (tests inject answers with it).
    #[cfg(test)]
    pub fn with_lookup(allowed: AllowedTargets, lookup: Arc<dyn LookupHost>) -> Self {
        Self { allowed, lookup }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allowed = self.allowed.clone();
        let lookup = Arc::clone(&self.lookup);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            // One lookup: the answer checked here is the answer returned, and so the
            // addresses the HTTP client dials.
            let addrs: Vec<SocketAddr> = lookup
                .lookup(host.clone())
                .await
                .map_err(|_| Box::new(TargetError::Unresolvable(host.clone())))?;
            if addrs.is_empty() {
                return Err(Box::new(TargetError::Unresolvable(host)).into());
            }
            // Which address was refused is not said: the seller reads the logs.
            if !addrs.iter().all(|a| allowed.permits(a.ip())) {
                return Err(Box::new(TargetError::NotAllowed).into());
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Scripted DNS answers for tests: each lookup takes the next answer (the last one is
/// repeated), and lookups are counted.
#[cfg(test)]
pub mod script {
    use std::collections::VecDeque;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use super::{Lookup, LookupHost};

    /// Answers in order, one per lookup.
    #[derive(Debug, Default)]
    pub struct Scripted {
        answers: Mutex<VecDeque<Vec<SocketAddr>>>,
        calls: AtomicUsize,
    }

    impl Scripted {
        /// Answers `answers` to the successive lookups, then the last one again.
        pub fn new(answers: &[&[&str]]) -> Self {
            let answers = answers
                .iter()
                .map(|addrs| {
                    addrs
                        .iter()
                        .map(|a| a.parse().unwrap_or_else(|e| panic!("{a}: {e}")))
                        .collect()
                })
                .collect();
            Self {
                answers: Mutex::new(answers),
                calls: AtomicUsize::new(0),
            }
        }

        /// How many lookups were made.
        pub fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl LookupHost for Scripted {
        fn lookup(&self, _host: String) -> Lookup {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let answer = {
                let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
                if answers.len() > 1 {
                    answers.pop_front().unwrap_or_default()
                } else {
                    answers.front().cloned().unwrap_or_default()
                }
            };
            Box::pin(async move { Ok(answer) })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn debug_shows_the_allowance_and_not_the_lookup() {
        assert_eq!(
            format!("{:?}", GuardedResolver::system(AllowedTargets::loopback())),
            "GuardedResolver { allowed: AllowedTargets([127.0.0.0/8, ::1/128]), .. }"
        );
    }

    #[tokio::test]
    async fn answers_outside_the_allowance_are_refused() -> Result<(), Box<dyn std::error::Error>> {
        let refusing = GuardedResolver::system(AllowedTargets::none());
        let refused = refusing.resolve(Name::from_str("localhost")?).await;
        assert!(refused.is_err());
        let allowing = GuardedResolver::system(AllowedTargets::loopback());
        let addrs: Vec<SocketAddr> = allowing
            .resolve(Name::from_str("localhost")?)
            .await
            .map_err(|e| e.to_string())?
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
        Ok(())
    }

    /// DNS rebinding at the resolver: a name that answered a public address once (when
    /// the webhook was saved) and a private one now is refused now; and the addresses
    /// handed to the HTTP client are the very ones checked, from one lookup, never a
    /// second lookup's answer.
    #[tokio::test]
    async fn the_answer_checked_is_the_answer_dialled() -> Result<(), Box<dyn std::error::Error>> {
        let answers = Arc::new(script::Scripted::new(&[
            &["93.184.215.14:0"],
            &["127.0.0.1:0"],
        ]));
        let resolver = GuardedResolver::with_lookup(
            AllowedTargets::none(),
            Arc::clone(&answers) as Arc<dyn LookupHost>,
        );
        let name = || Name::from_str("rebind.example");
        let first: Vec<SocketAddr> = resolver
            .resolve(name()?)
            .await
            .map_err(|e| e.to_string())?
            .collect();
        assert_eq!(first, ["93.184.215.14:0".parse::<SocketAddr>()?]);
        assert_eq!(answers.calls(), 1, "one lookup per resolution");
        let Err(refused) = resolver.resolve(name()?).await else {
            panic!("the rebound answer was accepted");
        };
        assert_eq!(answers.calls(), 2);
        assert_eq!(refused.to_string(), TargetError::NotAllowed.to_string());
        assert!(
            !refused.to_string().contains("127.0.0.1"),
            "a refusal does not say which address a name resolved to: {refused}"
        );
        Ok(())
    }
}
