//! File names from rule ids, and stable ids per rule and target.
//!
//! A file name never leaves its pack folder: only `[A-Za-z0-9._-]` survive, a name cannot start
//! with a dot, Windows device names are prefixed, and a lossy name gets a hash of the original so
//! two ids that sanitise alike still get different files.

use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Longest file stem written (before the hash suffix).
const MAX_STEM: usize = 64;

/// The namespace of ruleport's UUID v5 ids: UUID v5 of the URL `urn:ruleport:rule-pack`.
pub fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:ruleport:rule-pack")
}

/// The stable id of a rule on a target: UUID v5 of `<target>:<source id>` in [`namespace`].
pub fn target_uuid(source_id: &str, target: &str) -> Uuid {
    Uuid::new_v5(&namespace(), format!("{target}:{source_id}").as_bytes())
}

/// Hex sha256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_windows_device(stem: &str) -> bool {
    let base = stem.split('.').next().unwrap_or(stem).to_ascii_lowercase();
    matches!(base.as_str(), "con" | "prn" | "aux" | "nul")
        || ((base.starts_with("com") || base.starts_with("lpt"))
            && base.len() == 4
            && base.as_bytes()[3].is_ascii_digit())
}

/// A file stem for an id: safe on every file system and never a path.
pub fn file_stem(id: &str) -> String {
    let mut stem: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = stem
        .trim_start_matches('.')
        .trim_end_matches('.')
        .to_string();
    stem = trimmed;
    let mut lossy = stem != id;
    if stem.chars().count() > MAX_STEM {
        stem = stem.chars().take(MAX_STEM).collect();
        lossy = true;
    }
    if is_windows_device(&stem) {
        stem = format!("_{stem}");
        lossy = true;
    }
    if stem.is_empty() {
        stem = "rule".into();
        lossy = true;
    }
    if lossy {
        let h = sha256_hex(id.as_bytes());
        stem = format!("{stem}-{}", &h[..8]);
    }
    stem
}

/// Unique stems for a list of ids, in order; a repeated stem (also when equal ignoring case)
/// gets `-2`, `-3`….
pub fn unique_stems<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for id in ids {
        let base = file_stem(id);
        let mut stem = base.clone();
        let mut n = 2;
        while seen.contains(&stem.to_ascii_lowercase()) {
            stem = format!("{base}-{n}");
            n += 1;
        }
        seen.insert(stem.to_ascii_lowercase());
        out.push(stem);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::path::{Component, Path};

    fn stays_inside(stem: &str) -> bool {
        let p = Path::new("out").join(format!("{stem}.json"));
        p.components().count() == 2 && p.components().all(|c| matches!(c, Component::Normal(_)))
    }

    #[test]
    fn uuid_ids_are_kept() {
        assert_eq!(
            file_stem("1a36cace-11a7-43a8-9a10-b497c5a02cd3"),
            "1a36cace-11a7-43a8-9a10-b497c5a02cd3"
        );
    }

    #[test]
    fn hostile_ids_stay_in_the_folder() {
        let long = "x".repeat(5000);
        for id in [
            "../../etc/passwd",
            "/abs/path",
            "a\0b",
            "..",
            ".",
            "",
            "C:\\win",
            "con",
            "NUL.txt",
            &long,
            "é/ü",
        ] {
            let s = file_stem(id);
            assert!(stays_inside(&s), "{id:?} -> {s:?}");
            assert!(!s.starts_with('.'), "{s}");
            assert!(s.len() <= MAX_STEM + 9, "{s}");
        }
        assert_eq!(
            file_stem("../x"),
            format!("_x-{}", &sha256_hex(b"../x")[..8])
        );
    }

    #[test]
    fn stems_are_unique() {
        let s = unique_stems(["a/b", "a_b", "A_B", "a_b"]);
        assert_eq!(s.len(), 4);
        let lower: BTreeSet<String> = s.iter().map(|x| x.to_ascii_lowercase()).collect();
        assert_eq!(lower.len(), 4);
    }

    #[test]
    fn target_uuid_is_v5_of_namespace() {
        // Computed independently: uuid5(uuid5(NAMESPACE_URL, "urn:ruleport:rule-pack"),
        // "sentinel:1a36cace-11a7-43a8-9a10-b497c5a02cd3") with Python's uuid module.
        assert_eq!(namespace().to_string(), NAMESPACE_PY);
        assert_eq!(
            target_uuid("1a36cace-11a7-43a8-9a10-b497c5a02cd3", "sentinel").to_string(),
            SENTINEL_SEED_PY
        );
        assert_eq!(target_uuid("x", "a").get_version_num(), 5);
    }

    const NAMESPACE_PY: &str = "33b79eb7-acca-5343-baee-15ab2879606b";
    const SENTINEL_SEED_PY: &str = "d13dd4ee-1fd4-5857-8a13-b9b3bdc4c57f";
}
