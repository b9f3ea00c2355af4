//! One call's RTP stream on tokio: a 20 ms tick sends a frame from the source and plays one from
//! the jitter buffer into the sink. RTP is symmetric: once a valid packet arrives, we send to the
//! address it came from (NAT friendly), otherwise to the address in the peer's SDP.
//!
//! While the stream runs it can be muted (the source is still read, but silence is encoded: RTP
//! keeps flowing so NATs and the peer's inactivity timers stay happy), stopped from sending (hold)
//! and given DTMF digits, sent as RFC 4733 telephone-events in place of audio. Telephone-events
//! received are reported once per event.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, trace, warn};

use crate::audio::{AudioSink, AudioSource, FRAME_SAMPLES};
use crate::jitter::{JitterBuffer, Playout};
use crate::rtp::{DtmfDetector, RtpPacket, TelephoneEvent};
use crate::sdp::Codec;

/// Frames held before playout starts (60 ms).
const JITTER_DEPTH: usize = 3;
/// Frames held at most (1 s).
const JITTER_CAPACITY: usize = 50;
/// Ticks (20 ms) a sent DTMF tone lasts before its end packets: 100 ms.
pub const DTMF_TONE_TICKS: u16 = 5;
/// How many times the end packet of an event is sent (RFC 4733 §2.5.1.4).
pub const DTMF_END_REPEATS: u16 = 3;
/// Ticks of audio between two sent digits: 60 ms.
pub const DTMF_GAP_TICKS: u16 = 3;
/// Volume of the events we send, in -dBm0.
const DTMF_VOLUME: u8 = 10;

/// Counters of a finished stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// RTP packets sent (audio and telephone-events).
    pub sent: u64,
    /// RTP packets received with our codec's payload type.
    pub received: u64,
    /// Telephone-event packets received.
    pub events_received: u64,
    /// Datagrams dropped as not RTP or of another payload type.
    pub ignored: u64,
}

/// What a stream reports as it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// An audio device failed; the stream goes on with silence or without output.
    DeviceError(String),
    /// A DTMF digit arrived as a telephone-event (once per event).
    Dtmf(char),
}

/// Where a stream sends its [`MediaEvent`]s.
pub type MediaEventSender = tokio::sync::mpsc::UnboundedSender<MediaEvent>;

/// How a stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaOptions {
    /// The negotiated audio codec.
    pub codec: Codec,
    /// The negotiated telephone-event payload type, if the peer takes RFC 4733 events.
    pub telephone_event: Option<u8>,
    /// Whether to send at all (false while on hold).
    pub sending: bool,
    /// Whether the microphone is muted (silence is sent).
    pub muted: bool,
}

/// State the agent changes while the stream runs.
#[derive(Debug, Default)]
struct Controls {
    muted: AtomicBool,
    sending: AtomicBool,
    remote: Mutex<Option<SocketAddr>>,
    digits: Mutex<VecDeque<u8>>,
}

/// A running RTP stream; stop it with [`MediaStream::stop`].
#[derive(Debug)]
pub struct MediaStream {
    cancel: CancellationToken,
    controls: Arc<Controls>,
    task: JoinHandle<MediaStats>,
}

impl MediaStream {
    /// Starts sending to `remote` and receiving on `socket` as `options` say.
    pub fn start(
        socket: Arc<UdpSocket>,
        remote: SocketAddr,
        options: MediaOptions,
        source: Box<dyn AudioSource>,
        sink: Box<dyn AudioSink>,
        events: MediaEventSender,
    ) -> Self {
        let cancel = CancellationToken::new();
        let controls = Arc::new(Controls {
            muted: AtomicBool::new(options.muted),
            sending: AtomicBool::new(options.sending),
            ..Controls::default()
        });
        let task = tokio::spawn(run(
            socket,
            remote,
            options,
            source,
            sink,
            events,
            controls.clone(),
            cancel.clone(),
        ));
        Self {
            cancel,
            controls,
            task,
        }
    }

    /// Mutes or unmutes: while muted the source is still read but silence is sent.
    pub fn set_muted(&self, muted: bool) {
        self.controls.muted.store(muted, Ordering::Relaxed);
    }

