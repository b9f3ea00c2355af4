//! The crate's one error type.

use std::net::SocketAddr;

/// Everything that can go wrong in the user agent, its SDP and its media.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A SIP URI could not be parsed.
    #[error("invalid SIP URI {uri:?}: {reason}")]
    InvalidUri {
        /// The text that was given.
        uri: String,
        /// What the parser said.
        reason: String,
    },
    /// An SDP body could not be parsed.
    #[error("invalid SDP: {reason}")]
    InvalidSdp {
        /// What was wrong with it.
        reason: String,
    },
    /// The offer had no audio stream with a codec we support (the INVITE gets a 488).
    #[error("no common codec (offered payload types: {offered:?})")]
    NoCommonCodec {
        /// The payload types the peer offered.
        offered: Vec<u8>,
    },
    /// An RTP packet was too short or not version 2.
    #[error("invalid RTP packet ({len} bytes): {reason}")]
    InvalidRtp {
        /// The datagram's length.
        len: usize,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// A socket could not be bound or used.
    #[error("socket error on {addr}: {source}")]
    Socket {
        /// The local address involved.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A WAV file could not be opened, read or written.
    #[error("WAV file {path}: {reason}")]
    Wav {
        /// The file's path.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A WAV file is not 8 kHz, 16-bit, mono.
    #[error("WAV file {path} must be 8000 Hz 16-bit mono, found {sample_rate} Hz {bits}-bit {channels} channel(s)")]
    WavFormat {
        /// The file's path.
        path: String,
        /// Its sample rate.
        sample_rate: u32,
        /// Its bits per sample.
        bits: u16,
        /// Its channel count.
        channels: u16,
    },
    /// The SIP stack reported an error.
    #[error("SIP stack error while {context}: {message}")]
    Stack {
        /// What we were doing.
        context: &'static str,
        /// The stack's message.
        message: String,
    },
    /// A command named a call the agent does not know (or no longer has).
    #[error("no such call: {call_id}")]
    UnknownCall {
        /// The Call-ID that was given.
        call_id: String,
    },
    /// A command is not valid in the call's current state (e.g. answering an established call).
    #[error("call {call_id} cannot {action} while {state}")]
    InvalidState {
        /// The call.
        call_id: String,
        /// The command.
        action: &'static str,
        /// The call's state.
        state: &'static str,
    },
    /// DTMF digits were empty or held a character other than `0-9 * # A-D`.
    #[error("invalid DTMF digits {digits:?}: {reason}")]
    InvalidDtmf {
        /// The digits that were given.
        digits: String,
        /// What was wrong with them.
        reason: String,
    },
    /// A request we sent was refused or got no final response.
    #[error("{method} was refused: {status}")]
    Refused {
        /// The request's method.
        method: &'static str,
        /// The status line, or "timeout".
        status: String,
    },
    /// A CA certificate file for TLS cannot be used (unreadable, not PEM, no CA certificate).
    #[error("{reason}")]
    Tls {
        /// What was wrong, naming the file.
        reason: String,
    },
    /// A TCP or TLS connection could not be made: refused, or the server's certificate was not
    /// trusted, not issued for its name or expired (the reason says which).
    #[error("{reason}")]
    Connection {
        /// What happened, naming the address.
        reason: String,
    },
    /// The user agent has stopped (its task ended); no more commands are accepted.
    #[error("the user agent has stopped")]
    Stopped,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
