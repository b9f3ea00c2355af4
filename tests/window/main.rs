//! The desktop app in a real window (issue 5 §4): Xvfb, tauri-driver in front of WebKitWebDriver,
//! the app binary launched by WebDriver against the in-process emulator, sipp as the far end.
//!
//! Needs `target/debug/callpop` (`cargo build -p callpop-desktop`, as `make test` does) and the
//! peers `make deps` installs (Xvfb, dbus-daemon, WebKitWebDriver, tauri-driver, sipp); a missing
//! one fails the test with what to run. Screenshots go to `target/screenshots/`.

mod harness;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use fantoccini::Locator;
use harness::{
    emulator, eventually, expect_sipp_success, free_udp_port, scenario, start_sipp, App, Desktop,
};
use sf_emulator::seed::{known_callers, KnownCaller};
use sf_emulator::Emulator;

/// The flags that point the app at this test's data dir, emulator and SIP port.
fn app_args(data_dir: &Path, emu: &Emulator, sip_port: u16) -> Vec<String> {
    vec![
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--emulator-url".into(),
        emu.login_url().to_string(),
        "--sip-port".into(),
        sip_port.to_string(),
    ]
}

/// A known caller of `region` whose number belongs to one `sobject` record only.
fn known(region: &str, sobject: &str) -> KnownCaller {
    known_callers()
        .into_iter()
        .find(|k| k.region == region && k.sobject == sobject && !k.shared)
        .unwrap_or_else(|| panic!("the seed has an unshared {sobject} caller from {region}"))
}

/// The Id of the seeded record a known caller belongs to.
fn record_id(emu: &Emulator, caller: &KnownCaller) -> String {
    emu.records(caller.sobject)
        .into_iter()
        .find(|r| r[caller.field] == caller.stored_as)
        .and_then(|r| r["Id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("the seed holds {} ({})", caller.name, caller.stored_as))
}

/// The app's SIP address on loopback.
fn app_sip(sip_port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], sip_port))
}

/// A value made at run time that no file should contain unless it was written there.
fn run_time_secret(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{tag}{}x{nanos}", std::process::id())
}

