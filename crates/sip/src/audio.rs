//! Audio sources and sinks for calls: 20 ms frames of 8 kHz mono 16-bit samples.
//!
//! Devices are not clocked: the media task paces them with a 20 ms tokio interval. This module has
//! the null device, a WAV-file source and sink, and a sine tone source; sound-card devices (cpal)
//! implement the same two traits later.

use std::f64::consts::TAU;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Samples per second of every frame.
pub const SAMPLE_RATE: u32 = 8000;
/// Samples in one 20 ms frame.
pub const FRAME_SAMPLES: usize = 160;

/// Gives the audio to send, one frame at a time.
pub trait AudioSource: Send {
    /// Fills `frame` (exactly [`FRAME_SAMPLES`] long) with the next 20 ms.
    fn read_frame(&mut self, frame: &mut [i16]) -> Result<()>;
}

/// Takes the received audio, one frame at a time.
pub trait AudioSink: Send {
    /// Consumes the next 20 ms.
    fn write_frame(&mut self, frame: &[i16]) -> Result<()>;
    /// Flushes and closes; called once when the call's media stops.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Silence in, everything out to nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullDevice;

impl AudioSource for NullDevice {
    fn read_frame(&mut self, frame: &mut [i16]) -> Result<()> {
        frame.fill(0);
        Ok(())
    }
}

impl AudioSink for NullDevice {
    fn write_frame(&mut self, _frame: &[i16]) -> Result<()> {
        Ok(())
    }
}

/// A sine tone, for tests and ringback.
#[derive(Debug, Clone)]
pub struct ToneSource {
    step: f64,
    phase: f64,
    amplitude: f64,
}

impl ToneSource {
    /// A tone of `frequency_hz` at `amplitude` (0..=32767).
    pub fn new(frequency_hz: f64, amplitude: i16) -> Self {
        Self {
            step: TAU * frequency_hz / f64::from(SAMPLE_RATE),
            phase: 0.0,
            amplitude: f64::from(amplitude),
        }
    }
}

impl AudioSource for ToneSource {
    fn read_frame(&mut self, frame: &mut [i16]) -> Result<()> {
        for sample in frame.iter_mut() {
            *sample = (self.phase.sin() * self.amplitude) as i16;
            self.phase = (self.phase + self.step) % TAU;
        }
        Ok(())
    }
}

/// Plays a WAV file (8 kHz, 16-bit, mono) in a loop.
#[derive(Debug)]
pub struct WavSource {
    samples: Vec<i16>,
    position: usize,
}

impl WavSource {
    /// Loads the whole file; it must be 8000 Hz 16-bit mono.
    pub fn open(path: &Path) -> Result<Self> {
        let wav_err = |e: hound::Error| Error::Wav {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let reader = hound::WavReader::open(path).map_err(wav_err)?;
        let spec = reader.spec();
        if spec.sample_rate != SAMPLE_RATE
            || spec.bits_per_sample != 16
            || spec.channels != 1
            || spec.sample_format != hound::SampleFormat::Int
        {
            return Err(Error::WavFormat {
                path: path.display().to_string(),
                sample_rate: spec.sample_rate,
                bits: spec.bits_per_sample,
                channels: spec.channels,
            });
        }
        let samples = reader
            .into_samples::<i16>()
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(wav_err)?;
        Ok(Self {
            samples,
            position: 0,
        })
    }
}

impl AudioSource for WavSource {
    fn read_frame(&mut self, frame: &mut [i16]) -> Result<()> {
        if self.samples.is_empty() {
            frame.fill(0);
            return Ok(());
        }
        for sample in frame.iter_mut() {
            *sample = self.samples[self.position];
            self.position = (self.position + 1) % self.samples.len();
        }
        Ok(())
    }
}

/// Records to a WAV file (8 kHz, 16-bit, mono).
pub struct WavSink {
    path: PathBuf,
    writer: Option<hound::WavWriter<BufWriter<File>>>,
}

impl std::fmt::Debug for WavSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSink").field("path", &self.path).finish()
    }
}

/// The WAV format of every file this module writes.
pub fn wav_spec() -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

impl WavSink {
    /// Creates (or truncates) the file.
    pub fn create(path: &Path) -> Result<Self> {
        let writer = hound::WavWriter::create(path, wav_spec()).map_err(|e| Error::Wav {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            path: path.to_owned(),
            writer: Some(writer),
        })
    }

    fn wav_err(&self, e: hound::Error) -> Error {
        Error::Wav {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        }
    }
}

