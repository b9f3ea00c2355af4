//! Sound-card audio through `cpal`: device lists, a microphone source, a speaker sink and a
//! ringer, all chosen by device name. `cpal` (RustAudio, maintained) because it is the one
//! pure-Rust layer over ALSA, CoreAudio and WASAPI; 0.15 is pinned by its API (later releases
//! rename device naming), and on Linux it only needs `libasound2-dev` (in `make deps`).
//!
//! Calls run at 8 kHz mono; devices run at their own rate (often 44.1 or 48 kHz) and channel
//! count. Conversion is deliberately simple: linear interpolation between neighbouring samples
//! in both directions, channels averaged on input and duplicated on output. No anti-alias filter
//! is applied on the way down: speech above 4 kHz folds back a little, which a phone line's
//! G.711 already band-limits anyway.
//!
//! A cpal stream is not `Send` on every platform, so each one lives on a thread of its own; the
//! source and sink exchange samples with it through a bounded queue (at most one second; the
//! oldest samples go first when a side stalls). Dropping the source, sink or ringer stops its
//! stream. Machines without a sound card (CI) list no devices or only ALSA's `null`; tests and
//! CI keep using the null and WAV devices of [`crate::audio`].

use std::collections::VecDeque;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, Sample, SizedSample};

use crate::audio::{AudioSink, AudioSource, FRAME_SAMPLES, SAMPLE_RATE};

/// At most one second of 8 kHz audio waits between a device and a call.
const MAX_QUEUED: usize = SAMPLE_RATE as usize;

/// Input (microphone) or output (speaker, ringer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A capture device.
    Input,
    /// A playback device.
    Output,
}

/// What can go wrong with a sound device.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// No device of that name (the names are those of [`input_devices`] / [`output_devices`]).
    #[error("no {direction:?} audio device named {name:?}")]
    NotFound {
        /// The name asked for.
        name: String,
        /// Input or output.
        direction: Direction,
    },
    /// The device exists but could not be opened or started.
    #[error("audio device {name:?}: {reason}")]
    Unusable {
        /// The device.
        name: String,
        /// What cpal said.
        reason: String,
    },
}

impl From<DeviceError> for crate::Error {
    fn from(e: DeviceError) -> Self {
        crate::Error::Stack {
            context: "opening the audio device",
            message: e.to_string(),
        }
    }
}

/// The names of the capture devices; empty (never an error) when the host has none or cannot
/// list them.
pub fn input_devices() -> Vec<String> {
    device_names(Direction::Input)
}

/// The names of the playback devices; empty (never an error) when the host has none or cannot
/// list them.
pub fn output_devices() -> Vec<String> {
    device_names(Direction::Output)
}

fn device_names(direction: Direction) -> Vec<String> {
    let host = cpal::default_host();
    let devices = match direction {
        Direction::Input => host.input_devices(),
        Direction::Output => host.output_devices(),
    };
    match devices {
        Ok(devices) => devices.filter_map(|d| d.name().ok()).collect(),
        Err(e) => {
            tracing::info!(error = %e, ?direction, "no audio devices listed");
            Vec::new()
        }
    }
}

/// The host's default device of `direction`, by name; `None` when it has none.
pub fn default_device(direction: Direction) -> Option<String> {
    let host = cpal::default_host();
    let device = match direction {
        Direction::Input => host.default_input_device(),
        Direction::Output => host.default_output_device(),
    };
    device.and_then(|d| d.name().ok())
}

/// The device to use: the one `chosen` when it is connected, otherwise the host's default
/// when it is connected, otherwise none (a headset unplugged since it was chosen falls back to
/// the default rather than to silence; a host that names a default but lists no device, as
/// ALSA does without a sound card, has none).
pub fn pick(chosen: Option<&str>, connected: &[String], default: Option<String>) -> Option<String> {
    let is_connected = |name: &str| connected.iter().any(|d| d == name);
    chosen
        .filter(|c| is_connected(c))
        .map(str::to_owned)
        .or(default.filter(|d| is_connected(d)))
}

/// [`pick`] among the devices connected now.
pub fn resolve(chosen: Option<&str>, direction: Direction) -> Option<String> {
    pick(chosen, &device_names(direction), default_device(direction))
}

