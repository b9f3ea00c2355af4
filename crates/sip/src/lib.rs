//! Callpop's SIP user agent and its media.
//!
//! Contract: [`UserAgent`] owns one UDP socket and one TCP listener (same port) for SIP (rsipstack
//! underneath), the TCP and TLS connections it opens (it never listens for TLS: over TLS its
//! Contact names the connection it registered or called on, and the server's certificate is
//! always verified), and one UDP socket per call for RTP. It takes typed commands (call control,
//! hold, mute, DTMF (RFC 4733, or SIP INFO with a peer without telephone-event), blind transfer, MESSAGE) and reports typed [`Event`]s; it never
//! panics on network input: malformed SIP is dropped (over TCP and TLS the connection stays
//! up, [`stream`]), a request with a method the stack does not know gets 501 over UDP
//! ([`socket`]), TCP and TLS ([`stream`]), bad SDP is answered with an error
//! status, bad RTP is ignored. Display names are carried as data only. Media is G.711
//! (PCMU/PCMA) over symmetric RTP through a small jitter buffer, from an [`audio::AudioSource`]
//! to an [`audio::AudioSink`].
//!
//! The SDP, RTP, G.711, jitter-buffer and identity modules are sans-IO and unit-tested without a
//! network; the agent itself is tested against `sipp` in `tests/`.
#![deny(missing_docs)]

pub mod error;
pub mod g711;
pub mod identity;
pub mod info;
pub mod jitter;
pub mod rtp;
pub mod sdp;
pub mod socket;
pub mod stream;
mod tls;

pub use error::{Error, Result};
pub mod audio;
pub mod device;
pub mod dns;
pub mod media;
mod ua;

pub use tls::check_ca_file;
pub use ua::{
    BusyPolicy, CloseReason, Config, Decline, Event, FailureKind, Password, Transport, UserAgent,
};
