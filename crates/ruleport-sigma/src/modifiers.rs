//! Sigma value modifiers (spec appendix "Modifiers", v2.1) and their names.

/// A value modifier as written after `|` in a detection key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Modifier {
    Contains,
    StartsWith,
    EndsWith,
    All,
    Base64,
    Base64Offset,
    /// `wide` and its spec name `utf16le`.
    Utf16Le,
    Utf16Be,
    /// BOM followed by little-endian code units.
    Utf16,
    Windash,
    Re,
    IgnoreCase,
    Multiline,
    DotAll,
    Cidr,
    Exists,
    Expand,
    FieldRef,
    Gt,
    Gte,
    Lt,
    Lte,
    Cased,
    Neq,
    /// Date-part modifiers (v2.1): `minute`, `hour`, `day`, `week`, `month`, `year`.
    TimePart(&'static str),
}

/// Every accepted spelling, for parsing and "did you mean" hints.
pub(crate) const NAMES: &[(&str, Modifier)] = &[
    ("contains", Modifier::Contains),
    ("startswith", Modifier::StartsWith),
    ("endswith", Modifier::EndsWith),
    ("all", Modifier::All),
    ("base64", Modifier::Base64),
    ("base64offset", Modifier::Base64Offset),
    ("wide", Modifier::Utf16Le),
    ("utf16le", Modifier::Utf16Le),
    ("utf16be", Modifier::Utf16Be),
    ("utf16", Modifier::Utf16),
    ("windash", Modifier::Windash),
    ("re", Modifier::Re),
    ("i", Modifier::IgnoreCase),
    ("ignorecase", Modifier::IgnoreCase),
    ("m", Modifier::Multiline),
    ("multiline", Modifier::Multiline),
    ("s", Modifier::DotAll),
    ("dotall", Modifier::DotAll),
    ("cidr", Modifier::Cidr),
    ("exists", Modifier::Exists),
    ("expand", Modifier::Expand),
    ("fieldref", Modifier::FieldRef),
    ("gt", Modifier::Gt),
    ("gte", Modifier::Gte),
    ("lt", Modifier::Lt),
    ("lte", Modifier::Lte),
    ("cased", Modifier::Cased),
    ("neq", Modifier::Neq),
    ("minute", Modifier::TimePart("minute")),
    ("hour", Modifier::TimePart("hour")),
    ("day", Modifier::TimePart("day")),
    ("week", Modifier::TimePart("week")),
    ("month", Modifier::TimePart("month")),
    ("year", Modifier::TimePart("year")),
];

impl Modifier {
    /// Parse a modifier name (case-sensitive, as pySigma).
    pub(crate) fn parse(name: &str) -> Option<Modifier> {
        NAMES.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }

    /// The canonical spelling written by the exporter.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Modifier::Contains => "contains",
            Modifier::StartsWith => "startswith",
            Modifier::EndsWith => "endswith",
            Modifier::All => "all",
            Modifier::Base64 => "base64",
            Modifier::Base64Offset => "base64offset",
            Modifier::Utf16Le => "wide",
            Modifier::Utf16Be => "utf16be",
            Modifier::Utf16 => "utf16",
            Modifier::Windash => "windash",
            Modifier::Re => "re",
            Modifier::IgnoreCase => "i",
            Modifier::Multiline => "m",
            Modifier::DotAll => "s",
            Modifier::Cidr => "cidr",
            Modifier::Exists => "exists",
            Modifier::Expand => "expand",
            Modifier::FieldRef => "fieldref",
            Modifier::Gt => "gt",
            Modifier::Gte => "gte",
            Modifier::Lt => "lt",
            Modifier::Lte => "lte",
            Modifier::Cased => "cased",
            Modifier::Neq => "neq",
            Modifier::TimePart(n) => n,
        }
    }
}

/// The dash characters `windash` substitutes (spec): hyphen-minus, slash, en dash, em dash, horizontal bar.
pub(crate) const WINDASH_CHARS: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// The three base64 encodings of `data` at offsets 0, 1 and 2 inside a longer stream, with the
/// characters that depend on neighbouring bytes removed (pySigma `SigmaBase64OffsetModifier`).
pub(crate) fn base64_offsets(data: &[u8]) -> Vec<String> {
    use base64::Engine;
    let start = [0usize, 2, 3];
    let end_trim = [0usize, 3, 2];
    (0..3)
        .map(|i| {
            let mut buf = vec![b' '; i];
            buf.extend_from_slice(data);
            let enc = base64::engine::general_purpose::STANDARD.encode(&buf);
            let trim = end_trim[(data.len() + i) % 3];
            let end = enc.len().saturating_sub(trim);
            enc.get(start[i]..end).unwrap_or("").to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64offset_matches_pysigma() {
        // Values from pySigma's documentation/tests: `IEX` → `SUVY`, `lFW`, `JRV`.
        assert_eq!(base64_offsets(b"IEX"), vec!["SUVY", "lFW", "JRV"]);
        // Hand-derived: "/c" (2 bytes). Offset 0: b64("/c")="L2M=" minus 3 → "L"… check all three
        // against a sliding window: the encodings must occur inside base64 of any prefix + "/c" + suffix.
        use base64::Engine;
        let e = base64::engine::general_purpose::STANDARD;
        for (i, frag) in base64_offsets(b"hello world").iter().enumerate() {
            let mut text = vec![b'X'; i];
            text.extend_from_slice(b"hello world");
            text.extend_from_slice(b"YYY");
            assert!(e.encode(&text).contains(frag.as_str()), "{i}: {frag}");
        }
    }

    #[test]
    fn names_and_aliases() {
        assert_eq!(Modifier::parse("utf16le"), Some(Modifier::Utf16Le));
        assert_eq!(Modifier::parse("wide"), Some(Modifier::Utf16Le));
        assert_eq!(Modifier::parse("contians"), None);
    }
}
