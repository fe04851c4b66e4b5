//! Who is on the other end of a connection. The socket's peer is the client unless it is one of the
//! configured proxies (`trusted_proxies`); only then is `X-Forwarded-For` read, from the right, and the
//! first address that is not itself a trusted proxy is the client. Anything to the left of it was written
//! by the client and proves nothing.

use crate::FieldError;
use std::fmt;
use std::net::IpAddr;

/// An address range: `10.0.0.0/8`, `fd00::/8`, or one address (`192.0.2.7` is `192.0.2.7/32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let bad = || {
            FieldError::new(
                field,
                format!(
                    "{raw:?} is not an address or a range such as 10.0.0.0/8, 192.0.2.7 or fd00::/8"
                ),
            )
        };
        let raw_t = raw.trim();
        let (a, p) = match raw_t.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (raw_t, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
        };
        Ok(Self { addr, prefix })
    }

    /// A list separated by commas (as an environment variable gives it); empty items are skipped.
    pub fn parse_list(field: &str, raw: &str) -> Result<Vec<Self>, FieldError> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Self::parse(field, s))
            .collect()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 peer on an IPv6 socket arrives as ::ffff:a.b.c.d.
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address: the peer, unless the peer is a trusted proxy; then the right-most address of
/// `X-Forwarded-For` (all its header lines, in order) that is not a trusted proxy. An entry that is not an
/// address stops the walk at the proxy that passed it on. With no trusted proxies, the header is ignored.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[Cidr],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    let mut client = canonical(peer);
    if !is_trusted(client) {
        return client;
    }
    let hops = forwarded_for.rev().flat_map(|line| line.rsplit(','));
    for hop in hops {
        let hop = hop.trim();
        // `for=` syntax and ports are not X-Forwarded-For; a bracketed or port-suffixed entry is not parsed.
        let Ok(ip) = hop.parse::<IpAddr>() else {
            return client;
        };
        client = canonical(ip);
        if !is_trusted(client) {
            return client;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn cidrs(s: &str) -> Vec<Cidr> {
        Cidr::parse_list("trusted_proxies", s).unwrap()
    }

    #[test]
    fn ranges_parse_and_contain() {
        let c = Cidr::parse("x", "10.0.0.0/8").unwrap();
        assert!(c.contains(ip("10.200.3.4")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.1.2.3")), "IPv4 mapped into IPv6");
        let one = Cidr::parse("x", " 192.0.2.7 ").unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6 = Cidr::parse("x", "fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(
            Cidr::parse("x", "0.0.0.0/0")
                .unwrap()
                .contains(ip("8.8.8.8"))
        );
        for bad in [
            "",
            "10.0.0.0/33",
            "localhost",
            "10.0.0/8",
            "::/129",
            "1.2.3.4/x",
        ] {
            let e = Cidr::parse("trusted_proxies", bad).unwrap_err();
            assert_eq!(e.field, "trusted_proxies");
        }
        assert_eq!(cidrs("10.0.0.0/8, ,127.0.0.1").len(), 2);
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let got = client_ip(ip("203.0.113.9"), ["1.2.3.4"].into_iter(), &[]);
        assert_eq!(got, ip("203.0.113.9"));
        // Nor from a peer that is not one of them.
        let got = client_ip(
            ip("203.0.113.9"),
            ["1.2.3.4"].into_iter(),
            &cidrs("10.0.0.0/8"),
        );
        assert_eq!(got, ip("203.0.113.9"));
    }

    #[test]
    fn the_right_most_untrusted_address_is_the_client() {
        let t = cidrs("10.0.0.0/8");
        // The client forged the first entry; the proxy appended the real one.
        let got = client_ip(ip("10.0.0.2"), ["6.6.6.6, 198.51.100.4"].into_iter(), &t);
        assert_eq!(got, ip("198.51.100.4"));
        // Two proxies in a row, across two header lines.
        let got = client_ip(
            ip("10.0.0.2"),
            ["6.6.6.6, 198.51.100.4", "10.0.0.9"].into_iter(),
            &t,
        );
        assert_eq!(got, ip("198.51.100.4"));
        // Garbage stops the walk at the proxy that passed it on.
        let got = client_ip(ip("10.0.0.2"), ["nonsense"].into_iter(), &t);
        assert_eq!(got, ip("10.0.0.2"));
        // A trusted peer with no header is the client.
        assert_eq!(
            client_ip(ip("10.0.0.2"), [].into_iter(), &t),
            ip("10.0.0.2")
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn an_untrusted_peer_is_always_the_client(header in "\\PC{0,60}", a in any::<u32>()) {
            let peer = IpAddr::V4(std::net::Ipv4Addr::from(a | 0x0100_0000));
            let t = Cidr::parse_list("t", "0.0.0.0/8").unwrap();
            prop_assert_eq!(client_ip(peer, [header.as_str()].into_iter(), &t), peer);
        }

        #[test]
        fn any_text_parses_or_names_the_field(raw in "\\PC{0,30}") {
            if let Err(e) = Cidr::parse("trusted_proxies", &raw) {
                prop_assert_eq!(e.field, "trusted_proxies");
            }
        }
    }
}
