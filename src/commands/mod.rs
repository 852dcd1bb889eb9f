//! One module per command: each turns settings and arguments into calls on the library and output.

pub mod devices;
pub mod draft;
pub mod eval;
pub mod models;
pub mod transcribe;

/// Print to stdout; a reader that went away (`| head`) is not an error worth a panic.
pub fn show(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}