/// Clicks `#save-log` when the after-call work waits for the agent (auto-save off); with
/// auto-save on the log saves itself and the button may never show.
async fn save_log_if_asked(app: &App) -> anyhow::Result<()> {
    let button = app
        .client
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css("#save-log"))
        .await;
    if let Ok(button) = button {
        button.click().await.context("click #save-log")?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_from_sipp_pops_the_contact_and_logs_the_notes() -> anyhow::Result<()> {
    let emu = emulator().await?;
    let caller = known("FR", "Contact");
    let contact_id = record_id(&emu, &caller);
    let data = tempfile::tempdir()?;
    let sip_port = free_udp_port();
    let desktop = Desktop::start()?;
    let app = desktop
        .launch(&app_args(data.path(), &emu, sip_port))
        .await?;
    // Signed in, the status line says connected before any call or log (the start-up check).
    app.text_until("#sf-status", "connected before any call", |t| {
        t == "Salesforce: connected"
    })
    .await?;

    let work = tempfile::tempdir()?;
    let script = scenario(
        work.path(),
        "uac_agent_hangs_up.xml",
        &[("@CALLER@", caller.e164), ("@NAME@", "Mobile")],
    );
    let sipp = start_sipp(&script, free_udp_port(), Some(app_sip(sip_port)), "2001")?;

    app.switch_to_popup().await?;
    let shown = app
        .text_until("[data-testid=popup-records]", "the matched contact", |t| {
            t.contains(caller.name)
        })
        .await?;
    assert!(
        shown.contains(caller.name),
        "the popup must name the matched Contact {}: {shown:?}",
        caller.name
    );
    app.click("#answer").await?;

    app.switch_to_panel().await?;
    app.find("#hangup").await?;
    app.click("#hangup").await?;
    let notes = format!(
        "Asked for the March invoice; call back {}",
        std::process::id()
    );
    let field = app.find("#notes").await?;
    field.send_keys(&notes).await.context("type the notes")?;
    // The UI sends the notes 600 ms after typing stops.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    save_log_if_asked(&app).await?;
    expect_sipp_success(sipp, "call hung up by the agent").await?;

    let task = eventually("the call's Task in the emulator", || {
        emu.records("Task")
            .into_iter()
            .find(|t| t["Description"].as_str() == Some(notes.as_str()))
    })
    .await?;
    assert_eq!(
        task["CallType"], "Inbound",
        "a call from sipp to the app is Inbound: {task}"
    );
    assert_eq!(
        task["WhoId"].as_str(),
        Some(contact_id.as_str()),
        "the Task names the matched Contact: {task}"
    );
    app.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_from_sipp_shows_in_its_thread_and_is_logged_as_a_task() -> anyhow::Result<()> {
    let emu = emulator().await?;
    let sender = known("KR", "Contact");
    let data = tempfile::tempdir()?;
    let sip_port = free_udp_port();
    let desktop = Desktop::start()?;
    let app = desktop
        .launch(&app_args(data.path(), &emu, sip_port))
        .await?;
    app.click("#nav-sms").await?;

    let text = format!("회의는 3시에 합니다 {}", std::process::id());
    let work = tempfile::tempdir()?;
    let script = scenario(
        work.path(),
        "uac_message.xml",
        &[("@CALLER@", sender.e164), ("@TEXT@", &text)],
    );
    let sipp = start_sipp(&script, free_udp_port(), Some(app_sip(sip_port)), "2001")?;
    expect_sipp_success(sipp, "MESSAGE accepted with 200").await?;

    // The open SMS view picks the new thread up by itself, named after the matched Contact.
    // (Read as textContent: WebDriver's visible text leaves out the one-line, ellipsized
    // preview of the last message.)
    let thread = format!("[data-testid='sms-thread-{}']", sender.e164);
    let shown = app
        .find(&thread)
        .await?
        .prop("textContent")
        .await?
        .unwrap_or_default();
    assert!(
        shown.contains(sender.name) && shown.contains(&text),
        "the thread names the sender's Contact {} and shows the message: {shown:?}",
        sender.name
    );
    app.click(&thread).await?;
    app.text_until("#sms-messages", "the message, Korean intact", |t| {
        t.contains(&text)
    })
    .await?;

    let task = eventually("the SMS day's Task in the emulator", || {
        emu.records("Task").into_iter().find(|t| {
            t["Description"]
                .as_str()
                .is_some_and(|d| d.contains(text.as_str()))
        })
    })
    .await?;
    assert_eq!(
        task["WhoId"].as_str(),
        Some(record_id(&emu, &sender).as_str()),
        "the SMS Task names the sender's Contact: {task}"
    );
    app.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_name_with_markup_shows_as_text() -> anyhow::Result<()> {
    let hostile = "<img src=x onerror=alert(1)>";
    let emu = emulator().await?;
    let data = tempfile::tempdir()?;
    let sip_port = free_udp_port();
    let desktop = Desktop::start()?;
    let app = desktop
        .launch(&app_args(data.path(), &emu, sip_port))
        .await?;

    let work = tempfile::tempdir()?;
    // A US number in the fictional range that no seeded record has: the display name is shown.
    let script = scenario(
        work.path(),
        "uac_declined.xml",
        &[("@CALLER@", "+12025550199"), ("@NAME@", hostile)],
    );
    let sipp = start_sipp(&script, free_udp_port(), Some(app_sip(sip_port)), "2001")?;

    app.switch_to_popup().await?;
    let name = app
        .text_until("#popup-caller .caller-name", "the display name", |t| {
            t == hostile
        })
        .await?;
    assert_eq!(name, hostile, "the display name is shown as literal text");
    let images = app
        .client
        .find_all(Locator::Css("#popup-caller img, #popup img"))
        .await?;
    assert!(
        images.is_empty(),
        "markup in a display name must never become an element ({} img found)",
        images.len()
    );
    assert!(
        app.client.get_alert_text().await.is_err(),
        "no script ran from the display name, so no alert is open"
    );
    app.click("#decline").await?;
    expect_sipp_success(sipp, "call declined from the popup").await?;
    app.close().await?;
    Ok(())
}

/// sipp waiting (as UAS on a free loopback port) for an INVITE to +33123456789, and the flag
/// that sends the app's calls to it (`--sip-domain`, where a bare number goes in an emulated run).
fn sipp_expecting_the_dialed_number(work: &Path) -> anyhow::Result<(harness::Proc, [String; 2])> {
    let script = scenario(work, "uas_busy.xml", &[("@NUMBER_RE@", r"\+33123456789")]);
    let port = free_udp_port();
    let sipp = start_sipp(&script, port, None, "callpop")?;
    Ok((sipp, ["--sip-domain".into(), format!("127.0.0.1:{port}")]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tel_link_pasted_in_the_dial_pad_shows_the_number_and_dials_it() -> anyhow::Result<()> {
    let emu = emulator().await?;
    let data = tempfile::tempdir()?;
    let work = tempfile::tempdir()?;
    let (sipp, peer) = sipp_expecting_the_dialed_number(work.path())?;
    let desktop = Desktop::start()?;
    let mut args = app_args(data.path(), &emu, free_udp_port());
    args.extend(peer);
    let app = desktop.launch(&args).await?;

    app.find("#dial-input")
        .await?
        .send_keys("tel:+33123456789")
        .await?;
    // The dial pad shows the link's number before dialing.
    shows_the_number_then_dials(
        &app,
        "#dial-preview",
        "dial-preview-en",
        "#dial-button",
        sipp,
    )
    .await?;
    app.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tel_link_at_launch_asks_then_dials_the_number() -> anyhow::Result<()> {
    let emu = emulator().await?;
    let data = tempfile::tempdir()?;
    let work = tempfile::tempdir()?;
    let (sipp, peer) = sipp_expecting_the_dialed_number(work.path())?;
    let desktop = Desktop::start()?;
    // As the OS does for a clicked link when Callpop is not running: the binary with the link
    // as its argument. (When it runs, see `tel_link_clicked_while_callpop_runs_...`.)
    let mut args = app_args(data.path(), &emu, free_udp_port());
    args.extend(peer);
    args.push("tel:+33123456789".into());
    let app = desktop.launch(&args).await?;

    // The confirmation shows the link's number.
    shows_the_number_then_dials(
        &app,
        "#dial-request-text",
        "dial-request-en",
        "#confirm-dial",
        sipp,
    )
    .await?;
    app.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tel_link_clicked_while_callpop_runs_goes_to_the_running_panel() -> anyhow::Result<()> {
    let emu = emulator().await?;
    let data = tempfile::tempdir()?;
    let work = tempfile::tempdir()?;
    let (sipp, peer) = sipp_expecting_the_dialed_number(work.path())?;
    let desktop = Desktop::start()?;
    // A named instance: emulated runs are single instances only when asked (a real run always
    // is one), so that other tests can run apps side by side.
    let mut args = app_args(data.path(), &emu, free_udp_port());
    args.extend(peer);
    args.extend(["--instance-id".to_owned(), "link_test".to_owned()]);
    let app = desktop.launch(&args).await?;

    // A malformed link clicked: the second launch (same database, same SIP port) hands it over
    // and exits at once; the running panel says why it cannot be dialed.
    let mut bad = args.clone();
    bad.push("tel:call-me-maybe".into());
    let (_, printed) = desktop.launch_again(&bad, Duration::from_secs(20))?;
    assert!(
        !printed.contains("READY"),
        "the second launch did not start a second app: {printed:?}"
    );
    let refused = app
        .text_until("#panel-error", "the refusal of the malformed link", |t| {
            t.contains("call-me-maybe")
        })
        .await?;
    assert!(
        refused.contains("call-me-maybe"),
        "the panel names the link it refused: {refused:?}"
    );

    // A good one: the running panel asks, then dials it.
    let mut good = args.clone();
    good.push("tel:+33123456789".into());
    let (_, printed) = desktop.launch_again(&good, Duration::from_secs(20))?;
    assert!(!printed.contains("READY"), "no second app: {printed:?}");
    shows_the_number_then_dials(
        &app,
        "#dial-request-text",
        "dial-request-forwarded-en",
        "#confirm-dial",
        sipp,
    )
    .await?;
    app.close().await?;
    Ok(())
}

/// Waits for `shown_in` to show +33 1 23 45 67 89 (the number of both link tests), saves a
/// screenshot, clicks `dial`, and expects sipp to receive the INVITE for that number.
async fn shows_the_number_then_dials(
    app: &App,
    shown_in: &str,
    screenshot: &str,
    dial: &str,
    sipp: harness::Proc,
) -> anyhow::Result<()> {
    let text = app
        .text_until(shown_in, "the number to be dialed", |t| {
            digits(t).contains("33123456789")
        })
        .await?;
    assert!(
        digits(&text).contains("33123456789"),
        "{shown_in} shows the link's number: {text:?}"
    );
    app.screenshot(screenshot).await?;
    app.click(dial).await?;
    expect_sipp_success(sipp, "INVITE to +33123456789 received").await
}

/// The digits of `text` (a formatted number), with a leading `+` dropped.
fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_survive_a_restart_and_the_password_stays_out_of_sqlite() -> anyhow::Result<()> {
    let emu = emulator().await?;
    let data = tempfile::tempdir()?;
    let sip_port = free_udp_port();
    let desktop = Desktop::start()?;
    let args = app_args(data.path(), &emu, sip_port);
    let app = desktop.launch(&args).await?;
    let english_nav = app.find("#nav-settings").await?.text().await?;

    app.click("#nav-settings").await?;
    let switches = ["editable_who", "ignore_internal_calls"];
    let mut before = Vec::new();
    for switch in switches {
        let toggle = app.find(&format!("#behaviour-{switch}")).await?;
        before.push(toggle.is_selected().await?);
        toggle.click().await?;
    }
    app.find("#language").await?.select_by_value("fr").await?;
    app.click("#settings-save").await?;
    app.find("#settings-info").await?;

    let password = run_time_secret("sip-pw-");
    let user = format!("agent{}", std::process::id());
    let user_field = app.find("#sip-user").await?;
    user_field.clear().await?;
    user_field.send_keys(&user).await?;
    let domain_field = app.find("#sip-domain").await?;
    domain_field.clear().await?;
    domain_field.send_keys("pbx.example.com").await?;
    app.find("#sip-password")
        .await?
        .send_keys(&password)
        .await?;
    // A DNS server given by name is refused, in French, with what was typed; nothing is saved.
    let dns_field = app.find("#sip-dns-server").await?;
    dns_field.send_keys("dns.corp").await?;
    app.click("#sip-save").await?;
    app.text_until("#sip-error", "the DNS server refused, in French", |t| {
        t.contains("Le serveur DNS « dns.corp » n’est pas une adresse IP")
    })
    .await?;
    dns_field.clear().await?;
    dns_field.send_keys("10.0.0.2:5353").await?;
    app.click("#sip-save").await?;
    app.find("#sip-info").await?;
    let placeholder = app.find("#sip-password").await?.attr("placeholder").await?;
    assert!(
        placeholder.is_some_and(|p| !p.is_empty()),
        "after saving, the account reports a password kept (the field offers to keep it)"
    );
    // Audio: the device lists are the computer's. Without a sound card (CI, these machines)
    // the test tone and the microphone meter say so instead of pretending, in the language the
    // settings chose above (French): the shell reports a typed failure the UI words.
    let outputs = app
        .find("#audio-output")
        .await?
        .find_all(Locator::Css("option"))
        .await?
        .len();
    if outputs == 1 {
        app.click("#test-tone").await?;
        app.text_until(
            "#audio-error",
            "that no speaker was found, in French",
            |t| t.contains("Aucun haut-parleur ni casque n’a été trouvé"),
        )
        .await?;
        app.click("#mic-monitor").await?;
        app.text_until(
            "#audio-error",
            "that no microphone was found, in French",
            |t| t.contains("Aucun micro n’a été trouvé"),
        )
        .await?;
    }
    app.close().await?;

    // The same data dir; a new SIP port, as the closing app may still hold the old one.
    let args = app_args(data.path(), &emu, free_udp_port());
    let app = desktop.launch(&args).await?;
    // The panel may paint in the OS language first and switch once the settings arrive.
    let nav = app
        .text_until("#nav-settings", "a label other than English", |t| {
            !t.is_empty() && t != english_nav
        })
        .await?;
    assert_ne!(
        nav, english_nav,
        "after the restart the UI speaks the saved language (fr), not English"
    );
    app.click("#nav-settings").await?;
    let language = app.find("#language").await?.prop("value").await?;
    assert_eq!(
        language.as_deref(),
        Some("fr"),
        "the language choice is kept"
    );
    for (switch, was) in switches.iter().zip(before) {
        let now = app
            .find(&format!("#behaviour-{switch}"))
            .await?
            .is_selected()
            .await?;
        assert_eq!(now, !was, "the switch {switch} keeps its new value");
    }
    let saved_user = app.find("#sip-user").await?.prop("value").await?;
    assert_eq!(
        saved_user.as_deref(),
        Some(user.as_str()),
        "the SIP user is kept"
    );
    let saved_domain = app.find("#sip-domain").await?.prop("value").await?;
    assert_eq!(
        saved_domain.as_deref(),
        Some("pbx.example.com"),
        "the SIP domain is kept"
    );
    let saved_dns = app.find("#sip-dns-server").await?.prop("value").await?;
    assert_eq!(
        saved_dns.as_deref(),
        Some("10.0.0.2:5353"),
        "the DNS server is kept"
    );
    app.screenshot("settings-after-restart-fr").await?;
    app.close().await?;

    // The password must be in no file of the data dir (the SQLite file, its WAL, anything).
    let mut checked = 0;
    for entry in std::fs::read_dir(data.path())? {
        let path = entry?.path();
        if path.is_file() {
            let bytes = std::fs::read(&path)?;
            checked += 1;
            assert!(
                !bytes
                    .windows(password.len())
                    .any(|w| w == password.as_bytes()),
                "the SIP password must never be written to {}",
                path.display()
            );
        }
    }
    assert!(checked > 0, "the data dir holds the database to check");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_of_panel_popup_and_settings_in_each_language() -> anyhow::Result<()> {
    let emu = emulator().await?;
    let desktop = Desktop::start()?;
    let work = tempfile::tempdir()?;
    let mut settings_titles = Vec::new();

    // A fresh app (and database) per language, so the panel shows only that language's call.
    for (language, region) in [("en", "US"), ("ja", "JP"), ("fr", "FR"), ("ko", "KR")] {
        let data = tempfile::tempdir()?;
        let sip_port = free_udp_port();
        let app = desktop
            .launch(&app_args(data.path(), &emu, sip_port))
            .await?;
        app.click("#nav-settings").await?;
        app.find("#language")
            .await?
            .select_by_value(language)
            .await?;
        app.click("#settings-save").await?;
        app.find("#settings-info").await?;
        // Back and forth so the settings view opens scrolled to its top.
        app.click("#nav-panel").await?;
        app.click("#nav-settings").await?;
        let title = app.find("#general-title").await?.text().await?;
        app.screenshot(&format!("settings-{language}")).await?;
        settings_titles.push(title);

        app.click("#nav-panel").await?;
        let caller = known(region, "Contact");
        let script = scenario(
            work.path(),
            "uac_declined.xml",
            &[("@CALLER@", caller.e164), ("@NAME@", "Mobile")],
        );
        let sipp = start_sipp(&script, free_udp_port(), Some(app_sip(sip_port)), "2001")?;
        app.switch_to_popup().await?;
        app.text_until("[data-testid=popup-records]", "the matched contact", |t| {
            t.contains(caller.name)
        })
        .await?;
        app.screenshot(&format!("popup-{language}")).await?;
        app.switch_to_panel().await?;
        app.find(&format!(
            "[data-testid=record-{}]",
            record_id(&emu, &caller)
        ))
        .await?;
        app.screenshot(&format!("panel-{language}")).await?;
        app.switch_to_popup().await?;
        app.click("#decline").await?;
        expect_sipp_success(sipp, "call declined from the popup").await?;
        app.close().await?;
    }
    settings_titles.dedup();
    assert_eq!(
        settings_titles.len(),
        4,
        "each language titles the settings its own way: {settings_titles:?}"
    );
    Ok(())
}

/// The app as an agent launches it (not under WebDriver, which keeps GPU compositing on for its
/// screenshots): with its default, CPU painting, the panel is on the screen with its controls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panel_paints_on_the_screen_without_gpu_compositing() -> anyhow::Result<()> {
    let emu = emulator().await?;
    let data = tempfile::tempdir()?;
    let desktop = Desktop::start()?;
    let app = desktop.launch_plain(&app_args(data.path(), &emu, free_udp_port()))?;
    // The panel (400×640 at the top left, no window manager) with its text and buttons: not
    // one flat colour. A window WebKit never painted is a flat fill.
    let (mut mean, mut spread) = (0.0, 0.0);
    for _ in 0..40 {
        (mean, spread) = desktop.screen("panel-as-launched", 400, 640)?;
        if spread > 0.08 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!("panel brightness mean {mean:.3}, spread {spread:.3}");
    assert!(
        spread > 0.08,
        "the panel shows its controls (brightness spread {spread:.3}, mean {mean:.3}); see \
         target/screenshots/panel-as-launched.png"
    );
    // Its web process runs with the app's memory-saving defaults: no GPU compositing, no DMA-BUF
    // renderer, no JIT.
    let web = app.environments_of("WebKitWebProces");
    assert_eq!(web.len(), 1, "one web process once the panel painted");
    for default in [
        "WEBKIT_DISABLE_COMPOSITING_MODE=1",
        "WEBKIT_DISABLE_DMABUF_RENDERER=1",
        "JSC_useJIT=0",
    ] {
        assert!(
            web[0].iter().any(|v| v == default),
            "the web process has {default}"
        );
    }
    Ok(())
}
