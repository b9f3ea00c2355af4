//! The committed TypeScript bindings are exactly what the Rust types generate.

use std::collections::BTreeMap;
use std::path::Path;

/// Every `.ts` file under `dir` (ts-rs puts library types in subfolders: `serde_json/`), by
/// path relative to `dir`.
fn ts_files(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder)
            .unwrap_or_else(|e| panic!("reading {}: {e}", folder.display()));
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|x| x == "ts") {
                let name = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                files.insert(name, text);
            }
        }
    }
    files
}

#[test]
fn bindings_are_current() {
    let fresh = tempfile::tempdir().expect("a temp dir");
    callpop_app_api::export_bindings(fresh.path()).expect("exporting the bindings");
    let want = ts_files(fresh.path());
    assert!(
        want.contains_key("UiEvent.ts") && want.contains_key("Snapshot.ts"),
        "the export writes one file per type, got {:?}",
        want.keys().collect::<Vec<_>>()
    );
    let have = ts_files(&callpop_app_api::bindings_dir());
    let refresh = "refresh them with `cargo run -p callpop-app-api --bin export-bindings` and commit ui/src/bindings/";
    for (name, text) in &want {
        assert_eq!(
            have.get(name),
            Some(text),
            "ui/src/bindings/{name} is missing or stale: {refresh}"
        );
    }
    for name in have.keys() {
        assert!(
            want.contains_key(name),
            "ui/src/bindings/{name} is no longer generated: {refresh}"
        );
    }
}
