//! Recognising uploaded images by their content, not by the name or type the
//! browser claims, so only real JPEG, PNG or WebP files are stored and served.

/// The largest photo accepted, in bytes.
pub const MAX_PHOTO_BYTES: usize = 3 * 1024 * 1024;

/// The media type of an image, from its first bytes.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some("image/png"),
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => Some("image/webp"),
        _ => None,
    }
}

/// Checks an upload: a known image type within the size limit.
pub fn check_photo(bytes: &[u8]) -> Result<&'static str, String> {
    if bytes.is_empty() {
        return Err("写真のファイルを選んでください。".into());
    }
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(format!(
            "写真は{}MBまでにしてください。",
            MAX_PHOTO_BYTES / 1024 / 1024
        ));
    }
    sniff(bytes)
        .ok_or_else(|| "写真は JPEG・PNG・WebP のいずれかの画像ファイルにしてください。".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_images_are_recognised_and_others_refused() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0]), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"<svg onload=alert(1)>"), None);
        assert!(check_photo(b"").is_err());
        assert!(check_photo(b"GIF89a").is_err());
        assert!(check_photo(&vec![0xFF; MAX_PHOTO_BYTES + 1]).is_err());
    }
}
