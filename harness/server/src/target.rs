//! The private-target guard of PROTOCOL §5: an endpoint URL whose host is, or resolves
//! to, an address that is not globally reachable is refused, unless the server was
//! started with `--allow-target` naming a range that holds it.
//!
//! Which addresses are public is one table, [`BLOCKS`], taken row by row from IANA's
//! special-purpose address registries for IPv4 and IPv6 (plus the multicast blocks and the
//! deprecated site-local prefix, which live in other registries). The most specific row
//! holding an address decides.
//!
//! A refusal never says which address a name resolved to: the seller reads it, and it
//! must not map the server's private network (a DNS oracle).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::{Arc, LazyLock};

use ipnet::IpNet;
use url::{Host, Url};

/// What a block's addresses are to the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not globally reachable: refused.
    Refused,
    /// Globally reachable: allowed.
    Reachable,
    /// Carries an IPv4 address (NAT64 in the last 32 bits, 6to4 in bits 16..48): allowed
    /// exactly when that IPv4 address is.
    EmbedsV4,
}

/// One row of the table: a block, its registry name and the RFC that assigned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// The block, in CIDR notation.
    pub cidr: &'static str,
    /// Its name in the registry.
    pub name: &'static str,
    /// The RFC that assigned it.
    pub rfc: &'static str,
    /// What its addresses are to the guard.
    pub verdict: Verdict,
}

const fn row(cidr: &'static str, name: &'static str, rfc: &'static str, verdict: Verdict) -> Block {
    Block {
        cidr,
        name,
        rfc,
        verdict,
    }
}

use Verdict::{EmbedsV4, Reachable, Refused};

