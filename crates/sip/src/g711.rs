//! G.711 μ-law (PCMU) and A-law (PCMA) companding, as in ITU-T G.711.
//!
//! Written here rather than taken from a crate: it is a few dozen lines and the crates found were
//! unmaintained or pulled in far more than this.

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32635;

/// Encodes one 16-bit linear sample to μ-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    let mut pcm = i32::from(sample);
    let sign = if pcm < 0 {
        pcm = -pcm;
        0x80
    } else {
        0
    };
    pcm = pcm.min(ULAW_CLIP) + ULAW_BIAS;
    let exponent = exponent_of(pcm >> 7);
    let mantissa = (pcm >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// Decodes one μ-law byte to a 16-bit linear sample.
pub fn ulaw_decode(byte: u8) -> i16 {
    let b = !byte;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0f);
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if b & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encodes one 16-bit linear sample to A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    // A-law works on 13-bit magnitudes.
    let pcm = i32::from(sample) >> 3;
    let (sign, magnitude) = if pcm >= 0 {
        (0x80u8, pcm)
    } else {
        (0x00u8, -pcm - 1)
    };
    let magnitude = magnitude.min(0x0fff);
    let byte = if magnitude < 32 {
        (magnitude >> 1) as u8
    } else {
        let exponent = exponent_of(magnitude >> 5) + 1;
        let mantissa = (magnitude >> exponent) & 0x0f;
        ((exponent << 4) as u8) | mantissa as u8
    };
    (byte | sign) ^ 0x55
}

/// Decodes one A-law byte to a 16-bit linear sample.
pub fn alaw_decode(byte: u8) -> i16 {
    let b = byte ^ 0x55;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0f);
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    if b & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// Position of the highest set bit among the low 8 bits (0 for 0 or 1), i.e. the segment number.
fn exponent_of(value: i32) -> i32 {
    let mut exponent = 0;
    let mut v = value;
    while v > 1 && exponent < 7 {
        v >>= 1;
        exponent += 1;
    }
    exponent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_reference_values() {
        // Values from the G.711 tables: silence is 0xFF, full scale positive 0x80, negative 0x00.
        assert_eq!(ulaw_encode(0), 0xff, "zero encodes as 0xFF in μ-law");
        assert_eq!(ulaw_encode(32767), 0x80, "positive full scale is 0x80");
        assert_eq!(ulaw_encode(-32768), 0x00, "negative full scale is 0x00");
        assert_eq!(ulaw_decode(0xff), 0, "0xFF decodes to zero");
        assert_eq!(
            ulaw_decode(0x80),
            32124,
            "0x80 decodes to the top of the μ-law range"
        );
        assert_eq!(
            ulaw_decode(0x00),
            -32124,
            "0x00 decodes to the bottom of the μ-law range"
        );
    }

    #[test]
    fn alaw_reference_values() {
        assert_eq!(alaw_encode(0), 0xd5, "zero encodes as 0xD5 in A-law");
        assert_eq!(alaw_encode(32767), 0xaa, "positive full scale is 0xAA");
        assert_eq!(alaw_encode(-32768), 0x2a, "negative full scale is 0x2A");
        assert_eq!(
            alaw_decode(0xd5),
            8,
            "0xD5 decodes to the smallest positive step"
        );
        assert_eq!(
            alaw_decode(0xaa),
            32256,
            "0xAA decodes to the top of the A-law range"
        );
        assert_eq!(
            alaw_decode(0x2a),
            -32256,
            "0x2A decodes to the bottom of the A-law range"
        );
    }

    #[test]
    fn every_byte_round_trips_through_decode_then_encode() {
        for byte in 0..=255u8 {
            let u = ulaw_encode(ulaw_decode(byte));
            // 0x7F and 0xFF both mean zero in μ-law; zero re-encodes as 0xFF.
            if byte != 0x7f {
                assert_eq!(u, byte, "μ-law byte {byte:#04x} must survive decode/encode");
            }
            assert_eq!(
                alaw_encode(alaw_decode(byte)),
                byte,
                "A-law byte {byte:#04x} must survive decode/encode"
            );
        }
    }

    #[test]
    fn quantisation_error_stays_within_a_segment_step() {
        for sample in (-32768i32..=32767).step_by(7) {
            let s = sample as i16;
            let err_u = (i32::from(ulaw_decode(ulaw_encode(s))) - sample).abs();
            let err_a = (i32::from(alaw_decode(alaw_encode(s))) - sample).abs();
            // The largest segment step is 1024 (μ-law) / 1024 (A-law); half of it plus clipping margin.
            assert!(err_u <= 1024, "μ-law error {err_u} too large for {sample}");
            assert!(err_a <= 1024, "A-law error {err_a} too large for {sample}");
        }
    }
}
