//! The DNS resolver of the delivery client: it resolves a host name and hands the HTTP
//! client only addresses that pass the private-target guard. The guard's check and the
//! connection therefore use the same answer: a name cannot pass the check with a public
//! address and then be dialled at a private one (DNS rebinding).

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::target::{self, TargetError};

/// Resolves with the system resolver, refusing non-public answers unless allowed.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    /// `--allow-private-targets`.
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            // Port 0: the HTTP client puts the URL's port on each address.
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| Box::new(TargetError::Unresolvable(host.clone())))?
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(TargetError::Unresolvable(host)).into());
            }
            if !allow_private {
                if let Some(bad) = addrs.iter().find(|a| !target::is_public(a.ip())) {
                    return Err(Box::new(TargetError::NotPublic(bad.ip())).into());
                }
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[tokio::test]
    async fn private_answers_are_refused_unless_allowed() -> Result<(), Box<dyn std::error::Error>>
    {
        let refusing = GuardedResolver {
            allow_private: false,
        };
        let refused = refusing.resolve(Name::from_str("localhost")?).await;
        assert!(refused.is_err());
        let allowing = GuardedResolver {
            allow_private: true,
        };
        let addrs: Vec<SocketAddr> = allowing
            .resolve(Name::from_str("localhost")?)
            .await
            .map_err(|e| e.to_string())?
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
        Ok(())
    }
}