/// IANA's IPv4 and IPv6 Special-Purpose Address Registries ("Globally Reachable" column;
/// "N/A" rows are refused), the multicast blocks, fec0::/10, and the defaults: the rest of
/// IPv4 is reachable, the rest of IPv6 outside the global unicast block 2000::/3 is not
/// (it is unassigned).
#[rustfmt::skip]
pub const BLOCKS: &[Block] = &[
    row("0.0.0.0/0", "IPv4 unicast", "RFC 791", Reachable),
    row("0.0.0.0/8", "This network", "RFC 791", Refused),
    row("0.0.0.0/32", "This host on this network", "RFC 1122", Refused),
    row("10.0.0.0/8", "Private-Use", "RFC 1918", Refused),
    row("100.64.0.0/10", "Shared Address Space", "RFC 6598", Refused),
    row("127.0.0.0/8", "Loopback", "RFC 1122", Refused),
    row("169.254.0.0/16", "Link Local", "RFC 3927", Refused),
    row("172.16.0.0/12", "Private-Use", "RFC 1918", Refused),
    row("192.0.0.0/24", "IETF Protocol Assignments", "RFC 6890", Refused),
    row("192.0.0.0/29", "IPv4 Service Continuity Prefix", "RFC 7335", Refused),
    row("192.0.0.8/32", "IPv4 dummy address", "RFC 7600", Refused),
    row("192.0.0.9/32", "Port Control Protocol Anycast", "RFC 7723", Reachable),
    row("192.0.0.10/32", "TURN Anycast", "RFC 8155", Reachable),
    row("192.0.0.170/32", "NAT64/DNS64 Discovery", "RFC 8880", Refused),
    row("192.0.0.171/32", "NAT64/DNS64 Discovery", "RFC 8880", Refused),
    row("192.0.2.0/24", "Documentation (TEST-NET-1)", "RFC 5737", Refused),
    row("192.31.196.0/24", "AS112-v4", "RFC 7535", Reachable),
    row("192.52.193.0/24", "AMT", "RFC 7450", Reachable),
    row("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "RFC 7526", Refused),
    row("192.88.99.2/32", "6a44-relay anycast address", "RFC 6751", Refused),
    row("192.168.0.0/16", "Private-Use", "RFC 1918", Refused),
    row("192.175.48.0/24", "Direct Delegation AS112 Service", "RFC 7534", Reachable),
    row("198.18.0.0/15", "Benchmarking", "RFC 2544", Refused),
    row("198.51.100.0/24", "Documentation (TEST-NET-2)", "RFC 5737", Refused),
    row("203.0.113.0/24", "Documentation (TEST-NET-3)", "RFC 5737", Refused),
    row("224.0.0.0/4", "Multicast", "RFC 5771", Refused),
    row("240.0.0.0/4", "Reserved", "RFC 1112", Refused),
    row("255.255.255.255/32", "Limited Broadcast", "RFC 919", Refused),
    row("::/0", "IPv6 outside global unicast", "RFC 4291", Refused),
    row("::/128", "Unspecified Address", "RFC 4291", Refused),
    row("::1/128", "Loopback Address", "RFC 4291", Refused),
    row("::ffff:0:0/96", "IPv4-mapped Address", "RFC 4291", Refused),
    row("::ffff:0:0:0/96", "IPv4-translated Address", "RFC 2765", Refused),
    row("64:ff9b::/96", "IPv4-IPv6 Translat.", "RFC 6052", EmbedsV4),
    row("64:ff9b:1::/48", "IPv4-IPv6 Translat.", "RFC 8215", Refused),
    row("100::/64", "Discard-Only Address Block", "RFC 6666", Refused),
    row("100:0:0:1::/64", "Dummy IPv6 Prefix", "RFC 9780", Refused),
    row("2000::/3", "Global Unicast", "RFC 4291", Reachable),
    row("2001::/23", "IETF Protocol Assignments", "RFC 2928", Refused),
    row("2001::/32", "TEREDO", "RFC 4380", Refused),
    row("2001:1::1/128", "Port Control Protocol Anycast", "RFC 7723", Reachable),
    row("2001:1::2/128", "TURN Anycast", "RFC 8155", Reachable),
    row("2001:1::3/128", "DNS-SD SRP Anycast", "RFC 9665", Reachable),
    row("2001:2::/48", "Benchmarking", "RFC 5180", Refused),
    row("2001:3::/32", "AMT", "RFC 7450", Reachable),
    row("2001:4:112::/48", "AS112-v6", "RFC 7535", Reachable),
    row("2001:10::/28", "Deprecated (previously ORCHID)", "RFC 4843", Refused),
    row("2001:20::/28", "ORCHIDv2", "RFC 7343", Reachable),
    row("2001:30::/28", "Drone Remote ID Protocol Entity Tags", "RFC 9374", Reachable),
    row("2001:db8::/32", "Documentation", "RFC 3849", Refused),
    row("2002::/16", "6to4", "RFC 3056", EmbedsV4),
    row("2620:4f:8000::/48", "Direct Delegation AS112 Service", "RFC 7534", Reachable),
    row("3fff::/20", "Documentation", "RFC 9637", Refused),
    row("5f00::/16", "Segment Routing (SRv6) SIDs", "RFC 9602", Refused),
    row("fc00::/7", "Unique-Local", "RFC 4193", Refused),
    row("fe80::/10", "Link-Local Unicast", "RFC 4291", Refused),
    row("fec0::/10", "Site-Local (deprecated)", "RFC 3879", Refused),
    row("ff00::/8", "Multicast", "RFC 4291", Refused),
];

/// [`BLOCKS`] parsed, most specific first, so the first match is the longest prefix.
static TABLE: LazyLock<Vec<(IpNet, &'static Block)>> = LazyLock::new(|| {
    let mut table: Vec<(IpNet, &'static Block)> = BLOCKS
        .iter()
        .filter_map(|block| block.cidr.parse().ok().map(|net| (net, block)))
        .collect();
    table.sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix_len()));
    table
});

/// The most specific row of [`BLOCKS`] that holds `ip`.
pub fn block_of(ip: IpAddr) -> Option<&'static Block> {
    TABLE
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, block)| *block)
}

/// Whether `ip` is globally reachable, by [`BLOCKS`].
pub fn is_public(ip: IpAddr) -> bool {
    match block_of(ip).map(|block| block.verdict) {
        Some(Reachable) => true,
        Some(EmbedsV4) => embedded_v4(ip).is_some_and(|v4| is_public(IpAddr::V4(v4))),
        Some(Refused) | None => false,
    }
}

/// The IPv4 address a NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address carries.
fn embedded_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = ip else { return None };
    let o = v6.octets();
    match v6.segments()[0] {
        0x2002 => Some(Ipv4Addr::new(o[2], o[3], o[4], o[5])),
        0x0064 => Some(Ipv4Addr::new(o[12], o[13], o[14], o[15])),
        _ => None,
    }
}

/// One `--allow-target` value: a CIDR block, a bare address (that one address), or
/// `loopback` (127.0.0.0/8 and ::1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRange(Vec<IpNet>);

impl TargetRange {
    /// `loopback`: 127.0.0.0/8 and ::1.
    pub fn loopback() -> Self {
        let v4 = IpNet::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8);
        let v6 = IpNet::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 128);
        Self(v4.into_iter().chain(v6).collect())
    }
}

