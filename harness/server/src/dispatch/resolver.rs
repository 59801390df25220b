//! The DNS resolver of the delivery client: it resolves a host name and hands the HTTP
//! client only addresses that pass the private-target guard. The guard's check and the
//! connection therefore use the same answer: a name cannot pass the check with a public
//! address and then be dialled at a private one (DNS rebinding).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::target::{self, TargetError};

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

/// A host name that resolves to a non-public address. The refusal names the host, never
/// the address it resolved to (PROTOCOL §5): the delivery logs are the seller's to read,
/// and must not map the server's private network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameNotPublic(pub String);

impl std::fmt::Display for NameNotPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the host {:?} resolves to a loopback, private or otherwise non-public address: \
             webhooks must target a public address (a server started with \
             --allow-private-targets accepts it)",
            self.0
        )
    }
}

impl std::error::Error for NameNotPublic {}

/// Resolves with the system resolver, refusing non-public answers unless allowed.
#[derive(Clone)]
pub struct GuardedResolver {
    /// `--allow-private-targets`.
    pub allow_private: bool,
    lookup: Arc<dyn LookupHost>,
}

impl std::fmt::Debug for GuardedResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedResolver")
            .field("allow_private", &self.allow_private)
            .finish_non_exhaustive()
    }
}

impl GuardedResolver {
    /// The resolver of `serve`: the system's answers, guarded.
    pub fn system(allow_private: bool) -> Self {
        Self {
            allow_private,
            lookup: Arc::new(SystemLookup),
        }
    }

    /// A resolver guarding `lookup`'s answers (tests inject answers with it).
    #[cfg(test)]
    pub fn with_lookup(allow_private: bool, lookup: Arc<dyn LookupHost>) -> Self {
        Self {
            allow_private,
            lookup,
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
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
            if !allow_private && addrs.iter().any(|a| !target::is_public(a.ip())) {
                return Err(Box::new(NameNotPublic(host)).into());
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
            format!("{:?}", GuardedResolver::system(true)),
            "GuardedResolver { allow_private: true, .. }"
        );
    }

    #[tokio::test]
    async fn private_answers_are_refused_unless_allowed() -> Result<(), Box<dyn std::error::Error>>
    {
        let refusing = GuardedResolver::system(false);
        let refused = refusing.resolve(Name::from_str("localhost")?).await;
        assert!(refused.is_err());
        let allowing = GuardedResolver::system(true);
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
        let resolver =
            GuardedResolver::with_lookup(false, Arc::clone(&answers) as Arc<dyn LookupHost>);
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
        assert!(
            refused.to_string().contains("non-public address"),
            "{refused}"
        );
        assert!(
            !refused.to_string().contains("127.0.0.1"),
            "a refusal does not say which address a name resolved to: {refused}"
        );
        Ok(())
    }
}
