//! Temporary media (`media/upload`, 上传临时素材): the multipart body WeCom expects and its
//! size limits. From WeCom's documentation (document 90253): `POST
//! /cgi-bin/media/upload?access_token=…&type=file`, `multipart/form-data` with one part named
//! `media` whose disposition carries `filename` (the name the file message shows) and
//! `filelength`; every file must be larger than 5 bytes, and a `file` at most 20 MB; the
//! answer's `media_id` is valid for three days.

/// The kinds of temporary media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// 普通文件: up to 20 MB.
    File,
    /// JPG or PNG, up to 10 MB.
    Image,
    /// AMR, up to 2 MB and 60 s.
    Voice,
    /// MP4, up to 10 MB.
    Video,
}

/// Every uploaded file must be larger than this many bytes.
pub const MEDIA_MIN_EXCLUSIVE: usize = 5;
const MB: usize = 1024 * 1024;
/// A `file` may have at most this many bytes.
pub const FILE_MAX_BYTES: usize = 20 * MB;

impl MediaType {
    /// The `type` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::File => "file",
            MediaType::Image => "image",
            MediaType::Voice => "voice",
            MediaType::Video => "video",
        }
    }

    /// The largest upload WeCom accepts of this type.
    pub fn max_bytes(self) -> usize {
        match self {
            MediaType::File => FILE_MAX_BYTES,
            MediaType::Image | MediaType::Video => 10 * MB,
            MediaType::Voice => 2 * MB,
        }
    }

    /// Whether WeCom accepts a file of `bytes` bytes of this type.
    pub fn accepts(self, bytes: usize) -> bool {
        bytes > MEDIA_MIN_EXCLUSIVE && bytes <= self.max_bytes()
    }
}

/// A file name safe inside the quoted `filename="…"`: no quotes, backslashes or line breaks
/// (WeCom shows this name in the chat; other characters, Chinese included, are kept as UTF-8).
pub fn disposition_name(filename: &str) -> String {
    let cleaned: String = filename
        .chars()
        .map(|c| match c {
            '"' | '\\' | '/' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    if cleaned.trim().is_empty() {
        "file".to_string()
    } else {
        cleaned
    }
}

/// The `Content-Type` header for a body built with `boundary`.
pub fn content_type(boundary: &str) -> String {
    format!("multipart/form-data; boundary={boundary}")
}

/// The multipart body of one upload: a single part named `media`.
pub fn multipart_body(boundary: &str, filename: &str, bytes: &[u8]) -> Vec<u8> {
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"{}\"; \
         filelength={}\r\nContent-Type: application/octet-stream\r\n\r\n",
        disposition_name(filename),
        bytes.len()
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let mut body = Vec::with_capacity(head.len() + bytes.len() + tail.len());
    body.extend_from_slice(head.as_bytes());
    body.extend_from_slice(bytes);
    body.extend_from_slice(tail.as_bytes());
    body
}

/// A boundary that does not occur in `bytes`.
pub fn boundary_for(bytes: &[u8]) -> String {
    loop {
        let boundary = format!("----rallybot{:032x}", rand::random::<u128>());
        let needle = boundary.as_bytes();
        if !bytes.windows(needle.len()).any(|w| w == needle) {
            return boundary;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_the_documentation() {
        assert!(!MediaType::File.accepts(5));
        assert!(MediaType::File.accepts(6));
        assert!(MediaType::File.accepts(20 * 1024 * 1024));
        assert!(!MediaType::File.accepts(20 * 1024 * 1024 + 1));
        assert!(!MediaType::Voice.accepts(3 * 1024 * 1024));
    }

    #[test]
    fn the_body_is_one_media_part_with_name_and_length() {
        let body = multipart_body("XyZ", "获奖名单.xlsx", b"mytext");
        let text = String::from_utf8(body).unwrap();
        assert_eq!(
            text,
            "--XyZ\r\nContent-Disposition: form-data; name=\"media\"; filename=\"获奖名单.xlsx\"; \
             filelength=6\r\nContent-Type: application/octet-stream\r\n\r\nmytext\r\n--XyZ--\r\n"
        );
        assert_eq!(disposition_name("a\"b\\c\r\n.txt"), "a_b_c__.txt");
        assert_eq!(disposition_name(" "), "file");
    }

    #[test]
    fn boundaries_avoid_the_content() {
        let b = boundary_for(b"----rallybot");
        assert!(b.starts_with("----rallybot"));
        assert_eq!(b.len(), "----rallybot".len() + 32);
    }
}
