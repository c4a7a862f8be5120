//! Which address a request comes from, for the limits kept per client address (sign-ups and
//! failed logins): the connection's peer, or, when that peer is a proxy the operator trusts
//! (`--trusted-proxy`), the address the proxy says it took the request from.
//!
//! Behind nginx every connection comes from nginx, and without this every player would share one
//! client's allowance. `X-Forwarded-For` lists the addresses a request passed through: the
//! client's first, then each proxy appends the address it received the request from. Anyone can
//! write the start of that list, so only entries appended by trusted proxies are believed: the
//! list is read from the right, past the trusted proxies, to the first address that is not one.

use std::net::IpAddr;

/// The header proxies append the client's address to.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct ClientAddresses {
    trusted_proxies: Vec<IpAddr>,
}

impl ClientAddresses {
    pub fn new(trusted_proxies: impl IntoIterator<Item = IpAddr>) -> Self {
        Self {
            trusted_proxies: trusted_proxies
                .into_iter()
                .map(|ip| ip.to_canonical())
                .collect(),
        }
    }

    /// The client address of a request that came over a connection from `peer`, with `headers`.
    /// A malformed entry ends the reading: the address that appended it is the client's, as far
    /// as the server can tell.
    pub fn client_of(&self, peer: IpAddr, headers: &http::HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.is_trusted(client) {
            return client;
        }
        // Several headers are one list, in the order they came.
        let entries: Vec<&str> = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        for entry in entries.into_iter().rev() {
            let Ok(forwarded) = entry.trim().parse::<IpAddr>() else {
                break;
            };
            client = forwarded.to_canonical();
            if !self.is_trusted(client) {
                break;
            }
        }
        client
    }

    fn is_trusted(&self, address: IpAddr) -> bool {
        self.trusted_proxies.contains(&address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for value in values {
            headers.append(FORWARDED_FOR, value.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_peer_that_is_not_a_trusted_proxy_is_the_client_whatever_it_forwards() {
        let addresses = ClientAddresses::new([ip("10.0.0.1")]);
        let forwarded = headers(&["198.51.100.9"]);
        assert_eq!(
            addresses.client_of(ip("203.0.113.5"), &forwarded),
            ip("203.0.113.5")
        );
        assert_eq!(
            ClientAddresses::default().client_of(ip("10.0.0.1"), &forwarded),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_client_is_the_first_untrusted_address_from_the_right() {
        let addresses = ClientAddresses::new([ip("10.0.0.1"), ip("10.0.0.2")]);
        // The client wrote 192.0.2.66 itself; 203.0.113.5 is what the outer proxy saw.
        let forwarded = headers(&["192.0.2.66, 203.0.113.5", "10.0.0.2"]);
        assert_eq!(
            addresses.client_of(ip("10.0.0.1"), &forwarded),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn a_malformed_or_missing_list_leaves_the_last_address_a_trusted_proxy_vouched_for() {
        let addresses = ClientAddresses::new([ip("10.0.0.1")]);
        assert_eq!(
            addresses.client_of(ip("10.0.0.1"), &headers(&["not an address"])),
            ip("10.0.0.1")
        );
        assert_eq!(
            addresses.client_of(ip("10.0.0.1"), &http::HeaderMap::new()),
            ip("10.0.0.1")
        );
        assert_eq!(
            addresses.client_of(ip("10.0.0.1"), &headers(&["junk, 2001:db8::7"])),
            ip("2001:db8::7")
        );
    }

    #[test]
    fn ipv4_mapped_ipv6_addresses_are_the_ipv4_addresses_they_carry() {
        let addresses = ClientAddresses::new([ip("127.0.0.1")]);
        assert_eq!(
            addresses.client_of(ip("::ffff:127.0.0.1"), &headers(&["::ffff:203.0.113.5"])),
            ip("203.0.113.5")
        );
    }
}
