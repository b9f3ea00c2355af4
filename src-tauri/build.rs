//! Checks that the web UI is built, then lets tauri-build embed it, declare our commands (so that
//! each window's capability file grants only the ones it needs) and generate the ACL.

/// Every Tauri command of the shell: each gets an `allow-<name>` permission.
const COMMANDS: &[&str] = &[
    "snapshot",
    "act",
    "dial_preview",
    "dial",
    "search_records",
    "history",
    "retry_log",
    "sms_threads",
    "sms_messages",
    "send_sms",
    "settings",
    "save_settings",
    "layout",
    "save_layout",
    "import_layout",
    "export_layout",
    "salesforce",
    "sf_sign_in",
    "sf_check",
    "sf_disconnect",
    "sip_account",
    "save_sip_account",
    "audio_devices",
    "save_audio",
    "test_tone",
    "mic_monitor",
];

fn main() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist/index.html");
    println!("cargo:rerun-if-changed=../ui/dist");
    if !dist.exists() {
        // No placeholder UI: the shell is only built with the real one.
        panic!(
            "the web UI is not built ({} is missing): run `npm ci && npm run build` in ui/ \
             (`make ui`) before building callpop-desktop",
            dist.display()
        );
    }
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(err) = tauri_build::try_build(attributes) {
        panic!("tauri-build: {err:#}");
    }
}
