//! Trust for SIP over TLS, and what to tell the agent when a TLS connection cannot be made.
//!
//! rsipstack's TLS client (rustls) verifies the server's certificate chain and name against the
//! trust anchors it is given, and it is given none by default ("no implicit trust anchors"). We
//! give it the operating system's CA certificates (`rustls-native-certs`: the OpenSSL bundle on
//! Linux, the keychain on macOS, the Windows store), plus the CA certificates of a PEM file when
//! the account names one (a PBX with a private CA). Verification is never turned off: there is no
//! "accept any certificate" option.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, RootCertStore};
use tracing::{debug, warn};

use crate::error::{Error, Result};

/// The trust for SIP over TLS: the system's CA certificates and those of `extra_ca_file`, as
/// the rustls client config our own TLS connections use (`stream.rs`) and as rsipstack's
/// settings (for a TLS connection the stack opens itself). A file that cannot be read or holds no
/// usable CA certificate is an error (the account's setting is wrong); system certificates that
/// do not load are logged and left out.
pub(crate) fn client_config(
    extra_ca_file: Option<&Path>,
) -> Result<(Arc<rustls::ClientConfig>, rsipstack::transport::TlsConfig)> {
    // One provider for the process (rsipstack's rustls uses the process default); an
    // application that installed one already keeps its own.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut anchors = Vec::new();
    let system = rustls_native_certs::load_native_certs();
    for error in &system.errors {
        warn!(%error, "a system CA certificate store could not be read");
    }
    let loaded = system.certs.len();
    anchors.extend(system.certs.into_iter().filter(is_trust_anchor));
    debug!(loaded, usable = anchors.len(), "system CA certificates");
    if let Some(path) = extra_ca_file {
        anchors.extend(extra_cas(path)?);
    }
    let mut roots = RootCertStore::empty();
    let mut pem = String::new();
    for cert in &anchors {
        pem.push_str(&to_pem(cert));
        // Each was checked as a trust anchor above.
        let _ = roots.add(cert.clone());
    }
    let ours = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok((
        Arc::new(ours),
        rsipstack::transport::TlsConfig {
            ca_certs: Some(pem.into_bytes()),
            ..Default::default()
        },
    ))
}

/// Reads a PEM file of CA certificates as [`crate::Config::tls_ca_file`] is read: how many CA
/// certificates it holds, or why it cannot be used (unreadable, not PEM, no certificate, not a
/// usable CA certificate), naming the file.
pub fn check_ca_file(path: &Path) -> Result<usize> {
    extra_cas(path).map(|certs| certs.len())
}