impl FromStr for TargetRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("loopback") {
            return Ok(Self::loopback());
        }
        if let Ok(net) = text.parse::<IpNet>() {
            // The block as written, host bits cleared: 10.1.2.3/8 means 10.0.0.0/8.
            return Ok(Self(vec![net.trunc()]));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Self(vec![IpNet::from(ip)]));
        }
        Err(format!(
            "{text:?} is not an address range: give a CIDR block (10.0.0.0/8, fd00::/8), \
             one address (192.168.1.20) or loopback"
        ))
    }
}

/// The ranges a server was told to accept besides the public ones (`--allow-target`).
/// Cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedTargets(Arc<[IpNet]>);

impl AllowedTargets {
    /// No allowance: public addresses only.
    pub fn none() -> Self {
        Self::default()
    }

    /// Loopback only (local runs: the bench, tests).
    pub fn loopback() -> Self {
        Self::new(&[TargetRange::loopback()])
    }

    /// The union of `ranges`.
    pub fn new(ranges: &[TargetRange]) -> Self {
        Self(ranges.iter().flat_map(|r| r.0.iter().copied()).collect())
    }

    /// Whether no range was allowed (production).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a delivery may dial `ip`: it is public, or inside an allowed range.
    pub fn permits(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.0.iter().any(|net| net.contains(&ip))
    }
}

impl std::fmt::Display for AllowedTargets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, net) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{net}")?;
        }
        Ok(())
    }
}

/// Why a URL's target is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// The URL has no host.
    NoHost,
    /// The host name did not resolve.
    Unresolvable(String),
    /// The host is, or resolves to, an address outside the public ranges and the allowed
    /// ones. Which address is not said.
    NotAllowed,
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetError::NoHost => f.write_str("the URL has no host"),
            TargetError::Unresolvable(host) => write!(
                f,
                "the host {host:?} does not resolve: check the spelling and its DNS records"
            ),
            TargetError::NotAllowed => f.write_str(
                "target address not allowed: webhooks must target a public address (a server \
                 started with --allow-target accepts the ranges it names)",
            ),
        }
    }
}

impl std::error::Error for TargetError {}

