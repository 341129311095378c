//! Where an export download may go. The export link comes from the server,
//! and so do the redirects it leads to: a hostile or broken server could
//! point this client at the cloud's metadata service or at the private
//! network it runs in. Links and every redirect are checked by scheme and
//! host, and host names by the addresses they resolve to (in the resolver
//! the download's connections use, so a name cannot resolve one way when
//! checked and another when connected).

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why a URL or an address is refused. Travels inside reqwest's errors (from
/// the redirect policy and the resolver) and is found again by
/// [`refusal_in`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not `https` (or `http` where allowed).
    Scheme(String),
    /// The URL has no host, or holds credentials.
    Form(&'static str),
    /// The host is, or resolves to, an address this client does not visit.
    Address { host: String, kind: &'static str },
    /// More redirects than allowed.
    TooManyRedirects(usize),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Scheme(s) => write!(f, "the scheme `{s}` is not https"),
            Refusal::Form(what) => f.write_str(what),
            Refusal::Address { host, kind } => write!(f, "{host} is {kind}"),
            Refusal::TooManyRedirects(n) => write!(f, "more than {n} redirects"),
        }
    }
}

impl std::error::Error for Refusal {}

/// The first [`Refusal`] in an error's chain of causes.
pub(crate) fn refusal_in(e: &(dyn std::error::Error + 'static)) -> Option<Refusal> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(r) = e.downcast_ref::<Refusal>() {
            return Some(r.clone());
        }
        next = e.source();
    }
    None
}

/// What an address is, when it is one an export download must not reach;
/// `None` for an ordinary public address. Loopback is refused unless
/// `allow_loopback`.
pub(crate) fn forbidden(ip: IpAddr, allow_loopback: bool) -> Option<&'static str> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => forbidden_v4(v4, allow_loopback),
        IpAddr::V6(v6) => forbidden_v6(v6, allow_loopback),
    }
}

fn forbidden_v4(ip: Ipv4Addr, allow_loopback: bool) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(if ip == Ipv4Addr::new(169, 254, 169, 254) {
        "a cloud metadata address"
    } else if ip.is_unspecified() || a == 0 {
        "an unspecified address"
    } else if ip.is_loopback() {
        if allow_loopback {
            return None;
        }
        "a loopback address"
    } else if ip.is_private() {
        "a private address"
    } else if ip.is_link_local() {
        "a link-local address"
    } else if a == 100 && (64..128).contains(&b) {
        "a shared (carrier-grade NAT) address"
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        "a broadcast, multicast or reserved address"
    } else {
        return None;
    })
}

fn forbidden_v6(ip: Ipv6Addr, allow_loopback: bool) -> Option<&'static str> {
    let segments = ip.segments();
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64: the IPv4 address it reaches is what counts.
        return forbidden_v4(nat64_v4(ip), allow_loopback);
    }
    let first = segments[0];
    Some(
        if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
            "a cloud metadata address"
        } else if ip.is_unspecified() {
            "an unspecified address"
        } else if ip.is_loopback() {
            if allow_loopback {
                return None;
            }
            "a loopback address"
        } else if first & 0xfe00 == 0xfc00 {
            "a private (unique local) address"
        } else if first & 0xffc0 == 0xfe80 {
            "a link-local address"
        } else if ip.is_multicast() {
            "a broadcast, multicast or reserved address"
        } else {
            return None;
        },
    )
}

/// The address a URL's host is written as, when it is one (the URL parser
/// has already read the numeric forms, such as `2852039166`, as addresses).
pub(crate) fn literal_ip(url: &Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse().ok()
}

/// The IPv4 address in the last 32 bits of a NAT64 address.
fn nat64_v4(ip: Ipv6Addr) -> Ipv4Addr {
    let o = ip.octets();
    Ipv4Addr::new(o[12], o[13], o[14], o[15])
}

/// Whether a URL's host names this machine: a loopback address or
/// `localhost`.
pub(crate) fn is_loopback_host(url: &Url) -> bool {
    if let Some(ip) = literal_ip(url) {
        return ip.to_canonical().is_loopback();
    }
    url.host_str().is_some_and(|d| {
        let d = d.trim_end_matches('.').to_ascii_lowercase();
        d == "localhost" || d.ends_with(".localhost")
    })
}

