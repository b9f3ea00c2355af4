//! A small fixed-delay jitter buffer for 20 ms G.711 frames; sans-IO: packets in, one frame out
//! per playout tick, the caller owns the clock.

use std::collections::BTreeMap;

/// Packets further than this ahead of the playout point reset the buffer (the peer restarted
/// its sequence numbers or jumped).
const MAX_AHEAD: i32 = 200;

/// Reorders packets by sequence number and releases one frame per tick after a prefetch delay.
#[derive(Debug)]
pub struct JitterBuffer {
    depth: usize,
    capacity: usize,
    /// Next sequence number to play, once playout has started.
    next: Option<u16>,
    playing: bool,
    /// Frames keyed by their offset from `next` (as i32 so ordering survives the u16 wrap).
    frames: BTreeMap<u16, Vec<u8>>,
}

/// What one playout tick yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// Still filling up (at start or after an underrun): play silence.
    Buffering,
    /// The expected frame.
    Frame(Vec<u8>),
    /// The expected frame is missing: conceal (play silence or repeat).
    Lost,
}

impl JitterBuffer {
    /// A buffer that waits for `depth` frames before playing and holds at most `capacity`.
    pub fn new(depth: usize, capacity: usize) -> Self {
        Self {
            depth: depth.max(1),
            capacity: capacity.max(depth.max(1) + 1),
            next: None,
            playing: false,
            frames: BTreeMap::new(),
        }
    }

    /// Number of frames held.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether no frame is held.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Adds a received frame. Late (already played) and duplicate frames are dropped.
    pub fn push(&mut self, sequence: u16, payload: &[u8]) {
        match self.next {
            None => self.next = Some(sequence),
            Some(next) => {
                let offset = i32::from(sequence.wrapping_sub(next) as i16);
                if offset < 0 {
                    if self.playing {
                        return; // too late: its slot has been played
                    }
                    self.next = Some(sequence); // earlier than the first one seen: start there
                } else if offset > MAX_AHEAD {
                    self.frames.clear();
                    self.playing = false;
                    self.next = Some(sequence);
                }
            }
        }
        if self.frames.len() >= self.capacity {
            // Overflow: skip ahead by dropping the oldest frame.
            self.advance_past_oldest();
        }
        self.frames
            .entry(sequence)
            .or_insert_with(|| payload.to_vec());
    }

    /// Called once per frame interval: yields the frame to play now.
    pub fn pop(&mut self) -> Playout {
        let Some(next) = self.next else {
            return Playout::Buffering;
        };
        if !self.playing {
            if self.frames.len() < self.depth {
                return Playout::Buffering;
            }
            self.playing = true;
        }
        if self.frames.is_empty() {
            // Underrun: refill to the prefetch depth before playing again.
            self.playing = false;
            return Playout::Buffering;
        }
        self.next = Some(next.wrapping_add(1));
        match self.frames.remove(&next) {
            Some(frame) => Playout::Frame(frame),
            None => Playout::Lost,
        }
    }

    fn advance_past_oldest(&mut self) {
        let Some(next) = self.next else { return };
        let oldest = self
            .frames
            .keys()
            .copied()
            .min_by_key(|seq| seq.wrapping_sub(next));
        if let Some(oldest) = oldest {
            self.frames.remove(&oldest);
            self.next = Some(oldest.wrapping_add(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u8) -> Vec<u8> {
        vec![n; 4]
    }

    #[test]
    fn reorders_within_the_prefetch_window() {
        let mut jb = JitterBuffer::new(3, 50);
        jb.push(11, &frame(11));
        assert_eq!(
            jb.pop(),
            Playout::Buffering,
            "one frame is below the depth of three"
        );
        jb.push(10, &frame(10));
        jb.push(12, &frame(12));
        assert_eq!(
            jb.pop(),
            Playout::Frame(frame(10)),
            "the earliest sequence plays first"
        );
        assert_eq!(
            jb.pop(),
            Playout::Frame(frame(11)),
            "then the next in order"
        );
        assert_eq!(jb.pop(), Playout::Frame(frame(12)), "then the last");
    }

    #[test]
    fn a_gap_is_reported_lost_and_late_frames_are_dropped() {
        let mut jb = JitterBuffer::new(2, 50);
        jb.push(1, &frame(1));
        jb.push(3, &frame(3));
        assert_eq!(jb.pop(), Playout::Frame(frame(1)), "first frame plays");
        assert_eq!(jb.pop(), Playout::Lost, "sequence 2 never came");
        jb.push(2, &frame(2));
        assert_eq!(jb.len(), 1, "frame 2 arrived after its slot and is dropped");
        assert_eq!(
            jb.pop(),
            Playout::Frame(frame(3)),
            "playout continues with 3"
        );
    }

    #[test]
    fn sequence_wrap_keeps_order() {
        let mut jb = JitterBuffer::new(2, 50);
        jb.push(65535, &frame(1));
        jb.push(0, &frame(2));
        assert_eq!(
            jb.pop(),
            Playout::Frame(frame(1)),
            "65535 precedes 0 across the wrap"
        );
        assert_eq!(jb.pop(), Playout::Frame(frame(2)), "0 follows 65535");
    }

    #[test]
    fn underrun_rebuffers_and_overflow_is_bounded() {
        let mut jb = JitterBuffer::new(1, 4);
        jb.push(5, &frame(5));
        assert_eq!(
            jb.pop(),
            Playout::Frame(frame(5)),
            "depth one plays at once"
        );
        assert_eq!(
            jb.pop(),
            Playout::Buffering,
            "empty buffer rebuffers instead of counting losses"
        );
        for seq in 6..20u16 {
            jb.push(seq, &frame(seq as u8));
        }
        assert!(jb.len() <= 4, "capacity bounds memory, held {}", jb.len());
        assert_eq!(
            jb.pop(),
            Playout::Frame(frame(16)),
            "overflow skipped to the newest frames"
        );
    }

    #[test]
    fn a_sequence_jump_resets_the_buffer() {
        let mut jb = JitterBuffer::new(1, 50);
        jb.push(100, &frame(1));
        jb.push(30000, &frame(2));
        assert_eq!(
            jb.pop(),
            Playout::Frame(frame(2)),
            "a far jump restarts playout at the new sequence"
        );
    }
}
