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

/// Length of an RFC 4733 telephone-event payload.
pub const TELEPHONE_EVENT_LEN: usize = 4;

/// One RFC 4733 telephone-event payload (§2.3): which event, the end bit, volume and duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code: 0-9 digits, 10 `*`, 11 `#`, 12-15 `A`-`D`, 16 flash.
    pub event: u8,
    /// The end bit: the event is over (the last packet is sent three times).
    pub end: bool,
    /// Volume in -dBm0, 0..=63.
    pub volume: u8,
    /// Duration so far, in timestamp units (8 kHz samples).
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses a payload; anything shorter than 4 bytes is an error (extra bytes are ignored).
    pub fn parse(payload: &[u8]) -> Result<Self> {
        let [event, flags, hi, lo, ..] = *payload else {
            return Err(Error::InvalidRtp {
                len: payload.len(),
                reason: "telephone-event payload shorter than 4 bytes",
            });
        };
        Ok(Self {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3f,
            duration: u16::from_be_bytes([hi, lo]),
        })
    }

    /// The 4-byte payload.
    pub fn to_bytes(self) -> [u8; TELEPHONE_EVENT_LEN] {
        let [hi, lo] = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3f),
            hi,
            lo,
        ]
    }
}

/// The telephone-event code of a DTMF digit (`0-9 * # A-D`, letters in either case).
pub fn dtmf_event(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        d @ '0'..='9' => Some(d as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        d @ 'A'..='D' => Some(d as u8 - b'A' + 12),
        _ => None,
    }
}

/// The DTMF digit of a telephone-event code (0-15), if it is one.
pub fn dtmf_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// Turns a stream of telephone-event packets into one digit per event.
///
/// All packets of one event carry the same RTP timestamp (RFC 4733 §2.5.1.2), so an event is
/// reported when the first packet with a new timestamp arrives; its updates and the repeated end
/// packets are then ignored. A lost first packet does not lose the digit: any later packet of
/// the event reports it.
#[derive(Debug, Default, Clone)]
pub struct DtmfDetector {
    last_timestamp: Option<u32>,
}

impl DtmfDetector {
    /// Feeds one packet's timestamp and payload; returns the digit when a new event starts.
    pub fn push(&mut self, timestamp: u32, event: &TelephoneEvent) -> Option<char> {
        if self.last_timestamp == Some(timestamp) {
            return None;
        }
        self.last_timestamp = Some(timestamp);
        dtmf_digit(event.event)
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

    #[test]
    fn telephone_event_round_trip_and_sipp_bytes() {
        // The last packet of sipp's dtmf_2833_1.pcap: digit 1, end bit, volume 10, 2240 samples.
        let event = TelephoneEvent::parse(&[0x01, 0x8a, 0x08, 0xc0]).expect("4 bytes parse");
        assert_eq!(
            event,
            TelephoneEvent {
                event: 1,
                end: true,
                volume: 10,
                duration: 2240
            },
            "every field is read from sipp's packet"
        );
        assert_eq!(
            event.to_bytes(),
            [0x01, 0x8a, 0x08, 0xc0],
            "writing gives the same bytes back"
        );
        assert!(
            TelephoneEvent::parse(&[1, 2, 3]).is_err(),
            "three bytes are too short"
        );
    }

    #[test]
    fn every_dtmf_digit_maps_both_ways() {
        for (code, digit) in "0123456789*#ABCD".chars().enumerate() {
            assert_eq!(
                dtmf_event(digit),
                Some(code as u8),
                "{digit} has code {code}"
            );
            assert_eq!(
                dtmf_digit(code as u8),
                Some(digit),
                "code {code} is {digit}"
            );
        }
        assert_eq!(
            dtmf_event('b'),
            Some(13),
            "letters are accepted in lower case"
        );
        assert_eq!(dtmf_event('E'), None, "E is not a DTMF digit");
        assert_eq!(
            dtmf_event('5'.to_ascii_lowercase()),
            Some(5),
            "digits are digits"
        );
        assert_eq!(dtmf_digit(16), None, "flash is not a digit");
    }

    #[test]
    fn detector_reports_each_event_once() {
        let mut detector = DtmfDetector::default();
        let packet = |event, end, duration| TelephoneEvent {
            event,
            end,
            volume: 10,
            duration,
        };
        let mut digits = Vec::new();
        // Digit 1: three updates and the end packet three times, all at timestamp 1000.
        for (end, duration) in [
            (false, 160),
            (false, 320),
            (false, 480),
            (true, 640),
            (true, 640),
            (true, 640),
        ] {
            digits.extend(detector.push(1000, &packet(1, end, duration)));
        }
        // Digit 1 again, a new event (new timestamp) whose first packets were lost.
        digits.extend(detector.push(3000, &packet(1, true, 640)));
        digits.extend(detector.push(3000, &packet(1, true, 640)));
        // Then #.
        digits.extend(detector.push(5000, &packet(11, false, 160)));
        assert_eq!(
            digits,
            vec!['1', '1', '#'],
            "one digit per event, repeats ignored"
        );
    }
}