/// The checks of one client's export downloads.
#[derive(Debug, Clone)]
pub(crate) struct LinkPolicy {
    /// The API itself is on loopback (a test or a local simulator): links
    /// may use `http` and loopback addresses. Private, link-local and
    /// metadata addresses stay refused.
    pub(crate) local: bool,
    /// Names resolved without asking DNS (`ClientConfig::resolve`).
    pub(crate) pinned: Arc<Vec<(String, IpAddr)>>,
    /// Host names of the proxies in the environment, which the download may
    /// connect to wherever they are: the proxy, not this client, then
    /// resolves the link's host.
    pub(crate) proxies: Arc<HashSet<String>>,
}

impl LinkPolicy {
    pub(crate) fn new(local: bool, pinned: Vec<(String, IpAddr)>) -> LinkPolicy {
        LinkPolicy {
            local,
            pinned: Arc::new(
                pinned
                    .into_iter()
                    .map(|(n, ip)| (n.trim_end_matches('.').to_ascii_lowercase(), ip))
                    .collect(),
            ),
            proxies: Arc::new(proxy_hosts(|k| std::env::var(k).ok())),
        }
    }

    /// Checks a URL's scheme, form and (literal) address; host names are
    /// checked by [`LinkPolicy::lookup`].
    pub(crate) fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        match url.scheme() {
            "https" => {}
            "http" if self.local => {}
            other => return Err(Refusal::Scheme(other.chars().take(20).collect())),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::Form("the URL holds credentials"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(Refusal::Form("the URL names no host"));
        }
        let Some(ip) = literal_ip(url) else {
            // A name: checked when it is resolved.
            return Ok(());
        };
        match forbidden(ip, self.local) {
            Some(kind) => Err(Refusal::Address {
                host: ip.to_string(),
                kind,
            }),
            None => Ok(()),
        }
    }

    /// The addresses of `host`, when none of them is forbidden. A name
    /// that resolves to both public and forbidden addresses is refused: the
    /// connection could go to either.
    pub(crate) async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        let pinned: Vec<IpAddr> = self
            .pinned
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, ip)| *ip)
            .collect();
        let addrs = if pinned.is_empty() {
            tokio::net::lookup_host((name.as_str(), 0))
                .await
                .map_err(ResolveError::Lookup)?
                .map(|a| a.ip())
                .collect()
        } else {
            pinned
        };
        if self.proxies.contains(&name) {
            return Ok(addrs);
        }
        for ip in &addrs {
            if let Some(kind) = forbidden(*ip, self.local) {
                return Err(ResolveError::Refused(Refusal::Address {
                    host: format!("{name} ({ip})"),
                    kind,
                }));
            }
        }
        Ok(addrs)
    }
}

/// Why a name could not be used.
#[derive(Debug)]
pub(crate) enum ResolveError {
    Lookup(std::io::Error),
    Refused(Refusal),
}

impl Resolve for LinkPolicy {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            match policy.lookup(&host).await {
                Ok(ips) => {
                    let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
                    Ok(addrs)
                }
                Err(ResolveError::Lookup(e)) => Err(e.into()),
                Err(ResolveError::Refused(r)) => Err(r.into()),
            }
        })
    }
}