/// Checks `url`'s target when it is saved: every address its host is or resolves to must
/// be permitted (a name with one private answer could be steered there). With an
/// allowance, a name that does not resolve yet is let through: the resolver checks it
/// again at every delivery.
pub async fn check(url: &Url, allowed: &AllowedTargets) -> Result<(), TargetError> {
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<IpAddr> = match url.host() {
        None => return Err(TargetError::NoHost),
        Some(Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
        Some(Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
        Some(Host::Domain(name)) => match tokio::net::lookup_host((name, port)).await {
            Ok(found) => found.map(|a| a.ip()).collect(),
            Err(_) if !allowed.is_empty() => return Ok(()),
            Err(_) => return Err(TargetError::Unresolvable(name.to_owned())),
        },
    };
    if addrs.is_empty() {
        return Err(TargetError::Unresolvable(
            url.host_str().unwrap_or_default().to_owned(),
        ));
    }
    if addrs.iter().all(|ip| allowed.permits(*ip)) {
        Ok(())
    } else {
        Err(TargetError::NotAllowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of [`BLOCKS`], by hand, with the verdict its registry entry gives. The
    /// table and this list must name the same blocks: a row added without a test fails.
    const EXPECTED: &[(&str, Verdict)] = &[
        ("0.0.0.0/0", Reachable),
        ("0.0.0.0/8", Refused),
        ("0.0.0.0/32", Refused),
        ("10.0.0.0/8", Refused),
        ("100.64.0.0/10", Refused),
        ("127.0.0.0/8", Refused),
        ("169.254.0.0/16", Refused),
        ("172.16.0.0/12", Refused),
        ("192.0.0.0/24", Refused),
        ("192.0.0.0/29", Refused),
        ("192.0.0.8/32", Refused),
        ("192.0.0.9/32", Reachable),
        ("192.0.0.10/32", Reachable),
        ("192.0.0.170/32", Refused),
        ("192.0.0.171/32", Refused),
        ("192.0.2.0/24", Refused),
        ("192.31.196.0/24", Reachable),
        ("192.52.193.0/24", Reachable),
        ("192.88.99.0/24", Refused),
        ("192.88.99.2/32", Refused),
        ("192.168.0.0/16", Refused),
        ("192.175.48.0/24", Reachable),
        ("198.18.0.0/15", Refused),
        ("198.51.100.0/24", Refused),
        ("203.0.113.0/24", Refused),
        ("224.0.0.0/4", Refused),
        ("240.0.0.0/4", Refused),
        ("255.255.255.255/32", Refused),
        ("::/0", Refused),
        ("::/128", Refused),
        ("::1/128", Refused),
        ("::ffff:0:0/96", Refused),
        ("::ffff:0:0:0/96", Refused),
        ("64:ff9b::/96", EmbedsV4),
        ("64:ff9b:1::/48", Refused),
        ("100::/64", Refused),
        ("100:0:0:1::/64", Refused),
        ("2000::/3", Reachable),
        ("2001::/23", Refused),
        ("2001::/32", Refused),
        ("2001:1::1/128", Reachable),
        ("2001:1::2/128", Reachable),
        ("2001:1::3/128", Reachable),
        ("2001:2::/48", Refused),
        ("2001:3::/32", Reachable),
        ("2001:4:112::/48", Reachable),
        ("2001:10::/28", Refused),
        ("2001:20::/28", Reachable),
        ("2001:30::/28", Reachable),
        ("2001:db8::/32", Refused),
        ("2002::/16", EmbedsV4),
        ("2620:4f:8000::/48", Reachable),
        ("3fff::/20", Refused),
        ("5f00::/16", Refused),
        ("fc00::/7", Refused),
        ("fe80::/10", Refused),
        ("fec0::/10", Refused),
        ("ff00::/8", Refused),
    ];

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn net(text: &str) -> IpNet {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// `ip` moved by `delta` (saturating at the ends of its family).
    fn step(ip: IpAddr, delta: i8) -> Option<IpAddr> {
        match ip {
            IpAddr::V4(v4) => {
                let n = u32::from(v4);
                let n = if delta < 0 {
                    n.checked_sub(1)
                } else {
                    n.checked_add(1)
                }?;
                Some(IpAddr::V4(n.into()))
            }
            IpAddr::V6(v6) => {
                let n = u128::from(v6);
                let n = if delta < 0 {
                    n.checked_sub(1)
                } else {
                    n.checked_add(1)
                }?;
                Some(IpAddr::V6(n.into()))
            }
        }
    }

    #[test]
    fn the_table_is_the_tested_list_and_parses() {
        let table: Vec<&str> = BLOCKS.iter().map(|b| b.cidr).collect();
        let tested: Vec<&str> = EXPECTED.iter().map(|(cidr, _)| *cidr).collect();
        assert_eq!(table, tested);
        assert_eq!(TABLE.len(), BLOCKS.len(), "every row parses");
        for block in BLOCKS {
            assert_eq!(net(block.cidr), net(block.cidr).trunc(), "{}", block.cidr);
        }
    }

    /// A test per row: the row's first and last address (and the one inside each end),
    /// where no more specific row covers them, get the row's verdict (for the embedding
    /// rows: that of the IPv4 address they carry); and the address just outside each end
    /// is not decided by this row, but by the one that holds it.
    #[test]
    fn each_row_decides_its_own_addresses() {
        for &(cidr, verdict) in EXPECTED {
            let block = net(cidr);
            let mut probes = vec![block.network(), block.broadcast()];
            probes.extend(step(block.network(), 1).filter(|p| block.contains(p)));
            probes.extend(step(block.broadcast(), -1).filter(|p| block.contains(p)));
            let mut decided = 0;
            for probe in probes {
                let Some(decider) = block_of(probe) else {
                    panic!("{probe} is in no row");
                };
                if decider.cidr != cidr {
                    // A more specific row holds it: that row's test decides.
                    assert!(
                        net(decider.cidr).prefix_len() > block.prefix_len(),
                        "{probe} of {cidr} decided by the wider {}",
                        decider.cidr
                    );
                    continue;
                }
                decided += 1;
                let expected = match verdict {
                    Reachable => true,
                    Refused => false,
                    EmbedsV4 => embedded_v4(probe).is_some_and(|v4| is_public(IpAddr::V4(v4))),
                };
                assert_eq!(
                    is_public(probe),
                    expected,
                    "{probe} in {cidr} ({}, {})",
                    decider.name,
                    decider.rfc
                );
            }
            for outside in [step(block.network(), -1), step(block.broadcast(), 1)]
                .into_iter()
                .flatten()
            {
                let decider = block_of(outside).map(|b| b.cidr);
                assert_ne!(decider, Some(cidr), "{outside} is outside {cidr}");
            }
            // The wide defaults are mostly covered by their exceptions at the ends.
            if !matches!(cidr, "0.0.0.0/0" | "::/0") {
                assert!(decided > 0, "no probe of {cidr} was decided by it");
            }
        }
    }

    #[test]
    fn the_embedding_rows_follow_the_address_they_carry() {
        for (text, public) in [
            ("64:ff9b::808:808", true),
            ("64:ff9b::a00:1", false),
            ("64:ff9b::7f00:1", false),
            ("2002:808:808::", true),
            ("2002:7f00:1::", false),
            ("2002:a9fe:a9fe::1", false),
        ] {
            assert_eq!(is_public(ip(text)), public, "{text}");
        }
    }

    /// The addresses of the issue that were accepted before the table, and the classics.
    #[test]
    fn known_bypasses_are_refused_and_public_addresses_pass() {
        for text in [
            "::ffff:0:7f00:1",
            "100::1",
            "2001:2::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "169.254.169.254",
            "fd00:ec2::254",
            "0.0.0.0",
            "::",
            "3fff::1",
            "5f00::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        ] {
            assert!(!is_public(ip(text)), "{text} should be refused");
        }
        for text in [
            "8.8.8.8",
            "1.1.1.1",
            "100.128.0.1",
            "192.0.0.9",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4001::1",
        ] {
            assert!(is_public(ip(text)), "{text} should be allowed");
        }
    }

    #[test]
    fn allowances_parse_and_open_only_what_they_name() {
        let loopback: TargetRange = "loopback".parse().unwrap_or_else(|e| panic!("{e}"));
        let lan: TargetRange = "10.1.2.3/16".parse().unwrap_or_else(|e| panic!("{e}"));
        let host: TargetRange = "fd00::7".parse().unwrap_or_else(|e| panic!("{e}"));
        let allowed = AllowedTargets::new(&[loopback, lan, host]);
        assert_eq!(
            allowed.to_string(),
            "127.0.0.0/8,::1/128,10.1.0.0/16,fd00::7/128"
        );
        for text in [
            "127.0.0.1",
            "127.9.9.9",
            "::1",
            "10.1.255.1",
            "fd00::7",
            "8.8.8.8",
        ] {
            assert!(allowed.permits(ip(text)), "{text}");
        }
        for text in [
            "10.2.0.1",
            "192.168.1.1",
            "fd00::8",
            "::ffff:127.0.0.1",
            "169.254.169.254",
        ] {
            assert!(!allowed.permits(ip(text)), "{text}");
        }
        assert!(!AllowedTargets::none().permits(ip("127.0.0.1")));
        let refused = "everything"
            .parse::<TargetRange>()
            .err()
            .unwrap_or_default();
        assert!(refused.contains("not an address range"), "{refused}");
        assert!("10.0.0.0/33".parse::<TargetRange>().is_err());
    }

    #[test]
    fn refusals_say_why_and_never_which_address() {
        assert_eq!(TargetError::NoHost.to_string(), "the URL has no host");
        assert_eq!(
            TargetError::Unresolvable("nx.example".into()).to_string(),
            "the host \"nx.example\" does not resolve: check the spelling and its DNS records"
        );
        assert!(TargetError::NotAllowed
            .to_string()
            .starts_with("target address not allowed: "));
    }

    #[tokio::test]
    async fn check_refuses_literals_and_localhost() -> Result<(), url::ParseError> {
        let loopback = AllowedTargets::loopback();
        for url in [
            "https://127.0.0.1/x",
            "https://[::1]:8443/",
            "https://localhost/hook",
        ] {
            let url = Url::parse(url)?;
            assert_eq!(
                check(&url, &AllowedTargets::none()).await,
                Err(TargetError::NotAllowed),
                "{url}"
            );
            assert_eq!(check(&url, &loopback).await, Ok(()), "{url}");
        }
        let lan = Url::parse("https://10.0.0.1/")?;
        assert_eq!(check(&lan, &loopback).await, Err(TargetError::NotAllowed));
        let public = Url::parse("https://93.184.215.14/hook")?;
        assert_eq!(check(&public, &AllowedTargets::none()).await, Ok(()));
        let nowhere = Url::parse("https://nowhere.invalid/")?;
        assert_eq!(
            check(&nowhere, &AllowedTargets::none()).await,
            Err(TargetError::Unresolvable("nowhere.invalid".into()))
        );
        assert_eq!(
            check(&nowhere, &loopback).await,
            Ok(()),
            "checked at delivery instead"
        );
        Ok(())
    }
}