fn find(name: &str, direction: Direction) -> Result<cpal::Device, DeviceError> {
    let host = cpal::default_host();
    let devices = match direction {
        Direction::Input => host.input_devices(),
        Direction::Output => host.output_devices(),
    };
    devices
        .ok()
        .into_iter()
        .flatten()
        .find(|d| d.name().is_ok_and(|n| n == name))
        .ok_or_else(|| DeviceError::NotFound {
            name: name.to_owned(),
            direction,
        })
}

/// Linear-interpolation resampler for one channel.
#[derive(Debug, Clone)]
pub struct Resampler {
    /// Input samples per output sample.
    step: f64,
    /// Position of the next output sample, relative to `previous` (0 ≤ pos < 1 after a push).
    position: f64,
    previous: f32,
}

impl Resampler {
    /// A resampler from `from_hz` to `to_hz`.
    pub fn new(from_hz: u32, to_hz: u32) -> Self {
        Self {
            step: f64::from(from_hz) / f64::from(to_hz.max(1)),
            position: 0.0,
            previous: 0.0,
        }
    }

    /// Feeds one input sample; pushes the output samples that fall before it to `out` (the
    /// output lags the input by one input sample).
    pub fn push(&mut self, sample: f32, out: &mut impl FnMut(f32)) {
        while self.position < 1.0 {
            let t = self.position as f32;
            out(self.previous + (sample - self.previous) * t);
            self.position += self.step;
        }
        self.position -= 1.0;
        self.previous = sample;
    }
}

type Queue = Arc<Mutex<VecDeque<i16>>>;

fn push_bounded(queue: &Queue, samples: impl IntoIterator<Item = i16>) {
    let mut q = queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    q.extend(samples);
    let excess = q.len().saturating_sub(MAX_QUEUED);
    q.drain(..excess);
}

fn to_i16(x: f32) -> i16 {
    (x.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16
}

/// A stream running on its own thread until the handle is dropped.
struct StreamThread {
    stop: Option<std_mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for StreamThread {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Builds a stream with `build` on a new thread, starts it, and keeps it until dropped.
fn run_stream<F>(name: &str, build: F) -> Result<StreamThread, DeviceError>
where
    F: FnOnce() -> Result<cpal::Stream, String> + Send + 'static,
{
    let (ready_tx, ready_rx) = std_mpsc::channel::<Result<(), String>>();
    let (stop_tx, stop_rx) = std_mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("callpop-audio".into())
        .spawn(move || {
            let stream = match build().and_then(|s| s.play().map(|()| s).map_err(|e| e.to_string()))
            {
                Ok(stream) => stream,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            // Until the handle is dropped (the sender goes away).
            let _ = stop_rx.recv();
            drop(stream);
        })
        .map_err(|e| DeviceError::Unusable {
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
    let outcome = ready_rx
        .recv()
        .unwrap_or_else(|_| Err("audio thread ended".into()));
    let handle = StreamThread {
        stop: Some(stop_tx),
        thread: Some(thread),
    };
    outcome
        .map(|()| handle)
        .map_err(|reason| DeviceError::Unusable {
            name: name.to_owned(),
            reason,
        })
}

/// A microphone: the device's audio, mixed to mono and resampled to 8 kHz.
pub struct CpalSource {
    queue: Queue,
    _stream: StreamThread,
}

impl std::fmt::Debug for CpalSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpalSource").finish_non_exhaustive()
    }
}

impl CpalSource {
    /// Opens the capture device called `name` at its default configuration.
    pub fn open(name: &str) -> Result<Self, DeviceError> {
        let device = find(name, Direction::Input)?;
        let unusable = |reason: String| DeviceError::Unusable {
            name: name.to_owned(),
            reason,
        };
        let config = device
            .default_input_config()
            .map_err(|e| unusable(e.to_string()))?;
        let queue: Queue = Arc::default();
        let q = queue.clone();
        let stream = run_stream(name, move || {
            let format = config.sample_format();
            let config: cpal::StreamConfig = config.into();
            match format {
                cpal::SampleFormat::F32 => capture::<f32>(&device, &config, q),
                cpal::SampleFormat::I16 => capture::<i16>(&device, &config, q),
                cpal::SampleFormat::U16 => capture::<u16>(&device, &config, q),
                other => Err(format!("unsupported sample format {other:?}")),
            }
        })?;
        Ok(Self {
            queue,
            _stream: stream,
        })
    }
}

fn capture<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    queue: Queue,
) -> Result<cpal::Stream, String>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let channels = usize::from(config.channels.max(1));
    let mut resampler = Resampler::new(config.sample_rate.0, SAMPLE_RATE);
    let mut out = Vec::with_capacity(1024);
    device
        .build_input_stream(
            config,
            move |data: &[T], _: &cpal::InputCallbackInfo| {
                out.clear();
                for frame in data.chunks(channels) {
                    let mono = frame.iter().map(|s| f32::from_sample(*s)).sum::<f32>()
                        / frame.len() as f32;
                    resampler.push(mono, &mut |x| out.push(to_i16(x)));
                }
                push_bounded(&queue, out.iter().copied());
            },
            |e| tracing::warn!(error = %e, "audio input stream error"),
            None,
        )
        .map_err(|e| e.to_string())
}

impl AudioSource for CpalSource {
    fn read_frame(&mut self, frame: &mut [i16]) -> crate::Result<()> {
        let mut q = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for slot in frame.iter_mut().take(FRAME_SAMPLES) {
            // An underrun (device slower than the call) is heard as silence.
            *slot = q.pop_front().unwrap_or(0);
        }
        Ok(())
    }
}

/// A speaker: 8 kHz call audio resampled to the device's rate, on every channel.
pub struct CpalSink {
    queue: Queue,
    _stream: StreamThread,
}

impl std::fmt::Debug for CpalSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpalSink").finish_non_exhaustive()
    }
}