    /// Starts or stops sending (hold); receiving goes on.
    pub fn set_sending(&self, sending: bool) {
        self.controls.sending.store(sending, Ordering::Relaxed);
    }

    /// Sends to a new address from now on (the peer's SDP changed).
    pub fn set_remote(&self, remote: SocketAddr) {
        *self.controls.remote.lock().expect("remote lock") = Some(remote);
    }

    /// Queues telephone-event codes (see [`crate::rtp::dtmf_event`]) to send after any queued.
    pub fn queue_events(&self, events: &[u8]) {
        self.controls
            .digits
            .lock()
            .expect("digits lock")
            .extend(events.iter().copied());
    }

    /// Stops the stream, flushes the sink and returns its counters.
    pub async fn stop(self) -> MediaStats {
        self.cancel.cancel();
        self.task.await.unwrap_or_default()
    }
}

/// What the sender puts on the wire at one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outgoing {
    /// A frame of audio.
    Audio,
    /// A telephone-event packet with this RTP timestamp and marker bit.
    Event {
        /// The payload.
        event: TelephoneEvent,
        /// The event's start timestamp (the same in all its packets).
        timestamp: u32,
        /// Set on the first packet of the event.
        marker: bool,
    },
}

/// Schedules queued DTMF events over 20 ms ticks (sans-IO): each event is sent for
/// [`DTMF_TONE_TICKS`] packets with a growing duration, then its end packet
/// [`DTMF_END_REPEATS`] times, then [`DTMF_GAP_TICKS`] of audio before the next one.
#[derive(Debug, Default, Clone)]
pub struct DtmfScheduler {
    /// (event code, start timestamp, ticks sent so far)
    current: Option<(u8, u32, u16)>,
    gap: u16,
}

