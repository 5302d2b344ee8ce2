//! Reading input files: every rule, fixture, mapping and pipeline file goes through
//! [`read_text`], so each gets the same size limit and the same messages for binary, UTF-16 or
//! otherwise non-UTF-8 content.

use crate::Diagnostic;
use std::path::Path;

/// Files larger than this are refused with a message instead of being read.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Read a text file with a clear message for binary, non-UTF-8 or oversized input.
pub fn read_text(path: &Path) -> Result<String, Diagnostic> {
    use std::io::Read;
    let read_err = |e: std::io::Error| {
        Diagnostic::error("E-READ", format!("cannot read file: {e}")).in_file(path)
    };
    // One open, then the size from the handle: a path lookup per call showed in the corpus profile.
    let file = std::fs::File::open(path).map_err(read_err)?;
    let len = file.metadata().map_err(read_err)?.len();
    if len > MAX_FILE_BYTES {
        return Err(Diagnostic::error(
            "E-TOO-LARGE",
            format!("file is {len} bytes; the limit is {MAX_FILE_BYTES}"),
        )
        .in_file(path));
    }
    let mut bytes = Vec::with_capacity(len as usize + 1);
    // `take` keeps a file that grows while it is read within the limit.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Diagnostic::error(
            "E-TOO-LARGE",
            format!("file is over the limit of {MAX_FILE_BYTES} bytes"),
        )
        .in_file(path));
    }
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return Err(
            Diagnostic::error("E-ENCODING", "UTF-16 file: save it as UTF-8")
                .in_file(path)
                .at(crate::Pos::new(1, 1))
                .with_hint("rule and fixture files must be UTF-8 encoded"),
        );
    }
    if let Some(nul) = memchr::memchr(0, &bytes) {
        let before = String::from_utf8_lossy(&bytes[..nul]);
        return Err(Diagnostic::error(
            "E-BINARY",
            "file contains a NUL byte: not a text rule file",
        )
        .in_file(path)
        .at(crate::Pos::from_offset(&before, before.len())));
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let pos = crate::Pos::from_offset(&String::from_utf8_lossy(&e.into_bytes()), offset);
        Diagnostic::error("E-ENCODING", "file is not valid UTF-8")
            .in_file(path)
            .at(pos)
            .with_hint("rule files must be UTF-8 encoded")
    })
}
