//! Who the client is, as far as throttling knows: the TCP peer, or, when
//! the peer is one of `TRUSTED_PROXIES`, the right-most address of
//! `X-Forwarded-For` that is not itself a trusted proxy.
//!
//! Right-most, because each proxy appends the address it saw: the hops to
//! the right of the first untrusted one were written by our proxies, and
//! everything to its left was written by the client and may be anything.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderMap;
use http::request::Parts;
use ipnet::IpNet;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// Why a `TRUSTED_PROXIES` entry was refused.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is neither an IP address nor a CIDR block")]
pub struct InvalidProxy(String);

impl TrustedProxies {
    /// Comma-separated addresses (`10.0.0.1`, `::1`) and CIDR blocks
    /// (`10.0.0.0/8`, `fd00::/8`); blanks are ignored.
    pub fn parse(list: &str) -> Result<Self, InvalidProxy> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| InvalidProxy(entry.to_owned()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`, reading `X-Forwarded-For` only when the
    /// peer is trusted. A hop that does not parse ends the walk at the last
    /// address that did: what a trusted proxy wrote is always an address,
    /// so anything else came from the client.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        let hops = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .flat_map(|value| value.as_bytes().split(|b| *b == b','))
            .collect::<Vec<_>>();
        for hop in hops.into_iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// An IPv4-mapped IPv6 address is the IPv4 address it maps.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `1.2.3.4`, `2001:db8::1`, and the forms with a port some proxies write
/// (`1.2.3.4:5678`, `[2001:db8::1]:5678`).
fn parse_hop(hop: &[u8]) -> Option<IpAddr> {
    let hop = std::str::from_utf8(hop).ok()?.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(canonical)
}

/// The client's address, worked out once per request by
/// [`resolve_client_address`]; `None` for a router driven in-process,
/// without a TCP peer. Never rejects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientAddress>()
            .copied()
            .unwrap_or_else(|| ClientAddress(peer(parts.extensions.get()))))
    }
}

fn peer(info: Option<&ConnectInfo<SocketAddr>>) -> Option<IpAddr> {
    info.map(|ConnectInfo(peer)| canonical(peer.ip()))
}

/// Middleware: puts the [`ClientAddress`] in the request's extensions.
pub async fn resolve_client_address(
    proxies: std::sync::Arc<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    let client = peer(request.extensions().get()).map(|p| proxies.client_of(p, request.headers()));
    request.extensions_mut().insert(ClientAddress(client));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in xff {
            map.append(X_FORWARDED_FOR, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_it_says() {
        let proxies = TrustedProxies::parse("").unwrap();

        let client = proxies.client_of(ip("203.0.113.9"), &headers(&["198.51.100.1"]));

        assert!(proxies.is_empty());
        assert_eq!(client, ip("203.0.113.9"));
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.0.2.7").unwrap();
        let cases = [
            // (peer, X-Forwarded-For headers, client)
            ("10.1.1.1", vec!["198.51.100.1"], "198.51.100.1"),
            ("10.1.1.1", vec!["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
            (
                "10.1.1.1",
                vec!["6.6.6.6, 198.51.100.1, 192.0.2.7"],
                "198.51.100.1",
            ),
            (
                "10.1.1.1",
                vec!["6.6.6.6", "198.51.100.1, 10.2.2.2"],
                "198.51.100.1",
            ),
            ("10.1.1.1", vec![], "10.1.1.1"),
            ("10.1.1.1", vec!["10.2.2.2, 192.0.2.7"], "10.2.2.2"),
            (
                "10.1.1.1",
                vec!["garbage, 198.51.100.1:4711"],
                "198.51.100.1",
            ),
            ("10.1.1.1", vec!["198.51.100.1, garbage"], "10.1.1.1"),
            ("10.1.1.1", vec!["[2001:db8::1]:443"], "2001:db8::1"),
            (
                "::ffff:10.1.1.1",
                vec!["::ffff:198.51.100.1"],
                "198.51.100.1",
            ),
            // Not from a trusted proxy: the header is the client's own words.
            ("203.0.113.9", vec!["198.51.100.1"], "203.0.113.9"),
        ];
        for (peer, xff, client) in cases {
            assert_eq!(
                proxies.client_of(ip(peer), &headers(&xff)),
                ip(client),
                "{peer} {xff:?}"
            );
        }
    }

    #[test]
    fn entries_that_are_not_addresses_or_blocks_are_refused() {
        assert!(TrustedProxies::parse("10.0.0.1, ::1, fd00::/8").is_ok());
        for bad in ["10.0.0", "10.0.0.0/33", "proxy.internal", "10.0.0.1/8/1"] {
            let error = TrustedProxies::parse(bad).unwrap_err();
            assert!(error.to_string().contains(bad), "{error}");
        }
    }
}