/// The CA certificates of a PEM file, each checked as a trust anchor.
fn extra_cas(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let invalid = |reason: String| Error::Tls {
        reason: format!("CA certificate file {}: {reason}", path.display()),
    };
    let bytes = std::fs::read(path).map_err(|e| invalid(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(invalid("no CERTIFICATE block in it".to_owned()));
    }
    for cert in &certs {
        RootCertStore::empty()
            .add(cert.clone())
            .map_err(|e| invalid(format!("not a usable CA certificate: {e}")))?;
    }
    Ok(certs)
}

/// rsipstack stops at the first trust anchor it cannot add: keep the system's usable ones only.
fn is_trust_anchor(cert: &CertificateDer<'static>) -> bool {
    RootCertStore::empty().add(cert.clone()).is_ok()
}

fn to_pem(cert: &CertificateDer<'_>) -> String {
    let base64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in base64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// Why a connection to `target` (`host:port`) could not be made, in words the agent's user can
/// act on: an untrusted, misnamed or expired certificate is named as such.
pub(crate) fn connect_failure(error: &rsipstack::Error, target: &str) -> String {
    let rsipstack::Error::IoError(io) = error else {
        return format!("cannot connect to {target}: {error}");
    };
    let Some(tls) = io
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return format!("cannot connect to {target}: {io}");
    };
    let why = match tls {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "its certificate is not signed by a trusted CA (for a private CA, set the CA \
             certificate file)"
                .to_owned()
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!("its certificate is not issued for {}", host_of(target)),
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "its certificate has expired".to_owned(),
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => "its certificate is not valid yet".to_owned(),
        rustls::Error::InvalidCertificate(other) => {
            format!("its certificate is refused: {other:?}")
        }
        other => format!("the TLS handshake failed: {other}"),
    };
    format!("TLS to {target}: {why}")
}

/// The kind of a failed connection: a TLS error is about the certificate (untrusted, misnamed,
/// expired, not valid yet, as [`connect_failure`] words them) or the handshake; anything else
/// (refused, unreachable, reset) means the registrar could not be reached.
pub(crate) fn failure_kind(error: &rsipstack::Error) -> crate::FailureKind {
    use crate::FailureKind as K;
    let tls = match error {
        rsipstack::Error::IoError(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    match tls {
        None => K::Unreachable,
        Some(rustls::Error::InvalidCertificate(e)) => match e {
            CertificateError::UnknownIssuer => K::CertificateUntrusted,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                K::CertificateName
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                K::CertificateExpired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                K::CertificateNotYetValid
            }
            _ => K::Certificate,
        },
        Some(_) => K::Certificate,
    }
}

fn host_of(target: &str) -> &str {
    match target.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => target,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io_error(tls: rustls::Error) -> rsipstack::Error {
        rsipstack::Error::IoError(std::io::Error::new(std::io::ErrorKind::InvalidData, tls))
    }

    #[test]
    fn certificate_failures_are_named() {
        let cases = [
            (
                CertificateError::UnknownIssuer,
                "TLS to pbx.example:5061: its certificate is not signed by a trusted CA",
                crate::FailureKind::CertificateUntrusted,
            ),
            (
                CertificateError::NotValidForName,
                "TLS to pbx.example:5061: its certificate is not issued for pbx.example",
                crate::FailureKind::CertificateName,
            ),
            (
                CertificateError::Expired,
                "TLS to pbx.example:5061: its certificate has expired",
                crate::FailureKind::CertificateExpired,
            ),
            (
                CertificateError::NotValidYet,
                "TLS to pbx.example:5061: its certificate is not valid yet",
                crate::FailureKind::CertificateNotYetValid,
            ),
            (
                CertificateError::BadSignature,
                "TLS to pbx.example:5061: its certificate is refused",
                crate::FailureKind::Certificate,
            ),
        ];
        for (error, expected, kind) in cases {
            let reason = connect_failure(
                &io_error(rustls::Error::InvalidCertificate(error.clone())),
                "pbx.example:5061",
            );
            assert!(
                reason.starts_with(expected),
                "{error:?} is told as {expected:?}: {reason}"
            );
            assert_eq!(
                failure_kind(&io_error(rustls::Error::InvalidCertificate(error.clone()))),
                kind,
                "{error:?} is that certificate failure"
            );
        }
    }

    #[test]
    fn other_failures_keep_the_stack_s_words() {
        let refused = rsipstack::Error::IoError(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        ));
        assert_eq!(
            connect_failure(&refused, "127.0.0.1:5061"),
            "cannot connect to 127.0.0.1:5061: connection refused",
            "a refused connection is not a certificate problem"
        );
        assert_eq!(
            failure_kind(&refused),
            crate::FailureKind::Unreachable,
            "refused means unreachable"
        );
        let handshake = connect_failure(
            &io_error(rustls::Error::General("boom".into())),
            "127.0.0.1:5061",
        );
        assert!(
            handshake.starts_with("TLS to 127.0.0.1:5061: the TLS handshake failed"),
            "{handshake}"
        );
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("missing.pem");
        let error = client_config(Some(&missing)).expect_err("a missing file");
        assert!(
            error.to_string().contains("missing.pem"),
            "the file is named: {error}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").expect("write");
        let error = client_config(Some(&empty)).expect_err("no CERTIFICATE block");
        assert!(
            error.to_string().contains("no CERTIFICATE block"),
            "why: {error}"
        );
    }

    #[test]
    fn the_system_and_the_extra_cas_go_to_the_stack_as_pem() {
        let ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        let mut ca = ca;
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = ca.self_signed(&key).expect("self-signed CA");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, cert.pem()).expect("write");
        assert_eq!(
            check_ca_file(&path).expect("a valid CA file"),
            1,
            "the file holds one CA certificate"
        );
        let (_, config) = client_config(Some(&path)).expect("a valid CA file");
        let pem = config.ca_certs.expect("trust anchors are always given");
        let parsed = CertificateDer::pem_slice_iter(&pem)
            .collect::<std::result::Result<Vec<_>, _>>()
            .expect("our PEM parses back");
        assert!(
            parsed.iter().any(|c| c.as_ref() == cert.der().as_ref()),
            "the extra CA is among the trust anchors"
        );
        assert!(
            parsed.len() > 1,
            "the system's CA certificates are there too (this machine has ca-certificates)"
        );
    }
}
