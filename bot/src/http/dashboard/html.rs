//! The pages' frame: escaping, the layout with its navigation, the style sheet (inline: one
//! request per page, nothing from elsewhere), and the headers every page carries.

use std::fmt::Write as _;

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The pages of the navigation: path and name.
const NAV: [(&str, &str); 5] = [
    ("/dashboard", "概览"),
    ("/dashboard/quotas", "任务进度"),
    ("/dashboard/tracks", "榜单"),
    ("/dashboard/reviews", "待审核"),
    ("/dashboard/outbox", "推送"),
];

const STYLE: &str = include_str!("style.css");

/// Text made safe for HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `current` is the navigation path to mark, `body` is HTML.
pub fn page(campaign_name: &str, title: &str, current: &str, body: &str) -> Response {
    let mut nav = String::from("<nav>");
    for (path, name) in NAV {
        let mark = if path == current {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(nav, "<a href=\"{path}\"{mark}>{name}</a>");
    }
    nav.push_str(
        "<form method=\"post\" action=\"/dashboard/logout\"><button>退出</button></form></nav>",
    );
    html_response(document(campaign_name, title, &nav, body))
}

/// The HTML document around a page's `body`, with the campaign's name and `nav` in its header.
pub fn document(campaign_name: &str, title: &str, nav: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · {campaign}</title><style>{STYLE}</style></head><body>\
         <header><div class=\"campaign\">{campaign}</div>{nav}</header>\
         <main><h1>{title}</h1>{body}</main></body></html>",
        title = escape(title),
        campaign = escape(campaign_name),
    )
}

/// An HTML answer with the headers every dashboard page carries: never cached, never framed,
/// nothing loaded from anywhere (the styles are inline, the charts are inline SVG).
pub fn html_response(html: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        html,
    )
        .into_response()
}

/// `1,234,567`.
pub fn number(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// A figure the tests and the browser read back: `<b data-stat="key">1,234</b>`.
pub fn stat(key: &str, n: i64) -> String {
    format!(
        "<b data-stat=\"{}\" data-value=\"{n}\">{}</b>",
        escape(key),
        number(n)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_user_text_is_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(number(0), "0");
        assert_eq!(number(999), "999");
        assert_eq!(number(1000), "1,000");
        assert_eq!(number(10_007_569), "10,007,569");
        assert_eq!(number(-1234), "-1,234");
    }
}