impl AudioSink for WavSink {
    fn write_frame(&mut self, frame: &[i16]) -> Result<()> {
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        let mut result = Ok(());
        for &sample in frame {
            if let Err(e) = writer.write_sample(sample) {
                result = Err(e);
                break;
            }
        }
        result.map_err(|e| self.wav_err(e))
    }

    fn finish(&mut self) -> Result<()> {
        match self.writer.take() {
            Some(writer) => writer.finalize().map_err(|e| self.wav_err(e)),
            None => Ok(()),
        }
    }
}

/// Where a call's audio comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceConfig {
    /// Silence.
    Silence,
    /// A sine tone at this frequency (Hz), at half of full scale.
    Tone(f64),
    /// A WAV file played in a loop.
    Wav(PathBuf),
    /// A sound card's capture device, by name (see [`crate::device::input_devices`]).
    Device(String),
}

/// Where a call's received audio goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkConfig {
    /// Discarded.
    Discard,
    /// Recorded to `<dir>/<call id>.wav` (see [`recording_path`]).
    WavDir(PathBuf),
    /// A sound card's playback device, by name (see [`crate::device::output_devices`]).
    Device(String),
}

impl SourceConfig {
    /// Opens the source.
    pub fn open(&self) -> Result<Box<dyn AudioSource>> {
        Ok(match self {
            SourceConfig::Silence => Box::new(NullDevice),
            SourceConfig::Tone(hz) => Box::new(ToneSource::new(*hz, 16000)),
            SourceConfig::Wav(path) => Box::new(WavSource::open(path)?),
            SourceConfig::Device(name) => Box::new(crate::device::CpalSource::open(name)?),
        })
    }
}

impl SinkConfig {
    /// Opens the sink for the call `call_id`.
    pub fn open(&self, call_id: &str) -> Result<Box<dyn AudioSink>> {
        Ok(match self {
            SinkConfig::Discard => Box::new(NullDevice),
            SinkConfig::WavDir(dir) => Box::new(WavSink::create(&recording_path(dir, call_id))?),
            SinkConfig::Device(name) => Box::new(crate::device::CpalSink::open(name)?),
        })
    }
}

/// The file a call's received audio is recorded to: the Call-ID with anything but
/// `[A-Za-z0-9._-]` replaced by `_` (a Call-ID comes from the network).
pub fn recording_path(dir: &Path, call_id: &str) -> PathBuf {
    let name: String = call_id
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{}.wav", name.trim_start_matches('.')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_round_trip_and_loop() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.wav");
        let mut sink = WavSink::create(&path).expect("create wav");
        let frame: Vec<i16> = (0..FRAME_SAMPLES as i16).collect();
        sink.write_frame(&frame).expect("write frame");
        sink.finish().expect("finalize");
        let mut source = WavSource::open(&path).expect("open what we wrote");
        let mut out = vec![0i16; FRAME_SAMPLES];
        source.read_frame(&mut out).expect("read");
        assert_eq!(out, frame, "samples come back as written");
        source.read_frame(&mut out).expect("read again");
        assert_eq!(out, frame, "the source loops to the start");
    }

    #[test]
    fn wrong_wav_format_is_a_typed_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("stereo.wav");
        let spec = hound::WavSpec {
            channels: 2,
            ..wav_spec()
        };
        hound::WavWriter::create(&path, spec)
            .expect("create")
            .finalize()
            .expect("finalize");
        match WavSource::open(&path) {
            Err(Error::WavFormat { channels, .. }) => {
                assert_eq!(channels, 2, "reports the channel count")
            }
            other => panic!("a stereo file must be refused, got {other:?}"),
        }
        assert!(
            matches!(
                WavSource::open(&dir.path().join("missing.wav")),
                Err(Error::Wav { .. })
            ),
            "a missing file is a Wav error"
        );
    }

    #[test]
    fn recording_path_cannot_escape_the_directory() {
        let dir = Path::new("/rec");
        let path = recording_path(dir, "../../etc/passwd@host");
        assert_eq!(path.parent(), Some(dir), "stays in the directory: {path:?}");
        assert_eq!(
            path.file_name().unwrap(),
            "_.._etc_passwd_host.wav",
            "unsafe characters replaced"
        );
    }

    #[test]
    fn tone_has_the_requested_amplitude() {
        let mut tone = ToneSource::new(1000.0, 10000);
        let mut frame = vec![0i16; FRAME_SAMPLES];
        tone.read_frame(&mut frame).expect("tone never fails");
        let peak = frame.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(
            (9000..=10000).contains(&peak),
            "peak {peak} near the amplitude"
        );
    }
}
