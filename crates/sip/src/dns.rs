//! Where a request to a PBX named by domain goes (RFC 3263 §4.1–4.2, without NAPTR): the SRV
//! records of the transport (`_sip._udp`, `_sip._tcp`, `_sips._tcp`), ordered by priority and
//! weight, then their targets' A/AAAA records; a domain without SRV records is looked up by
//! A/AAAA on the transport's default port (5060, 5061 for TLS). An IP address or an explicit
//! port skips SRV, as the RFC says.
//!
//! The ordering is rsipstack's (`resolve_logic`); this module gives it a resolver that can be
//! pointed at a DNS server of the caller's choice, port included ([`Config::dns_server`]), which
//! the system configuration (`/etc/resolv.conf`) cannot say.
//!
//! [`Config::dns_server`]: crate::Config::dns_server

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolverConfig,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use rsipstack::resolver::sip_resolver::{resolve_logic, LookupSource, SrvRecord};
use rsipstack::sip::{Host, HostWithPort, Transport};
use rsipstack::transport::sip_addr::SipAddr;
use rsipstack::transport::transport_layer::DomainResolver;

/// How long one DNS query may take before it is tried again (twice in all): a PBX whose DNS
/// does not answer fails its registration with that reason within seconds, not minutes.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// The agent's resolver of SIP domains (clones share one resolver and its cache).
#[derive(Clone)]
pub struct Resolver {
    /// `None` when no resolver could be built from the system configuration: A/AAAA only,
    /// through the OS (`getaddrinfo`).
    dns: Option<Arc<TokioResolver>>,
}

impl Resolver {
    /// Queries `server` (UDP, then TCP for truncated answers), or the system's DNS servers
    /// (`/etc/resolv.conf`, with `/etc/hosts` first) when `None`.
    pub fn new(server: Option<SocketAddr>) -> Self {
        let builder = match server {
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let name_server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                Ok(TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![name_server]),
                    TokioRuntimeProvider::default(),
                ))
            }
            None => TokioResolver::builder_tokio(),
        };
        let dns = builder
            .and_then(|mut builder| {
                let options = builder.options_mut();
                options.ip_strategy = LookupIpStrategy::Ipv4thenIpv6;
                options.timeout = QUERY_TIMEOUT;
                options.attempts = 2;
                builder.build()
            })
            .map_err(|err| {
                tracing::warn!(%err, "no DNS resolver (SRV lookups off; A/AAAA through the OS)");
            })
            .ok()
            .map(Arc::new);
        Self { dns }
    }
}

/// Why a request to `domain` cannot be sent, for the agent: the name, and DNS's answer.
pub fn not_found(domain: &str, error: &rsipstack::Error) -> String {
    let detail = match error {
        rsipstack::Error::DnsResolutionError(why) => why.clone(),
        other => other.to_string(),
    };
    format!("{domain} not found in DNS ({detail})")
}

/// hickory as rsipstack's lookup source.
struct Hickory<'a>(&'a TokioResolver);

#[async_trait]
impl LookupSource for Hickory<'_> {
    async fn lookup_srv(&self, name: &str) -> Result<Vec<SrvRecord>, String> {
        let found = self.0.srv_lookup(name).await.map_err(|e| e.to_string())?;
        Ok(found
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::SRV(srv) => Some(SrvRecord {
                    target: srv.target.to_string().trim_end_matches('.').to_owned(),
                    port: srv.port,
                    priority: srv.priority,
                    weight: srv.weight,
                }),
                _ => None,
            })
            // RFC 2782: a target of "." means the service is not offered there.
            .filter(|srv| !srv.target.is_empty())
            .collect())
    }

    async fn lookup_a_aaaa(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        let found = self.0.lookup_ip(name).await.map_err(|e| e.to_string())?;
        Ok(found.iter().collect())
    }
}

/// The OS resolver: A/AAAA only.
struct System;

#[async_trait]
impl LookupSource for System {
    async fn lookup_srv(&self, name: &str) -> Result<Vec<SrvRecord>, String> {
        Err(format!("no DNS resolver for the SRV lookup of {name}"))
    }

    async fn lookup_a_aaaa(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        let found = tokio::net::lookup_host((name, 0))
            .await
            .map_err(|e| e.to_string())?;
        Ok(found.map(|addr| addr.ip()).collect())
    }
}

#[async_trait]
impl DomainResolver for Resolver {
    async fn resolve(&self, target: &SipAddr) -> rsipstack::Result<SipAddr> {
        let fail = |why: String| rsipstack::Error::DnsResolutionError(why);
        let Host::Domain(domain) = &target.addr.host else {
            return Err(fail(format!("{} is not a domain", target.addr)));
        };
        // RFC 5626: `.invalid` names a placeholder, never looked up.
        if domain.0 == "invalid" || domain.0.ends_with(".invalid") {
            return Err(fail(format!("{domain} is a placeholder")));
        }
        let secure = matches!(target.r#type, Some(Transport::Tls | Transport::Wss));
        let port = target.addr.port;
        let found = match &self.dns {
            Some(dns) => resolve_logic(&Hickory(dns), domain, port, target.r#type, secure).await,
            None => resolve_logic(&System, domain, port, target.r#type, secure).await,
        }
        .map_err(|why| fail(format!("{}: {why}", target.addr)))?;
        let first = found
            .first()
            .ok_or_else(|| fail(format!("{}: no address", target.addr)))?;
        tracing::debug!(domain = %domain, addr = %first.addr, transport = ?first.transport, "SIP domain resolved");
        Ok(SipAddr {
            r#type: Some(first.transport),
            addr: HostWithPort {
                host: Host::IpAddr(first.addr.ip()),
                port: Some(first.addr.port().into()),
            },
        })
    }
}
