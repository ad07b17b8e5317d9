//! Which address a request came from. The socket's peer, unless the peer is one of the
//! configured trusted proxies: then the address that proxy forwards (`Forwarded: for=`
//! or `X-Forwarded-For`), read from the right, skipping further trusted proxies. A
//! header from any other peer is ignored, so a client cannot choose its own address.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// Forwarded hops read at most (the header is client-controlled beyond the proxy).
const MAX_HOPS: usize = 20;

pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops = forwarded_for(headers);
    // Right to left: the nearest hop was added by our proxy; the first one not itself a
    // trusted proxy is the client.
    for hop in hops.iter().rev().take(MAX_HOPS) {
        match hop {
            Some(ip) if trusted.contains(ip) => continue,
            Some(ip) => return *ip,
            // An unparsable hop: stop trusting the chain here.
            None => return peer,
        }
    }
    peer
}

/// The hops the standard `Forwarded` header names, else `X-Forwarded-For`'s.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<Option<IpAddr>> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.eq_ignore_ascii_case("for").then(|| parse_node(v))
            })
        })
        .collect();
    if !forwarded.is_empty() {
        return forwarded;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(parse_node)
        .collect()
}

/// `192.0.2.1`, `"[2001:db8::1]:4711"`, `192.0.2.1:80` → the address.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let v = raw.trim().trim_matches('"');
    if let Ok(ip) = v.parse() {
        return Some(ip);
    }
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    v.rsplit_once(':').and_then(|(host, _)| host.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_a_trusted_peer_may_name_the_client() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let h = headers(&[("x-forwarded-for", "198.51.100.7, 203.0.113.9")]);
        let stranger: IpAddr = "192.0.2.5".parse().unwrap();
        assert_eq!(resolve(stranger, &h, &[proxy]), stranger);
        assert_eq!(
            resolve(proxy, &h, &[proxy]),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        let h = headers(&[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https")]);
        assert_eq!(
            resolve(proxy, &h, &[proxy]),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(resolve(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }
}
