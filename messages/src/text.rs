//! Fitting text into WeCom's UTF-8 byte limits without ever cutting a character in half.

use std::borrow::Cow;

/// App `text` (message/send, appchat/send, passive replies): WeCom truncates beyond this.
pub const APP_TEXT_LIMIT: usize = 2048;
/// App `markdown` (message/send, appchat/send).
pub const APP_MARKDOWN_LIMIT: usize = 2048;
/// Webhook `text`.
pub const WEBHOOK_TEXT_LIMIT: usize = 2048;
/// Webhook `markdown`: WeCom answers 40058 beyond this.
pub const WEBHOOK_MARKDOWN_LIMIT: usize = 4096;
/// AI-bot `stream.content` and `response_url` markdown.
pub const AIBOT_CONTENT_LIMIT: usize = 20480;

const ELLIPSIS: &str = "…";

/// The largest index `<= max` that is a char boundary of `s`.
fn floor_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    // A UTF-8 character is at most 4 bytes, so a boundary is at most 3 steps back.
    (0..=max)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}

/// `s` unchanged if it fits in `max` bytes, otherwise shortened at a character boundary with a
/// trailing "…" so that the result, ellipsis included, is at most `max` bytes.
pub fn fit_bytes(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    if max < ELLIPSIS.len() {
        return Cow::Borrowed(&s[..floor_boundary(s, max)]);
    }
    let cut = floor_boundary(s, max - ELLIPSIS.len());
    let mut shortened = String::with_capacity(cut + ELLIPSIS.len());
    shortened.push_str(&s[..cut]);
    shortened.push_str(ELLIPSIS);
    Cow::Owned(shortened)
}

/// Splits `s` into pieces of at most `max` bytes, preferring to break at the last newline that
/// fits (newlines at the break are dropped), otherwise at a character boundary. No piece is empty.
///
/// `max` below 4 is raised to 4 so that every character fits in a piece.
pub fn split_bytes(s: &str, max: usize) -> Vec<String> {
    let max = max.max(4);
    let mut pieces = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        if rest.len() <= max {
            pieces.push(rest.to_owned());
            break;
        }
        let cut = floor_boundary(rest, max);
        // Looking at one byte past the window lets a newline right after a full piece count.
        let window = &rest[..floor_boundary(rest, max + 1)];
        match window.rfind('\n') {
            Some(newline) => {
                // Runs of newlines at a break are dropped: a piece of blank lines says nothing.
                let piece = rest[..newline].trim_end_matches('\n');
                if !piece.is_empty() {
                    pieces.push(piece.to_owned());
                }
                rest = rest[newline + 1..].trim_start_matches('\n');
            }
            None => {
                pieces.push(rest[..cut].to_owned());
                rest = &rest[cut..];
            }
        }
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fit_leaves_short_text_alone() {
        assert!(matches!(fit_bytes("报名", 6), Cow::Borrowed("报名")));
        assert_eq!(fit_bytes("", 0), "");
    }

    #[test]
    fn fit_shortens_at_char_boundaries() {
        // "你好世界" is 12 bytes; 8 leaves room for one 3-byte char plus the 3-byte ellipsis.
        assert_eq!(fit_bytes("你好世界", 8), "你…");
        assert_eq!(fit_bytes("你好世界", 9), "你好…");
        assert_eq!(fit_bytes("abcdef", 5), "ab…");
        assert_eq!(fit_bytes("你好", 2), "");
        assert_eq!(fit_bytes("ab你", 2), "ab");
    }

    #[test]
    fn split_prefers_newlines() {
        assert_eq!(split_bytes("aaaa\nbbbb\ncc", 9), ["aaaa\nbbbb", "cc"]);
        assert_eq!(split_bytes("aaaa\nbbbb", 4), ["aaaa", "bbbb"]);
        assert_eq!(split_bytes("aaaaaa", 4), ["aaaa", "aa"]);
        assert_eq!(split_bytes("你好世界", 7), ["你好", "世界"]);
        assert_eq!(split_bytes("\n\nab", 4), ["\n\nab"]);
        assert_eq!(split_bytes("\n\n\n\nab", 4), ["ab"]);
        assert!(split_bytes("", 10).is_empty());
    }

    proptest! {
        #[test]
        fn fit_respects_the_limit(s in "\\PC{0,40}", max in 0usize..60) {
            let fitted = fit_bytes(&s, max);
            prop_assert!(fitted.len() <= max || (s.len() <= max && fitted == s.as_str()));
            if s.len() <= max {
                prop_assert_eq!(fitted.as_ref(), s.as_str());
            } else if max >= 3 {
                prop_assert!(fitted.ends_with('…'));
                let kept = fitted.trim_end_matches('…');
                prop_assert!(s.starts_with(kept));
                // Shortened no more than one character beyond what the limit forces.
                prop_assert!(kept.len() + 3 + 4 > max);
            }
        }

        #[test]
        fn split_keeps_everything_but_boundary_newlines(s in "[a-c你\n]{0,60}", max in 4usize..20) {
            let pieces = split_bytes(&s, max);
            for piece in &pieces {
                prop_assert!(!piece.is_empty());
                prop_assert!(piece.len() <= max, "{:?} longer than {}", piece, max);
            }
            let without_newlines = |t: &str| t.replace('\n', "");
            prop_assert_eq!(without_newlines(&pieces.concat()), without_newlines(&s));
            if s.len() <= max && !s.is_empty() {
                prop_assert_eq!(pieces, vec![s.clone()]);
            }
        }
    }
}
