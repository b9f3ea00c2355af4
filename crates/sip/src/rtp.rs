//! The fixed 12-byte RTP header (RFC 3550 §5.1): parsing and writing, no I/O.

use crate::error::{Error, Result};

/// Length of the fixed RTP header without CSRCs or extensions.
pub const HEADER_LEN: usize = 12;

/// One RTP packet, borrowed from the datagram it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// Payload type (0 = PCMU, 8 = PCMA, 101 often telephone-event).
    pub payload_type: u8,
    /// Marker bit.
    pub marker: bool,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp (8 kHz units for G.711).
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// The payload, after CSRCs, the extension and padding are skipped.
    pub payload: &'a [u8],
}

impl<'a> RtpPacket<'a> {
    /// Parses a datagram; anything that is not RTP version 2 or is truncated is an error.
    pub fn parse(datagram: &'a [u8]) -> Result<Self> {
        let bad = |reason| Error::InvalidRtp {
            len: datagram.len(),
            reason,
        };
        if datagram.len() < HEADER_LEN {
            return Err(bad("shorter than the 12-byte header"));
        }
        if datagram[0] >> 6 != 2 {
            return Err(bad("not RTP version 2"));
        }
        let padding = datagram[0] & 0x20 != 0;
        let extension = datagram[0] & 0x10 != 0;
        let csrc_count = usize::from(datagram[0] & 0x0f);
        let mut start = HEADER_LEN + 4 * csrc_count;
        if extension {
            let ext = datagram
                .get(start..start + 4)
                .ok_or_else(|| bad("truncated header extension"))?;
            start += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        }
        let mut end = datagram.len();
        if padding {
            let pad = usize::from(datagram[end - 1]);
            if pad == 0 || pad > end {
                return Err(bad("invalid padding length"));
            }
            end -= pad;
        }
        if start > end {
            return Err(bad("header longer than the packet"));
        }
        Ok(Self {
            payload_type: datagram[1] & 0x7f,
            marker: datagram[1] & 0x80 != 0,
            sequence: u16::from_be_bytes([datagram[2], datagram[3]]),
            timestamp: u32::from_be_bytes([datagram[4], datagram[5], datagram[6], datagram[7]]),
            ssrc: u32::from_be_bytes([datagram[8], datagram[9], datagram[10], datagram[11]]),
            payload: &datagram[start..end],
        })
    }

    /// Writes the packet (12-byte header, no CSRCs) followed by its payload into `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.clear();
        out.push(0x80);
        out.push((u8::from(self.marker) << 7) | (self.payload_type & 0x7f));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(self.payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_packet_parses_back() {
        let payload = [1u8, 2, 3, 4];
        let packet = RtpPacket {
            payload_type: 8,
            marker: true,
            sequence: 0xfffe,
            timestamp: 0x1234_5678,
            ssrc: 0xdead_beef,
            payload: &payload,
        };
        let mut buf = Vec::new();
        packet.write(&mut buf);
        assert_eq!(
            buf.len(),
            HEADER_LEN + 4,
            "header is 12 bytes plus the payload"
        );
        assert_eq!(buf[0], 0x80, "version 2, no padding, no extension, no CSRC");
        assert_eq!(
            RtpPacket::parse(&buf).expect("own packet parses"),
            packet,
            "round trip keeps every field"
        );
    }

    #[test]
    fn csrcs_extension_and_padding_are_skipped() {
        let mut buf = vec![
            0x80 | 0x20 | 0x10 | 0x01,
            0x00,
            0,
            7,
            0,
            0,
            0,
            160,
            0,
            0,
            0,
            9,
        ];
        buf.extend_from_slice(&[0xaa; 4]); // one CSRC
        buf.extend_from_slice(&[0xbe, 0xde, 0x00, 0x01, 1, 2, 3, 4]); // extension, one word
        buf.extend_from_slice(&[0x55, 0x66]); // payload
        buf.extend_from_slice(&[0, 0, 3]); // three bytes of padding
        let packet = RtpPacket::parse(&buf).expect("valid packet with every optional part");
        assert_eq!(packet.payload, &[0x55, 0x66], "only the payload remains");
        assert_eq!(packet.sequence, 7, "sequence read big-endian");
        assert_eq!(packet.timestamp, 160, "timestamp read big-endian");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let cases: [&[u8]; 5] = [
            &[],
            &[0x80; 11],
            &[0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200],
        ];
        for case in cases {
            assert!(RtpPacket::parse(case).is_err(), "{case:?} must be rejected");
        }
    }
}
