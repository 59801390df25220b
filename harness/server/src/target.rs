//! The private-target guard of PROTOCOL §5: an endpoint URL whose host is, or resolves
//! to, a loopback, private, link-local or otherwise non-public address is refused, unless
//! the server was started with `--allow-private-targets`.
//!
//! [`check`] returns the addresses it approved; the dispatcher (next slice) dials exactly
//! those, so a DNS answer that changes between the check and the connection cannot
//! redirect a delivery into the private network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// Why a URL's target is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// The URL has no host.
    NoHost,
    /// The host name did not resolve.
    Unresolvable(String),
    /// The host is or resolves to a non-public address.
    NotPublic(IpAddr),
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetError::NoHost => f.write_str("the URL has no host"),
            TargetError::Unresolvable(host) => write!(
                f,
                "the host {host:?} does not resolve: check the spelling and its DNS records"
            ),
            TargetError::NotPublic(ip) => write!(
                f,
                "the URL points at {ip}, a loopback, private or otherwise non-public address: \
                 webhooks must target a public address (a server started with \
                 --allow-private-targets accepts it)"
            ),
        }
    }
}

impl std::error::Error for TargetError {}

/// Checks `url`'s target and returns the addresses to dial. With `allow_private`, nothing
/// is checked or resolved and the list is empty (the caller resolves as usual).
pub async fn check(url: &Url, allow_private: bool) -> Result<Vec<SocketAddr>, TargetError> {
    if allow_private {
        return Ok(Vec::new());
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match url.host() {
        None => return Err(TargetError::NoHost),
        Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(Host::Domain(name)) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|_| TargetError::Unresolvable(name.to_owned()))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(TargetError::Unresolvable(
            url.host_str().unwrap_or_default().to_owned(),
        ));
    }
    // Every address must be public: a name with one private answer could be steered there.
    if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
        return Err(TargetError::NotPublic(bad.ip()));
    }
    Ok(addrs)
}

/// Whether `ip` is a globally routable unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                   // "this network", 0.0.0.0 included
        || ip.is_loopback()                    // 127/8
        || ip.is_private()                     // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local()                  // 169.254/16 (cloud metadata)
        || (a == 100 && (64..128).contains(&b)) // 100.64/10 carrier-grade NAT
        || (a == 192 && b == 0 && c == 0)      // 192.0.0/24 IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)      // documentation
        || (a == 198 && b == 51 && c == 100)   // documentation
        || (a == 203 && b == 0 && c == 113)    // documentation
        || (a == 198 && (b == 18 || b == 19))  // 198.18/15 benchmarking
        || ip.is_multicast()                   // 224/4
        || a >= 240) // 240/4 reserved, 255.255.255.255 broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() {
        return false;
    }
    // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) forms: refused outright,
    // they are how a private v4 target hides in v6 notation.
    if seg[..5] == [0; 5] && (seg[5] == 0xffff || seg[5] == 0) {
        return false;
    }
    match seg[0] {
        0xfc00..=0xfdff => false,            // fc00::/7 unique local
        0xfe80..=0xfebf => false,            // fe80::/10 link-local
        0xfec0..=0xfeff => false,            // fec0::/10 site-local (deprecated)
        0x2001 if seg[1] == 0x0db8 => false, // documentation
        0x2001 if seg[1] == 0 => false,      // Teredo
        0x2002 => {
            // 6to4 carries a v4 address in bits 16..48
            let [a, b] = seg[1].to_be_bytes();
            let [c, d] = seg[2].to_be_bytes();
            is_public_v4(Ipv4Addr::new(a, b, c, d))
        }
        0x0064 if seg[1] == 0xff9b => {
            // 64:ff9b::/96 NAT64 carries a v4 address in the last 32 bits
            let [a, b] = seg[6].to_be_bytes();
            let [c, d] = seg[7].to_be_bytes();
            is_public_v4(Ipv4Addr::new(a, b, c, d))
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_addresses() {
        let private = [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "2002:7f00:1::",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ];
        for text in private {
            let ip: IpAddr = text.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert!(!is_public(ip), "{text} should be refused");
        }
        let public = [
            "8.8.8.8",
            "1.1.1.1",
            "100.128.0.1",
            "2606:4700::1111",
            "2002:808:808::",
        ];
        for text in public {
            let ip: IpAddr = text.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert!(is_public(ip), "{text} should be allowed");
        }
    }

    /// Each v4 range of its own rule is refused, and the addresses one octet outside it
    /// are allowed: a rule that matched on fewer octets, or on the wrong ones, refuses a
    /// neighbour; one that stopped matching lets its range through.
    #[test]
    fn each_range_and_its_neighbours() {
        let refused = [
            "192.0.0.1",
            "198.51.100.1",
            "203.0.113.1",
            "198.18.0.1",
            "198.19.255.255",
            "240.0.0.1",
            "fec0::1",
            "feff::1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        ];
        for text in refused {
            let ip: IpAddr = text.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            assert!(!is_public(ip), "{text} should be refused");
        }
        let allowed = [
            // 100.64/10
            "100.63.255.255",
            "99.64.0.1",
            // 192.0.0/24, 192.0.2/24, 198.51.100/24, 203.0.113/24: each octet off by one
            "193.0.0.1",
            "192.1.0.1",
            "192.0.1.1",
            "193.0.2.1",
            "192.1.2.1",
            "192.0.3.1",
            "199.51.100.1",
            "198.52.100.1",
            "198.51.101.1",
            "204.0.113.1",
            "203.1.113.1",
            "203.0.114.1",
            // 198.18/15
            "198.17.0.1",
            "198.20.0.1",
            "199.18.0.1",
            // 2001::/32 is Teredo and 2001:db8::/32 documentation, not the rest of 2001::/16
            "2001:4860:4860::8888",
            // only 64:ff9b::/96 carries a v4 address
            "64:ff9b::808:808",
            "64:ff9a::a00:1",
            "2002:808:808::",
        ];
        for text in allowed {
            let ip: IpAddr = text.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            assert!(is_public(ip), "{text} should be allowed");
        }
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(TargetError::NoHost.to_string(), "the URL has no host");
        assert_eq!(
            TargetError::Unresolvable("nx.example".into()).to_string(),
            "the host \"nx.example\" does not resolve: check the spelling and its DNS records"
        );
        assert!(TargetError::NotPublic(IpAddr::V4(Ipv4Addr::LOCALHOST))
            .to_string()
            .starts_with("the URL points at 127.0.0.1, a loopback, private or otherwise"));
    }

    #[tokio::test]
    async fn check_refuses_literals_and_localhost() -> Result<(), url::ParseError> {
        for url in [
            "https://127.0.0.1/x",
            "https://[::1]:8443/",
            "https://localhost/hook",
        ] {
            let url = Url::parse(url)?;
            assert!(
                matches!(check(&url, false).await, Err(TargetError::NotPublic(_))),
                "{url}"
            );
            assert_eq!(check(&url, true).await, Ok(Vec::new()));
        }
        let url = Url::parse("https://93.184.215.14/hook")?;
        assert_eq!(check(&url, false).await.map(|a| a.len()), Ok(1));
        Ok(())
    }
}
