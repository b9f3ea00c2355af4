//! A second, independent user agent: baresip (Debian `baresip`) in full calls with audio both
//! ways. baresip sends a 1 kHz tone from an 8 kHz WAV (`aufile`) and dumps what it decodes to
//! WAV (`sndfile`); we send a 440 Hz tone and record what we receive. Each side's tone is found
//! in the other's recording (Goertzel, tests/common). One call each way: baresip dials us
//! (`-e /dial …`), and we dial baresip (it answers by itself, `answermode=auto`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use callpop_sip::audio::{recording_path, SinkConfig, SourceConfig};
use callpop_sip::{Event, UserAgent};
use common::*;
use tokio::process::{Child, Command};
use tokio::sync::mpsc::UnboundedReceiver;

const OUR_TONE: f64 = 440.0;
const THEIR_TONE: f64 = 1000.0;

/// Path to baresip; fails the test (never skips) when it is missing.
fn baresip() -> PathBuf {
    ["/usr/bin", "/usr/local/bin"]
        .iter()
        .map(|dir| Path::new(dir).join("baresip"))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("baresip is not installed: run `make deps`"))
}

/// An 8 kHz mono WAV of `seconds` of a sine at `hz` (baresip's aufile needs the stream's rate).
fn write_tone_wav(path: &Path, hz: f64, seconds: u32) {
    let mut writer = hound::WavWriter::create(path, callpop_sip::audio::wav_spec()).expect("wav");
    for i in 0..(8000 * seconds) {
        let t = f64::from(i) / 8000.0;
        let sample = (std::f64::consts::TAU * hz * t).sin() * 12000.0;
        writer.write_sample(sample as i16).expect("sample");
    }
    writer.finalize().expect("finalize wav");
}

/// baresip's config and account in `dir`, listening on `port`; `dial` is run at start.
fn start_baresip(dir: &Path, port: u16, dial: Option<&str>) -> Child {
    let tone = dir.join("their_tone.wav");
    write_tone_wav(&tone, THEIR_TONE, 20);
    let dumps = dir.join("dumps");
    std::fs::create_dir_all(&dumps).expect("dump dir");
    let config = format!(
        "poll_method\t\tepoll\n\
         sip_listen\t\t127.0.0.1:{port}\n\
         net_interface\t\t127.0.0.1\n\
         audio_source\t\taufile,{tone}\n\
         audio_player\t\taubridge,callpop\n\
         audio_alert\t\taubridge,callpop\n\
         rtp_ports\t\t20000-40000\n\
         module_path\t\t/usr/lib/baresip/modules\n\
         module\t\t\tg711.so\n\
         module\t\t\taufile.so\n\
         module\t\t\taubridge.so\n\
         module\t\t\tsndfile.so\n\
         module_app\t\taccount.so\n\
         module_app\t\tmenu.so\n\
         snd_path\t\t{dumps}\n",
        tone = tone.display(),
        dumps = dumps.display(),
    );
    std::fs::write(dir.join("config"), config).expect("baresip config");
    std::fs::write(
        dir.join("accounts"),
        format!("<sip:bare@127.0.0.1:{port}>;regint=0;answermode=auto;audio_codecs=PCMU\n"),
    )
    .expect("baresip accounts");
    let mut command = Command::new(baresip());
    command.arg("-f").arg(dir).args(["-t", "60"]);
    if let Some(uri) = dial {
        command.arg("-e").arg(format!("/dial {uri}"));
    }
    command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn baresip")
}

/// The WAV baresip wrote with what it decoded (`dump-…-dec.wav`), once it has some audio.
async fn their_recording(dir: &Path) -> Vec<i16> {
    let dumps = dir.join("dumps");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found = std::fs::read_dir(&dumps)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with("-dec.wav"));
        if let Some(path) = found {
            if let Ok(reader) = hound::WavReader::open(&path) {
                let samples: Vec<i16> = reader.into_samples::<i16>().flatten().collect();
                if samples.len() >= 8000 {
                    return samples;
                }
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "baresip wrote no decoded audio in {dumps:?} within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Talks for 3 s, hangs up, and checks both tones.
async fn talk_and_check(
    ua: &UserAgent,
    events: &mut UnboundedReceiver<Event>,
    call_id: &str,
    ours: &Path,
    theirs: &Path,
) {
    wait_for(events, "Established", |e| {
        matches!(e, Event::Established { call_id: id } if id == call_id).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    ua.hangup(call_id).await.expect("our BYE");
    wait_for(events, "Closed", |e| {
        matches!(e, Event::Closed { call_id: id, .. } if id == call_id).then_some(())
    })
    .await;
    let received = read_wav(&recording_path(ours, call_id));
    assert!(
        received.len() >= 8000,
        "at least a second of baresip's audio reached us, got {} samples",
        received.len()
    );
    let tail = &received[received.len() / 3..];
    let ratio = tone_ratio(tail, THEIR_TONE);
    assert!(
        ratio > 0.5,
        "baresip's {THEIR_TONE} Hz tone dominates what we received (ratio {ratio:.3})"
    );
    let heard = their_recording(theirs).await;
    let tail = &heard[heard.len() / 3..];
    let ratio = tone_ratio(tail, OUR_TONE);
    assert!(
        ratio > 0.5,
        "our {OUR_TONE} Hz tone dominates what baresip decoded (ratio {ratio:.3})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_calls_us_with_audio_both_ways() {
    let ours = tempfile::tempdir().expect("temp dir");
    let theirs = tempfile::tempdir().expect("temp dir");
    let (ua, mut events) = agent("127.0.0.1", |c| {
        c.source = SourceConfig::Tone(OUR_TONE);
        c.sink = SinkConfig::WavDir(ours.path().to_owned());
    })
    .await;
    let target = format!("sip:alice@{}", ua.local_addr());
    let _baresip = start_baresip(theirs.path(), free_port(), Some(&target));
    let call_id = wait_incoming(&mut events, "IncomingCall from baresip").await;
    ua.answer(&call_id).await.expect("answer baresip");
    talk_and_check(&ua, &mut events, &call_id, ours.path(), theirs.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_call_baresip_with_audio_both_ways() {
    let ours = tempfile::tempdir().expect("temp dir");
    let theirs = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let _baresip = start_baresip(theirs.path(), port, None);
    let (ua, mut events) = agent(&format!("127.0.0.1:{port}"), |c| {
        c.source = SourceConfig::Tone(OUR_TONE);
        c.sink = SinkConfig::WavDir(ours.path().to_owned());
    })
    .await;
    // baresip may still be starting: our INVITE is retransmitted until it answers.
    let call_id = ua
        .dial(&format!("sip:bare@127.0.0.1:{port}"))
        .await
        .expect("INVITE sent");
    talk_and_check(&ua, &mut events, &call_id, ours.path(), theirs.path()).await;
}