impl DtmfScheduler {
    /// What to send at the tick whose audio timestamp is `timestamp`; `next_event` is asked for a
    /// queued event code when a new one may start.
    pub fn tick(&mut self, timestamp: u32, next_event: impl FnOnce() -> Option<u8>) -> Outgoing {
        if self.current.is_none() {
            if self.gap > 0 {
                self.gap -= 1;
                return Outgoing::Audio;
            }
            match next_event() {
                Some(code) => self.current = Some((code, timestamp, 0)),
                None => return Outgoing::Audio,
            }
        }
        let Some((code, start, sent)) = self.current.as_mut() else {
            return Outgoing::Audio;
        };
        let tick = *sent;
        *sent += 1;
        let end = tick >= DTMF_TONE_TICKS;
        let duration = FRAME_SAMPLES as u16 * (tick + 1).min(DTMF_TONE_TICKS);
        let out = Outgoing::Event {
            event: TelephoneEvent {
                event: *code,
                end,
                volume: DTMF_VOLUME,
                duration,
            },
            timestamp: *start,
            marker: tick == 0,
        };
        if tick + 1 >= DTMF_TONE_TICKS + DTMF_END_REPEATS {
            self.current = None;
            self.gap = DTMF_GAP_TICKS;
        }
        out
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    socket: Arc<UdpSocket>,
    mut remote: SocketAddr,
    options: MediaOptions,
    mut source: Box<dyn AudioSource>,
    mut sink: Box<dyn AudioSink>,
    events: MediaEventSender,
    controls: Arc<Controls>,
    cancel: CancellationToken,
) -> MediaStats {
    let codec = options.codec;
    let mut stats = MediaStats::default();
    let mut jitter = JitterBuffer::new(JITTER_DEPTH, JITTER_CAPACITY);
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let ssrc: u32 = rand::random();
    let mut sequence: u16 = rand::random();
    let mut timestamp: u32 = rand::random();
    let mut latched = false;
    let mut frame = vec![0i16; FRAME_SAMPLES];
    let mut payload = Vec::with_capacity(FRAME_SAMPLES);
    let mut datagram = Vec::with_capacity(FRAME_SAMPLES + 12);
    let mut decoded = Vec::with_capacity(FRAME_SAMPLES);
    let mut buf = vec![0u8; 2048];
    let silence = vec![0i16; FRAME_SAMPLES];
    let mut source_failed = false;
    let mut sink_failed = false;
    let mut dtmf = DtmfScheduler::default();
    let mut detector = DtmfDetector::default();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticker.tick() => {
                if let Some(new) = controls.remote.lock().expect("remote lock").take() {
                    remote = new;
                    latched = false;
                }
                if let Err(e) = source.read_frame(&mut frame) {
                    if !source_failed {
                        events.send(MediaEvent::DeviceError(e.to_string())).ok();
                        source_failed = true;
                    }
                    frame.fill(0);
                }
                if controls.sending.load(Ordering::Relaxed) {
                    let outgoing = match options.telephone_event {
                        Some(_) => dtmf.tick(timestamp, || {
                            controls.digits.lock().expect("digits lock").pop_front()
                        }),
                        None => Outgoing::Audio,
                    };
                    let packet = match outgoing {
                        Outgoing::Audio => {
                            if controls.muted.load(Ordering::Relaxed) {
                                frame.fill(0);
                            }
                            codec.encode(&frame, &mut payload);
                            RtpPacket {
                                payload_type: codec.payload_type(),
                                marker: stats.sent == 0,
                                sequence,
                                timestamp,
                                ssrc,
                                payload: &payload,
                            }
                        }
                        Outgoing::Event { event, timestamp, marker } => {
                            payload.clear();
                            payload.extend_from_slice(&event.to_bytes());
                            RtpPacket {
                                payload_type: options.telephone_event.unwrap_or_default(),
                                marker,
                                sequence,
                                timestamp,
                                ssrc,
                                payload: &payload,
                            }
                        }
                    };
                    packet.write(&mut datagram);
                    match socket.send_to(&datagram, remote).await {
                        Ok(_) => stats.sent += 1,
                        Err(e) => trace!(%remote, error = %e, "RTP send failed"),
                    }
                    sequence = sequence.wrapping_add(1);
                }
                timestamp = timestamp.wrapping_add(FRAME_SAMPLES as u32);
                let played = match jitter.pop() {
                    Playout::Frame(bytes) => {
                        codec.decode(&bytes, &mut decoded);
                        decoded.resize(FRAME_SAMPLES, 0);
                        &decoded
                    }
                    Playout::Buffering | Playout::Lost => &silence,
                };
                if let Err(e) = sink.write_frame(played) {
                    if !sink_failed {
                        events.send(MediaEvent::DeviceError(e.to_string())).ok();
                        sink_failed = true;
                    }
                }
            }
            received = socket.recv_from(&mut buf) => {
                let Ok((len, from)) = received else { continue };
                match RtpPacket::parse(&buf[..len]) {
                    Ok(packet) if packet.payload_type == codec.payload_type() => {
                        stats.received += 1;
                        jitter.push(packet.sequence, packet.payload);
                    }
                    Ok(packet) if Some(packet.payload_type) == options.telephone_event => {
                        stats.events_received += 1;
                        if let Ok(event) = TelephoneEvent::parse(packet.payload) {
                            if let Some(digit) = detector.push(packet.timestamp, &event) {
                                events.send(MediaEvent::Dtmf(digit)).ok();
                            }
                        }
                    }
                    Ok(_) | Err(_) => {
                        stats.ignored += 1;
                        continue;
                    }
                }
                if !latched {
                    if from != remote {
                        debug!(%from, sdp = %remote, "symmetric RTP: sending to the packets' source");
                    }
                    remote = from;
                    latched = true;
                }
            }
        }
    }
    if let Err(e) = sink.finish() {
        warn!(error = %e, "closing the audio sink failed");
        events.send(MediaEvent::DeviceError(e.to_string())).ok();
    }
    debug!(?stats, "RTP stream stopped");
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{NullDevice, ToneSource};

    /// A sink that keeps what it is given, shared with the test.
    struct Capture(Arc<Mutex<Vec<i16>>>);

    impl AudioSink for Capture {
        fn write_frame(&mut self, frame: &[i16]) -> crate::Result<()> {
            self.0.lock().unwrap().extend_from_slice(frame);
            Ok(())
        }
    }

    fn options() -> MediaOptions {
        MediaOptions {
            codec: Codec::Pcmu,
            telephone_event: Some(101),
            sending: true,
            muted: false,
        }
    }

    #[tokio::test]
    async fn two_streams_exchange_audio_and_latch_onto_the_source() {
        let a = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let b = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let (errors, _rx) = tokio::sync::mpsc::unbounded_channel();
        let captured = Arc::new(Mutex::new(Vec::new()));
        // B is told a wrong address for A; symmetric RTP must still bring B's audio back to A.
        let wrong: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let stream_a = MediaStream::start(
            a.clone(),
            b.local_addr().unwrap(),
            options(),
            Box::new(ToneSource::new(440.0, 8000)),
            Box::new(Capture(captured.clone())),
            errors.clone(),
        );
        let stream_b = MediaStream::start(
            b.clone(),
            wrong,
            options(),
            Box::new(ToneSource::new(1000.0, 8000)),
            Box::new(NullDevice),
            errors,
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while captured
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.unsigned_abs() > 1000)
            .count()
            < 800
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "A never played B's tone"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let stats_a = stream_a.stop().await;
        let stats_b = stream_b.stop().await;
        assert!(stats_a.received > 0, "A received B's packets: {stats_a:?}");
        assert!(stats_b.received > 0, "B received A's packets: {stats_b:?}");
    }

    #[test]
    fn scheduler_sends_growing_durations_then_three_end_packets_then_a_gap() {
        let mut scheduler = DtmfScheduler::default();
        let mut queue: VecDeque<u8> = VecDeque::from([1, 11]);
        let mut out = Vec::new();
        let mut timestamp = 1000u32;
        for _ in 0..30 {
            out.push(scheduler.tick(timestamp, || queue.pop_front()));
            timestamp += FRAME_SAMPLES as u32;
        }
        let events: Vec<(u8, bool, u16, u32, bool)> = out
            .iter()
            .filter_map(|o| match o {
                Outgoing::Event {
                    event,
                    timestamp,
                    marker,
                } => Some((event.event, event.end, event.duration, *timestamp, *marker)),
                Outgoing::Audio => None,
            })
            .collect();
        let per_event = usize::from(DTMF_TONE_TICKS + DTMF_END_REPEATS);
        assert_eq!(
            events.len(),
            2 * per_event,
            "two digits, 8 packets each: {events:?}"
        );
        let first = &events[..per_event];
        assert!(
            first.iter().all(|e| e.0 == 1 && e.3 == 1000),
            "digit 1, one timestamp: {first:?}"
        );
        assert_eq!(
            first.iter().map(|e| e.2).collect::<Vec<_>>(),
            vec![160, 320, 480, 640, 800, 800, 800, 800],
            "duration grows by 160 a packet and stays at its total in the end packets"
        );
        assert_eq!(
            first.iter().map(|e| e.1).collect::<Vec<_>>(),
            vec![false, false, false, false, false, true, true, true],
            "the end bit is on the last three packets"
        );
        assert_eq!(
            first.iter().map(|e| e.4).collect::<Vec<_>>(),
            vec![true, false, false, false, false, false, false, false],
            "the marker is on the first packet only"
        );
        let gap = out[per_event..]
            .iter()
            .take_while(|o| **o == Outgoing::Audio)
            .count();
        assert_eq!(
            gap,
            usize::from(DTMF_GAP_TICKS),
            "audio between the two digits"
        );
        let second_start = 1000 + (per_event + gap) as u32 * FRAME_SAMPLES as u32;
        assert!(
            events[per_event..]
                .iter()
                .all(|e| e.0 == 11 && e.3 == second_start),
            "# starts at its own tick's timestamp {second_start}: {:?}",
            &events[per_event..]
        );
        assert_eq!(
            out.last(),
            Some(&Outgoing::Audio),
            "audio again once the queue is empty"
        );
    }

    /// Receives from `socket` for `window`, returning (audio packets, their mean |sample|, events).
    async fn listen(
        socket: &UdpSocket,
        window: Duration,
    ) -> (usize, f64, Vec<(u32, TelephoneEvent)>) {
        let mut buf = vec![0u8; 2048];
        let (mut audio, mut level, mut events) = (0usize, 0f64, Vec::new());
        let mut samples = Vec::new();
        let deadline = tokio::time::Instant::now() + window;
        while let Ok(Ok((len, _))) =
            tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await
        {
            let packet = RtpPacket::parse(&buf[..len]).expect("the stream sends valid RTP");
            if packet.payload_type == 0 {
                audio += 1;
                Codec::Pcmu.decode(packet.payload, &mut samples);
                level += samples
                    .iter()
                    .map(|s| f64::from(s.unsigned_abs()))
                    .sum::<f64>()
                    / samples.len().max(1) as f64;
            } else if packet.payload_type == 101 {
                events.push((
                    packet.timestamp,
                    TelephoneEvent::parse(packet.payload).unwrap(),
                ));
            }
        }
        (audio, level / audio.max(1) as f64, events)
    }

    #[tokio::test]
    async fn mute_sends_silence_hold_stops_sending_and_digits_go_out_as_events() {
        let ours = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (events, _rx) = tokio::sync::mpsc::unbounded_channel();
        let stream = MediaStream::start(
            ours,
            peer.local_addr().unwrap(),
            options(),
            Box::new(ToneSource::new(440.0, 8000)),
            Box::new(NullDevice),
            events,
        );
        let window = Duration::from_millis(400);
        let (loud_packets, loud, _) = listen(&peer, window).await;
        assert!(
            loud_packets > 5 && loud > 2000.0,
            "the tone is sent: {loud_packets} packets, level {loud}"
        );
        stream.set_muted(true);
        listen(&peer, Duration::from_millis(60)).await; // packets already in flight
        let (muted_packets, quiet, _) = listen(&peer, window).await;
        assert!(
            muted_packets > 5,
            "RTP keeps flowing while muted: {muted_packets} packets"
        );
        assert!(quiet < 10.0, "muted packets carry silence, level {quiet}");
        stream.set_sending(false);
        listen(&peer, Duration::from_millis(60)).await;
        let (held_packets, _, _) = listen(&peer, window).await;
        assert_eq!(held_packets, 0, "nothing is sent on hold");
        stream.set_sending(true);
        stream.set_muted(false);
        stream.queue_events(&[5]);
        let (_, _, received) = listen(&peer, Duration::from_millis(600)).await;
        assert_eq!(
            received.len(),
            8,
            "one digit is 8 event packets: {received:?}"
        );
        assert!(
            received.iter().all(|(_, e)| e.event == 5),
            "the digit is 5: {received:?}"
        );
        assert!(
            received.iter().all(|(ts, _)| *ts == received[0].0),
            "all packets of the event share its timestamp"
        );
        stream.stop().await;
    }

    #[tokio::test]
    async fn received_events_are_reported_once() {
        let ours = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (events, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let stream = MediaStream::start(
            ours.clone(),
            peer.local_addr().unwrap(),
            options(),
            Box::new(NullDevice),
            Box::new(NullDevice),
            events,
        );
        let to = ours.local_addr().unwrap();
        let mut datagram = Vec::new();
        for (sequence, (timestamp, code, end)) in [
            (100u32, 9u8, false),
            (100, 9, true),
            (100, 9, true),
            (100, 9, true),
            (900, 10, true),
        ]
        .into_iter()
        .enumerate()
        {
            let payload = TelephoneEvent {
                event: code,
                end,
                volume: 10,
                duration: 400,
            }
            .to_bytes();
            RtpPacket {
                payload_type: 101,
                marker: sequence == 0,
                sequence: sequence as u16,
                timestamp,
                ssrc: 7,
                payload: &payload,
            }
            .write(&mut datagram);
            peer.send_to(&datagram, to).await.unwrap();
        }
        let mut digits = Vec::new();
        while digits.len() < 2 {
            match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Some(MediaEvent::Dtmf(d))) => digits.push(d),
                Ok(Some(_)) => {}
                other => panic!("expected two digits, got {digits:?} then {other:?}"),
            }
        }
        assert_eq!(digits, vec!['9', '*'], "one digit per event");
        let stats = stream.stop().await;
        assert_eq!(
            stats.events_received, 5,
            "every event packet was counted: {stats:?}"
        );
        assert!(
            !matches!(rx.try_recv(), Ok(MediaEvent::Dtmf(_))),
            "no further digit from the repeated end packets"
        );
    }
}
