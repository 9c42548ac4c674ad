//! Telling formats apart by their first bytes.

/// The first bytes of every EVTX file.
pub(crate) const EVTX_MAGIC: &[u8] = b"ElfFile\0";
/// The first bytes of every gzip member.
pub(crate) const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
/// The first bytes of a zip archive (a local file header, or the end record of an empty one).
pub(crate) const ZIP_MAGICS: [&[u8]; 2] = [b"PK\x03\x04", b"PK\x05\x06"];
/// UTF-8 byte order mark, which some tools write before JSON.
pub(crate) const UTF8_BOM: &[u8] = &[0xef, 0xbb, 0xbf];

/// What some bytes look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Content {
    Evtx,
    Gzip,
    Zip,
    /// Starts (after whitespace and a BOM) with `{` or `[`.
    Json,
    Other,
}

/// Classifies `head`, the first bytes of a stream (a few hundred are plenty).
pub(crate) fn content_of(head: &[u8]) -> Content {
    if head.starts_with(EVTX_MAGIC) {
        Content::Evtx
    } else if head.starts_with(GZIP_MAGIC) {
        Content::Gzip
    } else if ZIP_MAGICS.iter().any(|m| head.starts_with(m)) {
        Content::Zip
    } else {
        let decoded;
        let head = if crate::utf16::utf16_bom(head).is_some() {
            decoded = crate::utf16::decode_head(head);
            &decoded[..]
        } else {
            head
        };
        match first_json_byte(head) {
            Some(b'{' | b'[') => Content::Json,
            _ => Content::Other,
        }
    }
}

/// The first byte that is not whitespace or part of a UTF-8 BOM.
pub(crate) fn first_json_byte(head: &[u8]) -> Option<u8> {
    let head = head.strip_prefix(UTF8_BOM).unwrap_or(head);
    head.iter().copied().find(|b| !b.is_ascii_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_magic_bytes() {
        assert_eq!(content_of(b"ElfFile\0\0\0"), Content::Evtx);
        assert_eq!(content_of(&[0x1f, 0x8b, 8, 0]), Content::Gzip);
        assert_eq!(content_of(b"PK\x03\x04rest"), Content::Zip);
        assert_eq!(content_of(b"\xef\xbb\xbf \n{\"a\":1}"), Content::Json);
        assert_eq!(content_of(b"  [1]"), Content::Json);
        assert_eq!(content_of(b"Oct 12 sshd[1]: hi"), Content::Other);
        assert_eq!(content_of(b""), Content::Other);
        assert_eq!(content_of(b"\xff\xfe \0{\0"), Content::Json);
        assert_eq!(content_of(b"\xfe\xff\0[\0{"), Content::Json);
    }
}