impl CpalSink {
    /// Opens the playback device called `name` at its default configuration.
    pub fn open(name: &str) -> Result<Self, DeviceError> {
        let queue: Queue = Arc::default();
        let q = queue.clone();
        let stream = open_output(name, move |rate| {
            let mut resampler = Resampler::new(SAMPLE_RATE, rate);
            let mut pending: VecDeque<f32> = VecDeque::new();
            // Called once per output sample, at the device's rate.
            move || {
                while pending.is_empty() {
                    let next = q
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .pop_front()
                        .map_or(0.0, |s| f32::from(s) / f32::from(i16::MAX));
                    resampler.push(next, &mut |x| pending.push_back(x));
                }
                pending.pop_front().unwrap_or(0.0)
            }
        })?;
        Ok(Self {
            queue,
            _stream: stream,
        })
    }
}

impl AudioSink for CpalSink {
    fn write_frame(&mut self, frame: &[i16]) -> crate::Result<()> {
        push_bounded(&self.queue, frame.iter().copied());
        Ok(())
    }
}

/// Opens the output device `name` with a generator of mono samples, made for the device's rate.
fn open_output<G, M>(name: &str, make: M) -> Result<StreamThread, DeviceError>
where
    M: FnOnce(u32) -> G + Send + 'static,
    G: FnMut() -> f32 + Send + 'static,
{
    let device = find(name, Direction::Output)?;
    let config = device
        .default_output_config()
        .map_err(|e| DeviceError::Unusable {
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
    run_stream(name, move || {
        let format = config.sample_format();
        let config: cpal::StreamConfig = config.into();
        let generator = make(config.sample_rate.0);
        match format {
            cpal::SampleFormat::F32 => playback::<f32, G>(&device, &config, generator),
            cpal::SampleFormat::I16 => playback::<i16, G>(&device, &config, generator),
            cpal::SampleFormat::U16 => playback::<u16, G>(&device, &config, generator),
            other => Err(format!("unsupported sample format {other:?}")),
        }
    })
}

fn playback<T, G>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    mut generator: G,
) -> Result<cpal::Stream, String>
where
    T: SizedSample + FromSample<f32>,
    G: FnMut() -> f32 + Send + 'static,
{
    let channels = usize::from(config.channels.max(1));
    device
        .build_output_stream(
            config,
            move |data: &mut [T], _: &cpal::OutputCallbackInfo| {
                for frame in data.chunks_mut(channels) {
                    let value = T::from_sample(generator());
                    frame.fill(value);
                }
            },
            |e| tracing::warn!(error = %e, "audio output stream error"),
            None,
        )
        .map_err(|e| e.to_string())
}

/// The ring cadence: 440 + 480 Hz (North American ring), 2 s on, 4 s off.
pub fn ring_sample(index: u64, rate: u32) -> f32 {
    let rate = u64::from(rate.max(1));
    let in_cycle = index % (6 * rate);
    if in_cycle >= 2 * rate {
        return 0.0;
    }
    let t = index as f64 / rate as f64;
    let tau = std::f64::consts::TAU;
    (0.25 * ((tau * 440.0 * t).sin() + (tau * 480.0 * t).sin())) as f32
}

/// Rings on an output device until dropped.
pub struct Ringer {
    _stream: StreamThread,
}

impl std::fmt::Debug for Ringer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ringer").finish_non_exhaustive()
    }
}

