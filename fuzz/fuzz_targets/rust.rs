//! Fuzz target: `frontend::rust::lower` must never panic, hang or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = racelint::frontend::rust::lower(&text);
});