/// The host names of the proxies named by the environment variables reqwest
/// reads (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, in either case).
fn proxy_hosts(var: impl Fn(&str) -> Option<String>) -> HashSet<String> {
    [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .into_iter()
    .filter_map(&var)
    .filter_map(|v| {
        let v = v.trim();
        let url = Url::parse(v)
            .ok()
            .filter(|u| u.host_str().is_some())
            .or_else(|| Url::parse(&format!("http://{v}")).ok())?;
        Some(url.host_str()?.trim_end_matches('.').to_ascii_lowercase())
    })
    .collect()
}

/// The redirect policy of export downloads: at most `max` redirects, each to
/// a URL that passes the link checks.
pub(crate) fn redirect_policy(policy: LinkPolicy, max: usize) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        // `previous` holds the first URL too.
        if attempt.previous().len() > max {
            return attempt.error(Refusal::TooManyRedirects(max));
        }
        match policy.check_url(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(r) => attempt.error(r),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_are_classified() {
        let refused = [
            ("169.254.169.254", "metadata"),
            ("fd00:ec2::254", "metadata"),
            ("::ffff:169.254.169.254", "metadata"),
            ("64:ff9b::a9fe:a9fe", "metadata"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("::", "unspecified"),
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("fc00::1", "private"),
            ("fdff::1", "private"),
            ("169.254.0.1", "link-local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("100.64.0.1", "carrier-grade"),
            ("100.127.255.255", "carrier-grade"),
            ("255.255.255.255", "broadcast"),
            ("224.0.0.1", "multicast"),
            ("ff02::1", "multicast"),
        ];
        for (addr, kind) in refused {
            let got = forbidden(ip(addr), false);
            assert!(got.is_some_and(|k| k.contains(kind)), "{addr}: {got:?}");
        }
        let public = [
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "100.63.255.255",
            "169.253.0.1",
            "2600:1f18::1",
            "2001:4860:4860::8888",
        ];
        for addr in public {
            assert_eq!(forbidden(ip(addr), false), None, "{addr}");
        }
        // A local API allows loopback, nothing else.
        assert_eq!(forbidden(ip("127.0.0.1"), true), None);
        assert_eq!(forbidden(ip("::1"), true), None);
        for addr in ["169.254.169.254", "10.0.0.1", "fe80::1", "0.0.0.0"] {
            assert!(forbidden(ip(addr), true).is_some(), "{addr}");
        }
    }

    #[test]
    fn urls_are_checked_by_scheme_form_and_literal_address() {
        let remote = LinkPolicy::new(false, Vec::new());
        let local = LinkPolicy::new(true, Vec::new());
        let check = |p: &LinkPolicy, url: &str| p.check_url(&Url::parse(url).unwrap());
        assert_eq!(check(&remote, "https://bucket.example.com/x?sig=1"), Ok(()));
        assert_eq!(check(&remote, "https://93.184.216.34/x"), Ok(()));
        assert!(matches!(
            check(&remote, "http://bucket.example.com/x"),
            Err(Refusal::Scheme(_))
        ));
        assert!(matches!(
            check(&remote, "ftp://bucket.example.com/x"),
            Err(Refusal::Scheme(_))
        ));
        assert!(matches!(
            check(&remote, "https://u:p@bucket.example.com/x"),
            Err(Refusal::Form(_))
        ));
        for url in [
            "https://169.254.169.254/latest/meta-data/",
            "https://[fd00:ec2::254]/",
            "https://127.0.0.1:8443/x",
            "https://10.0.0.5/x",
            "https://[::ffff:a9fe:a9fe]/",
            // Numeric forms the URL parser reads as 169.254.169.254.
            "https://2852039166/",
            "https://0xa9.0xfe.0xa9.0xfe/",
        ] {
            assert!(
                matches!(check(&remote, url), Err(Refusal::Address { .. })),
                "{url}"
            );
        }
        assert_eq!(check(&local, "http://127.0.0.1:8080/export"), Ok(()));
        assert!(check(&local, "http://169.254.169.254/").is_err());
        assert!(check(&local, "ftp://127.0.0.1/").is_err());
    }

    #[tokio::test]
    async fn names_are_checked_by_what_they_resolve_to() {
        let policy = LinkPolicy::new(
            false,
            vec![
                ("Metadata.Test.".into(), ip("169.254.169.254")),
                ("mixed.test".into(), ip("93.184.216.34")),
                ("mixed.test".into(), ip("10.0.0.1")),
                ("public.test".into(), ip("93.184.216.34")),
            ],
        );
        for name in ["metadata.test", "METADATA.test.", "mixed.test"] {
            match policy.lookup(name).await {
                Err(ResolveError::Refused(Refusal::Address { host, .. })) => {
                    assert!(host.contains(".test ("), "{host}")
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        assert_eq!(
            policy.lookup("public.test").await.unwrap(),
            [ip("93.184.216.34")]
        );
        // The literal `localhost` resolves to loopback: refused unless local.
        assert!(policy.lookup("localhost").await.is_err());
        let local = LinkPolicy::new(true, Vec::new());
        assert!(local.lookup("localhost").await.is_ok());
    }

    #[test]
    fn proxies_are_read_like_reqwest_reads_them() {
        let env = |k: &str| match k {
            "HTTPS_PROXY" => Some("http://Proxy.Corp:3128".to_string()),
            "all_proxy" => Some("socks5h://10.0.0.9:1080".to_string()),
            "http_proxy" => Some("plain-host:8080".to_string()),
            _ => None,
        };
        let hosts = proxy_hosts(env);
        for h in ["proxy.corp", "10.0.0.9", "plain-host"] {
            assert!(hosts.contains(h), "{h}: {hosts:?}");
        }
    }

    #[test]
    fn refusals_are_found_in_error_chains() {
        #[derive(Debug)]
        struct Outer(Refusal);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("outer")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(Refusal::TooManyRedirects(3));
        assert_eq!(refusal_in(&e), Some(Refusal::TooManyRedirects(3)));
        assert_eq!(refusal_in(&Refusal::Form("x")), Some(Refusal::Form("x")));
    }
}