impl Ringer {
    /// Starts ringing on the playback device called `name`.
    pub fn start(name: &str) -> Result<Self, DeviceError> {
        let stream = open_output(name, |rate| {
            let mut index = 0u64;
            move || {
                let sample = ring_sample(index, rate);
                index += 1;
                sample
            }
        })?;
        Ok(Self { _stream: stream })
    }
}

/// Plays a sine tone of `hz` on the playback device `name` for `duration` (blocks that long):
/// the settings' "test tone".
pub fn play_tone(name: &str, hz: f64, duration: std::time::Duration) -> Result<(), DeviceError> {
    let stream = open_output(name, move |rate| {
        let mut index = 0u64;
        move || {
            let t = index as f64 / f64::from(rate.max(1));
            index += 1;
            (0.3 * (std::f64::consts::TAU * hz * t).sin()) as f32
        }
    })?;
    std::thread::sleep(duration);
    drop(stream);
    Ok(())
}

/// The level of 8 kHz samples: their RMS as a fraction of full scale (0 silence … 1 clipping).
pub fn level(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    ((sum / samples.len() as f64).sqrt() / f64::from(i16::MAX)).min(1.0) as f32
}

/// A microphone meter: reports the capture device's level every 100 ms until dropped.
pub struct LevelMeter {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LevelMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LevelMeter").finish_non_exhaustive()
    }
}

