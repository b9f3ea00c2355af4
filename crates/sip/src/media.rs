//! One call's RTP stream on tokio: a 20 ms tick sends a frame from the source and plays one from
//! the jitter buffer into the sink. RTP is symmetric: once a valid packet arrives, we send to the
//! address it came from (NAT friendly), otherwise to the address in the peer's SDP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, trace, warn};

use crate::audio::{AudioSink, AudioSource, FRAME_SAMPLES};
use crate::jitter::{JitterBuffer, Playout};
use crate::rtp::RtpPacket;
use crate::sdp::Codec;

/// Frames held before playout starts (60 ms).
const JITTER_DEPTH: usize = 3;
/// Frames held at most (1 s).
const JITTER_CAPACITY: usize = 50;

/// Counters of a finished stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// RTP packets sent.
    pub sent: u64,
    /// RTP packets received with our codec's payload type.
    pub received: u64,
    /// Datagrams dropped as not RTP or of another payload type.
    pub ignored: u64,
}

/// A running RTP stream; stop it with [`MediaStream::stop`].
#[derive(Debug)]
pub struct MediaStream {
    cancel: CancellationToken,
    task: JoinHandle<MediaStats>,
}

/// What a stream reports as it runs (audio device failures).
pub type MediaErrorSender = tokio::sync::mpsc::UnboundedSender<String>;

impl MediaStream {
    /// Starts sending to `remote` and receiving on `socket` with `codec`.
    pub fn start(
        socket: Arc<UdpSocket>,
        remote: SocketAddr,
        codec: Codec,
        send: bool,
        source: Box<dyn AudioSource>,
        sink: Box<dyn AudioSink>,
        errors: MediaErrorSender,
    ) -> Self {
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(
            socket,
            remote,
            codec,
            send,
            source,
            sink,
            errors,
            cancel.clone(),
        ));
        Self { cancel, task }
    }

    /// Stops the stream, flushes the sink and returns its counters.
    pub async fn stop(self) -> MediaStats {
        self.cancel.cancel();
        self.task.await.unwrap_or_default()
    }
}

async fn run(
    socket: Arc<UdpSocket>,
    mut remote: SocketAddr,
    codec: Codec,
    send: bool,
    mut source: Box<dyn AudioSource>,
    mut sink: Box<dyn AudioSink>,
    errors: MediaErrorSender,
    cancel: CancellationToken,
) -> MediaStats {
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
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticker.tick() => {
                if send {
                    if let Err(e) = source.read_frame(&mut frame) {
                        if !source_failed {
                            errors.send(e.to_string()).ok();
                            source_failed = true;
                        }
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
                    .write(&mut datagram);
                    match socket.send_to(&datagram, remote).await {
                        Ok(_) => stats.sent += 1,
                        Err(e) => trace!(%remote, error = %e, "RTP send failed"),
                    }
                    sequence = sequence.wrapping_add(1);
                    timestamp = timestamp.wrapping_add(FRAME_SAMPLES as u32);
                }
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
                        errors.send(e.to_string()).ok();
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
                        if !latched {
                            if from != remote {
                                debug!(%from, sdp = %remote, "symmetric RTP: sending to the packets' source");
                            }
                            remote = from;
                            latched = true;
                        }
                    }
                    Ok(_) | Err(_) => stats.ignored += 1,
                }
            }
        }
    }
    if let Err(e) = sink.finish() {
        warn!(error = %e, "closing the audio sink failed");
        errors.send(e.to_string()).ok();
    }
    debug!(?stats, "RTP stream stopped");
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{NullDevice, ToneSource};
    use std::sync::Mutex;

    /// A sink that keeps what it is given, shared with the test.
    struct Capture(Arc<Mutex<Vec<i16>>>);

    impl AudioSink for Capture {
        fn write_frame(&mut self, frame: &[i16]) -> crate::Result<()> {
            self.0.lock().unwrap().extend_from_slice(frame);
            Ok(())
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
            Codec::Pcmu,
            true,
            Box::new(ToneSource::new(440.0, 8000)),
            Box::new(Capture(captured.clone())),
            errors.clone(),
        );
        let stream_b = MediaStream::start(
            b.clone(),
            wrong,
            Codec::Pcmu,
            true,
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
}
