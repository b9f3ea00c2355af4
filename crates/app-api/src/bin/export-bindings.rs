//! Regenerates `ui/src/bindings/` from the Rust types (run after changing a shared type):
//! `cargo run -p callpop-app-api --bin export-bindings`.

fn main() -> std::process::ExitCode {
    let dir = callpop_app_api::bindings_dir();
    // A type that was removed or renamed must not leave its old file behind.
    if dir.exists() {
        if let Err(err) = std::fs::remove_dir_all(&dir) {
            eprintln!("cannot clear {}: {err}", dir.display());
            return std::process::ExitCode::FAILURE;
        }
    }
    match callpop_app_api::export_bindings(&dir) {
        Ok(()) => {
            println!("wrote {}", dir.display());
            std::process::ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            std::process::ExitCode::FAILURE
        }
    }
}