impl LevelMeter {
    /// Opens the capture device `name` and calls `report` with its [`level`] every 100 ms.
    pub fn start(
        name: &str,
        mut report: impl FnMut(f32) + Send + 'static,
    ) -> Result<Self, DeviceError> {
        let mut source = CpalSource::open(name)?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("callpop-mic-meter".into())
            .spawn(move || {
                let mut window = Vec::with_capacity(5 * FRAME_SAMPLES);
                let mut frame = [0i16; FRAME_SAMPLES];
                while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    if source.read_frame(&mut frame).is_err() {
                        break;
                    }
                    window.extend_from_slice(&frame);
                    if window.len() >= 5 * FRAME_SAMPLES {
                        report(level(&window));
                        window.clear();
                    }
                }
            })
            .map_err(|e| DeviceError::Unusable {
                name: name.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for LevelMeter {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chosen_device_is_used_while_connected_else_the_default() {
        let connected = vec!["Headset".to_owned(), "Built-in".to_owned()];
        let default = Some("Built-in".to_owned());
        assert_eq!(
            pick(Some("Headset"), &connected, default.clone()).as_deref(),
            Some("Headset")
        );
        assert_eq!(
            pick(Some("USB speaker"), &connected, default.clone()).as_deref(),
            Some("Built-in"),
            "an unplugged choice falls back to the default"
        );
        assert_eq!(pick(None, &connected, default).as_deref(), Some("Built-in"));
        assert_eq!(
            pick(Some("Headset"), &[], None),
            None,
            "no sound card: none"
        );
    }

    #[test]
    fn level_is_the_rms_of_full_scale() {
        assert_eq!(level(&[]), 0.0);
        assert_eq!(level(&[0; 160]), 0.0);
        assert!((level(&[i16::MAX; 160]) - 1.0).abs() < 1e-6);
        let half: Vec<i16> = (0..160)
            .map(|i| if i % 2 == 0 { 16384 } else { -16384 })
            .collect();
        assert!((level(&half) - 0.5).abs() < 0.01, "{}", level(&half));
    }

    #[test]
    fn tone_and_meter_on_a_missing_device_are_typed_errors() {
        let name = "callpop-no-such-device";
        assert!(matches!(
            play_tone(name, 440.0, std::time::Duration::from_millis(10)),
            Err(DeviceError::NotFound {
                direction: Direction::Output,
                ..
            })
        ));
        assert!(matches!(
            LevelMeter::start(name, |_| {}),
            Err(DeviceError::NotFound {
                direction: Direction::Input,
                ..
            })
        ));
    }

    #[test]
    fn listing_without_a_sound_card_is_not_an_error() {
        // On CI and these machines ALSA offers at most its `null` device; with a card, real names.
        for name in input_devices().into_iter().chain(output_devices()) {
            assert!(!name.is_empty(), "listed devices have names");
        }
    }

    #[test]
    fn a_missing_device_is_a_typed_error_naming_it() {
        let name = "callpop-no-such-device";
        match CpalSource::open(name) {
            Err(DeviceError::NotFound {
                name: n,
                direction: Direction::Input,
            }) => assert_eq!(n, name, "the error names the device asked for"),
            other => panic!("a missing microphone is NotFound, got {other:?}"),
        }
        match CpalSink::open(name) {
            Err(DeviceError::NotFound {
                direction: Direction::Output,
                ..
            }) => {}
            other => panic!("a missing speaker is NotFound, got {other:?}"),
        }
        assert!(
            matches!(Ringer::start(name), Err(DeviceError::NotFound { .. })),
            "a missing ringer device is NotFound"
        );
        let as_crate_error: crate::Error = DeviceError::NotFound {
            name: name.into(),
            direction: Direction::Output,
        }
        .into();
        assert!(
            as_crate_error.to_string().contains(name),
            "the crate error still names the device: {as_crate_error}"
        );
    }

    #[test]
    fn resampling_keeps_the_rate_ratio_and_a_tone_shape() {
        let mut down = Resampler::new(48_000, 8_000);
        let mut out = Vec::new();
        for i in 0..48_000 {
            let x = (std::f64::consts::TAU * 440.0 * f64::from(i) / 48_000.0).sin() as f32;
            down.push(x, &mut |y| out.push(y));
        }
        assert!(
            (7_999..=8_001).contains(&out.len()),
            "one second at 48 kHz gives one second at 8 kHz, got {}",
            out.len()
        );
        // Sample k of the output is the input at index 6k - 1 (one input sample of delay).
        for (k, y) in out.iter().enumerate().skip(1).take(200) {
            let t = (6.0 * k as f64 - 1.0) / 48_000.0;
            let want = (std::f64::consts::TAU * 440.0 * t).sin() as f32;
            assert!(
                (y - want).abs() < 0.02,
                "down-sampled tone stays a 440 Hz tone at sample {k}: {y} vs {want}"
            );
        }
        let mut up = Resampler::new(8_000, 44_100);
        let mut count = 0;
        for _ in 0..8_000 {
            up.push(0.5, &mut |_| count += 1);
        }
        assert!(
            (44_099..=44_101).contains(&count),
            "one second at 8 kHz gives one second at 44.1 kHz, got {count}"
        );
    }

    #[test]
    fn the_ring_cadence_is_two_seconds_on_four_off() {
        let rate = 8_000;
        let loud = |from: u64, to: u64| (from..to).any(|i| ring_sample(i, rate).abs() > 0.1);
        assert!(loud(0, 16_000), "rings during the first 2 s");
        assert!(!loud(16_000, 48_000), "silent from 2 s to 6 s");
        assert!(loud(48_000, 64_000), "rings again at 6 s");
    }

    #[test]
    fn the_queue_keeps_at_most_one_second() {
        let queue: Queue = Arc::default();
        push_bounded(&queue, std::iter::repeat_n(1i16, MAX_QUEUED + 500));
        assert_eq!(
            queue.lock().expect("lock").len(),
            MAX_QUEUED,
            "a stalled side cannot grow the queue past one second"
        );
    }
}
