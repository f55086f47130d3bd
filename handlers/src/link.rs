//! Entry links: what a member may submit (SPEC §5) and the canonical form that decides whether
//! two links are the same work, so that `http://`, a trailing dot or slash, `//`, `%61`, a
//! fragment or a sharing parameter does not make an article a new entry.
//!
//! The canonical form (the link's `key`) is compared, never shown. It is built from the URL as
//! the `url` crate parses it (host lower case and IDNA-mapped, IPv4 normalised, default port
//! removed, dot segments resolved), then:
//! - scheme: `http` and `https` serve the same article, so the key is always `https`;
//! - host: without its trailing dot(s); a port that is the default of either scheme goes;
//! - path: empty segments dropped (`//` collapsed, no trailing `/` but the root), dot segments
//!   resolved after that, percent-encoded unreserved characters decoded (`%61` → `a`), every other
//!   escape in upper-case hex, and bytes that may not appear raw in a path escaped;
//! - query: parameters that platforms add for sharing and tracking dropped ([`TRACKING`],
//!   `utm_*`), names and values form-decoded and re-encoded one way, stable-sorted by name, and
//!   no `?` when nothing is left;
//! - fragment: dropped (`#rd`, `#wechat_redirect`), except a route of a single-page site
//!   (`#/detail/17`, `#!/detail/17`), which names the page;
//! - WeChat articles (`mp.weixin.qq.com`): `/s/<id>` is the whole identity (query and fragment
//!   dropped); `/s?__biz=…&mid=…&idx=…&sn=…` keeps only those four parameters.

use std::fmt;

use percent_encoding::percent_decode;
use url::{form_urlencoded, Url};

/// Longest link accepted, in bytes.
pub const MAX_LINK_BYTES: usize = 1024;

/// Why a link was refused; the message is shown to the worker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkProblem {
    #[error("链接不完整，请复制以 http:// 或 https:// 开头的完整链接")]
    Malformed,
    #[error("只接受 http:// 或 https:// 开头的链接")]
    Scheme,
    #[error("链接太长（最多 1024 个字符）")]
    TooLong,
    #[error("链接里不能带用户名或密码")]
    UserInfo,
    #[error("这个赛道只接受以下网站的链接：{0}")]
    Host(String),
}

/// Query parameters (compared in lower case) that say how a link was shared or who clicked
/// it, never which page it is: WeChat's in-app and sharing parameters, and the common
/// campaign and referral tags of other platforms (Bilibili's `spm_id_from`, `vd_source`,
/// `share_*`; Facebook's and Google's click ids). Names that some site might use for content
/// (`id`, `mid`, `key`, `source`, `t`, …) are not here: a wrongly dropped parameter would
/// refuse a different work as a duplicate, which is worse than missing a disguised one.
pub const TRACKING: &[&str] = &[
    // WeChat, as it appends them to shared and in-app article links.
    "from",
    "isappinstalled",
    "scene",
    "subscene",
    "clicktime",
    "enterid",
    "ascene",
    "devicetype",
    "version",
    "nettype",
    "lang",
    "exportkey",
    "pass_ticket",
    "wx_header",
    "sessionid",
    "share_token",
    "sharer_shareid",
    "sharer_sharetime",
    "sharer_shareinfo",
    "sharer_shareinfo_first",
    "mpshare",
    "srcid",
    "realreporttime",
    "fontscale",
    "countrycode",
    // Other platforms.
    "spm",
    "spm_id_from",
    "from_spmid",
    "vd_source",
    "share_source",
    "share_medium",
    "share_plat",
    "share_session_id",
    "share_tag",
    "share_from",
    "fbclid",
    "gclid",
];

/// Campaign tags: `utm_source`, `utm_medium`, …
const TRACKING_PREFIX: &str = "utm_";

/// The host of WeChat official-account articles.
const WECHAT_ARTICLES: &str = "mp.weixin.qq.com";

/// The parameters that identify a long-form WeChat article: account, message, position in the
/// message, signature.
const WECHAT_ARTICLE_PARAMS: &[&str] = &["__biz", "mid", "idx", "sn"];

/// A link a member may submit: `http`/`https`, at most [`MAX_LINK_BYTES`], with a host and no
/// user info. Keeps the link as entered (serialised by the `url` crate, so it is always a
/// valid, clickable URL) and its canonical key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    shown: String,
    key: String,
    host: String,
}

impl Link {
    pub fn parse(input: &str) -> Result<Self, LinkProblem> {
        let input = input.trim();
        if input.len() > MAX_LINK_BYTES {
            return Err(LinkProblem::TooLong);
        }
        let url = Url::parse(input).map_err(|_| LinkProblem::Malformed)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(LinkProblem::Scheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(LinkProblem::UserInfo);
        }
        let host = url
            .host_str()
            .ok_or(LinkProblem::Malformed)?
            .trim_end_matches('.')
            .to_string();
        if host.is_empty() {
            return Err(LinkProblem::Malformed);
        }
        let shown = url.to_string();
        if shown.len() > MAX_LINK_BYTES {
            return Err(LinkProblem::TooLong);
        }
        let key = canonical(&url, &host);
        Ok(Self { shown, key, host })
    }

    /// The link as the member entered it: what members and reviewers see.
    pub fn as_str(&self) -> &str {
        &self.shown
    }

    /// The canonical form: two links of one work have the same key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The host, lower case, without a trailing dot: what `link_hosts` is matched against.
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// The key of a parsed `http(s)` URL whose host (cleaned) is `host`.
fn canonical(url: &Url, host: &str) -> String {
    let segments = path_segments(url.path());
    let mut key = format!("https://{host}");
    // `http` and `https` are one: so are their default ports, whichever scheme was typed.
    if let Some(port) = url.port().filter(|&port| port != 80 && port != 443) {
        key.push_str(&format!(":{port}"));
    }
    key.push('/');
    key.push_str(&segments.join("/"));

    let mut params = query_params(url.query().unwrap_or_default());
    let wechat = host == WECHAT_ARTICLES;
    let mut fragment = url.fragment().and_then(route);
    if wechat {
        // Articles are rendered by the server: no fragment ever names one.
        fragment = None;
        match segments.as_slice() {
            // `/s/<id>`: the short link is the article's identity.
            [s, _] if s == "s" => params.clear(),
            // `/s?__biz=…&mid=…`: account and message name the article, the rest is sharing.
            [s] if s == "s" && has(&params, "__biz") && has(&params, "mid") => {
                params.retain(|(name, _)| {
                    WECHAT_ARTICLE_PARAMS
                        .iter()
                        .any(|kept| kept.as_bytes() == name.as_slice())
                });
            }
            _ => {}
        }
    }
    params.retain(|(name, _)| !is_tracking(name));
    params.sort_by(|a, b| a.0.cmp(&b.0));
    if !params.is_empty() {
        key.push('?');
        let pairs: Vec<String> = params
            .iter()
            .map(|(name, value)| format!("{}={}", form_encode(name), form_encode(value)))
            .collect();
        key.push_str(&pairs.join("&"));
    }
    if let Some(fragment) = fragment {
        key.push('#');
        key.push_str(&fragment);
    }
    key
}

/// The path's segments in normal form: no empty ones, dot segments resolved (also those
/// that were percent-encoded), escapes normalised.
fn path_segments(path: &str) -> Vec<String> {
    let mut segments: Vec<String> = Vec::new();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        let segment = normalize_escapes(segment, is_pchar);
        match segment.as_str() {
            "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    segments
}

/// A fragment that is the route of a single-page site (`/detail/17`, `!/detail/17`), in
/// normal form; `None` for anything else, which only marks a place in the page.
fn route(fragment: &str) -> Option<String> {
    let path = fragment
        .strip_prefix("!/")
        .or_else(|| fragment.strip_prefix('/'))?;
    if path.trim_matches('/').is_empty() {
        return None;
    }
    let bang = if fragment.starts_with('!') { "!" } else { "" };
    Some(format!(
        "{bang}/{}",
        normalize_escapes(path, |b| is_pchar(b) || b == b'/' || b == b'?')
    ))
}

/// RFC 3986 normalisation of one component: escapes of unreserved characters decoded, other
/// escapes in upper case, and raw bytes that `raw_ok` does not allow escaped. A `%` that
/// starts no escape is escaped itself.
fn normalize_escapes(text: &str, raw_ok: impl Fn(u8) -> bool) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        let escaped = (byte == b'%')
            .then(|| hex_byte(bytes.get(i + 1..i + 3)?))
            .flatten();
        match escaped {
            Some(decoded) if is_unreserved(decoded) => {
                out.push(char::from(decoded));
                i += 3;
            }
            Some(decoded) => {
                push_escape(&mut out, decoded);
                i += 3;
            }
            None if byte != b'%' && raw_ok(byte) => {
                out.push(char::from(byte));
                i += 1;
            }
            None => {
                push_escape(&mut out, byte);
                i += 1;
            }
        }
    }
    out
}

/// The byte two hex digits stand for.
fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |b: u8| char::from(b).to_digit(16);
    match pair {
        [high, low] => Some(u8::try_from(digit(*high)? * 16 + digit(*low)?).ok()?),
        _ => None,
    }
}

fn push_escape(out: &mut String, byte: u8) {
    out.push_str(&format!("%{byte:02X}"));
}

/// `ALPHA / DIGIT / "-" / "." / "_" / "~"`: the same raw or escaped.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// What may stand raw in a path segment: unreserved, sub-delims, `:` and `@`. Raw and escaped
/// forms of the reserved ones are different links (RFC 3986 §6.2.2.2), so both are kept.
fn is_pchar(byte: u8) -> bool {
    is_unreserved(byte)
        || matches!(
            byte,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
}

/// The query as decoded `(name, value)` byte strings, the way servers read it
/// (`application/x-www-form-urlencoded`: `+` is a space, `a` is `a=`). Bytes, not text, so
/// that two different non-UTF-8 values (a GBK search term) never decode to the same thing.
fn query_params(query: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(name), form_decode(value))
        })
        .collect()
}

fn form_decode(text: &str) -> Vec<u8> {
    let spaced = text.replace('+', " ");
    percent_decode(spaced.as_bytes()).collect()
}

fn form_encode(bytes: &[u8]) -> String {
    form_urlencoded::byte_serialize(bytes).collect()
}

fn has(params: &[(Vec<u8>, Vec<u8>)], name: &str) -> bool {
    params.iter().any(|(n, _)| n == name.as_bytes())
}

fn is_tracking(name: &[u8]) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with(TRACKING_PREFIX.as_bytes())
        || TRACKING
            .iter()
            .any(|tracking| tracking.as_bytes() == name.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(link: &str) -> String {
        Link::parse(link)
            .unwrap_or_else(|e| panic!("{link}: {e}"))
            .key()
            .to_string()
    }

    const SHORT: &str = "https://mp.weixin.qq.com/s/Auyufp-tU1Ue_usDS6B34VZg";
    const LONG: &str = "https://mp.weixin.qq.com/s?__biz=MzA5MDAxMjQ0MQ==&mid=2650000001&idx=1&sn=0123456789abcdef0123456789abcdef";

    #[test]
    fn the_issues_variants_of_one_article_share_its_key() {
        let article = "https://example.org/news/2024/story";
        let variants = [
            "http://example.org/news/2024/story",
            "https://example.org./news/2024/story",
            "https://EXAMPLE.org/news/2024/story",
            "https://example.org/news/2024/story#",
            "https://example.org/news/2024/story#comments",
            "https://example.org/news/2024/story?",
            "https://example.org/news/2024/story?from=timeline",
            "https://example.org/news/2024/story?from=timeline&isappinstalled=0",
            "https://example.org/news/2024/story/",
            "https://example.org//news//2024/story",
            "https://example.org/news/2024/%73tory",
            "https://example.org/news/2024/%73%74%6F%72%79",
            "https://example.org/news/./2024/../2024/story",
            "https://example.org:443/news/2024/story",
            "http://example.org:80/news/2024/story",
            "https://example.org/news/2024/story?utm_source=wechat&utm_medium=share",
            "  https://example.org/news/2024/story  ",
        ];
        let expected = key(article);
        assert_eq!(expected, "https://example.org/news/2024/story");
        for variant in variants {
            assert_eq!(key(variant), expected, "{variant}");
        }
    }

    #[test]
    fn wechat_short_links_are_the_id_alone() {
        assert_eq!(key(SHORT), SHORT);
        for variant in [
            "http://mp.weixin.qq.com/s/Auyufp-tU1Ue_usDS6B34VZg",
            "https://mp.weixin.qq.com/s/Auyufp-tU1Ue_usDS6B34VZg/",
            "https://MP.WEIXIN.QQ.COM./s/Auyufp-tU1Ue_usDS6B34VZg",
            "https://mp.weixin.qq.com/s/Auyufp-tU1Ue_usDS6B34VZg#rd",
            "https://mp.weixin.qq.com/s/Auyufp-tU1Ue_usDS6B34VZg?scene=1&click_id=7",
            "https://mp.weixin.qq.com//s/Auyufp-tU1Ue_usDS6B34VZg",
        ] {
            assert_eq!(key(variant), SHORT, "{variant}");
        }
        // The id is case-sensitive: another case is another article.
        assert_ne!(
            key("https://mp.weixin.qq.com/s/auyufp-tu1ue_usds6b34vzg"),
            SHORT
        );
    }

    #[test]
    fn wechat_long_links_keep_account_message_index_and_signature() {
        let expected = "https://mp.weixin.qq.com/s?__biz=MzA5MDAxMjQ0MQ%3D%3D&idx=1&mid=2650000001&sn=0123456789abcdef0123456789abcdef";
        assert_eq!(key(LONG), expected);
        for variant in [
            "http://mp.weixin.qq.com/s?__biz=MzA5MDAxMjQ0MQ==&mid=2650000001&idx=1&sn=0123456789abcdef0123456789abcdef#wechat_redirect",
            "https://mp.weixin.qq.com/s?sn=0123456789abcdef0123456789abcdef&idx=1&mid=2650000001&__biz=MzA5MDAxMjQ0MQ%3D%3D",
            "https://mp.weixin.qq.com/s/?__biz=MzA5MDAxMjQ0MQ==&mid=2650000001&idx=1&sn=0123456789abcdef0123456789abcdef&chksm=84a1b2c3d4e5&scene=21",
            "https://mp.weixin.qq.com/s?__biz=MzA5MDAxMjQ0MQ==&mid=2650000001&idx=1&sn=0123456789abcdef0123456789abcdef&chksm=84a1&mpshare=1&scene=23&srcid=0510xyz&sharer_sharetime=1715300000000&sharer_shareid=abc&key=k&ascene=1&uin=MTIz&devicetype=Windows+10&version=63090a13&lang=zh_CN&exportkey=e&pass_ticket=p&wx_header=1#rd",
        ] {
            assert_eq!(key(variant), expected, "{variant}");
        }
        // Another message, another position or another account is another article.
        for other in [
            LONG.replace("mid=2650000001", "mid=2650000002"),
            LONG.replace("idx=1", "idx=2"),
            LONG.replace("MzA5MDAxMjQ0MQ==", "MzI0NTAxMjQ0MQ=="),
        ] {
            assert_ne!(key(&other), expected, "{other}");
        }
    }

    #[test]
    fn other_wechat_pages_keep_their_parameters() {
        // A temporary (search) link: its signature is all there is to compare.
        let temporary =
            "https://mp.weixin.qq.com/s?src=11&timestamp=1495560892&ver=1&signature=abc";
        assert_eq!(
            key(temporary),
            "https://mp.weixin.qq.com/s?signature=abc&src=11&timestamp=1495560892&ver=1"
        );
        assert_ne!(key(temporary), key(&temporary.replace("abc", "abd")));
    }

    #[test]
    fn different_works_stay_different() {
        let links = [
            "https://example.org/news/1",
            "https://example.org/news/2",
            "https://example.org/News/1",
            "https://example.org/news/1?id=1",
            "https://example.org/news/1?id=2",
            "https://example.org/news/1?id=1&page=2",
            "https://example.org/news/1%2F2",
            "https://example.org/news/1/2",
            "https://example.org/news/1%3Bx",
            "https://example.org/news/1;x",
            "https://example.org/news/1?q=a%2Bb",
            "https://example.org/news/1?q=a+b",
            "https://example.org/news/1?q=%D6%D0",
            "https://example.org/news/1?q=%D6%D1",
            "https://www.example.org/news/1",
            "https://example.org:8443/news/1",
            "https://example.org/#/detail/1",
            "https://example.org/#/detail/2",
            "https://example.org/#!/detail/2",
            SHORT,
            LONG,
        ];
        let keys: Vec<String> = links.iter().map(|l| key(l)).collect();
        for (i, a) in keys.iter().enumerate() {
            for (j, b) in keys.iter().enumerate().skip(i + 1) {
                assert_ne!(a, b, "{} vs {}", links[i], links[j]);
            }
        }
        // Parameter order is not a difference.
        assert_eq!(
            key("https://example.org/news/1?page=2&id=1"),
            key("https://example.org/news/1?id=1&page=2")
        );
    }

    #[test]
    fn escapes_are_normalised_and_raw_specials_escaped() {
        assert_eq!(
            key("https://example.org/%e4%b8%ad"),
            key("https://example.org/中")
        );
        assert_eq!(
            key("https://example.org/%e4%b8%ad"),
            "https://example.org/%E4%B8%AD"
        );
        assert_eq!(
            key("https://example.org/a|b"),
            key("https://example.org/a%7cb")
        );
        assert_eq!(
            key("https://example.org/a%2fb"),
            "https://example.org/a%2Fb"
        );
        assert_eq!(
            key("https://example.org/100%"),
            "https://example.org/100%25"
        );
        assert_eq!(
            key("https://example.org/s?q=%E4%B8%AD%E6%96%87"),
            key("https://example.org/s?q=中文")
        );
        assert_eq!(
            key("https://example.org/s?q=a%20b"),
            key("https://example.org/s?q=a+b")
        );
        assert_eq!(
            key("https://example.org/s?flag"),
            key("https://example.org/s?flag=")
        );
        assert_eq!(
            key("https://example.org/s?a=1&&b=2&"),
            key("https://example.org/s?b=2&a=1")
        );
    }

    #[test]
    fn hosts_ports_and_fragments() {
        assert_eq!(key("HTTP://Example.ORG"), "https://example.org/");
        assert_eq!(key("https://example.org.."), "https://example.org/");
        assert_eq!(key("http://example.org:443/x"), "https://example.org/x");
        assert_eq!(
            key("http://example.org:8080/x"),
            key("https://example.org:8080/x")
        );
        assert_eq!(
            key("https://例子.中国/x"),
            "https://xn--fsqu00a.xn--fiqs8s/x"
        );
        assert_eq!(key("https://example.org/#/"), "https://example.org/");
        assert_eq!(key("https://example.org/#top"), "https://example.org/");
        assert_eq!(
            key("https://example.org/#/detail/%61"),
            "https://example.org/#/detail/a"
        );
        assert_eq!(
            Link::parse("HTTP://Example.ORG./a#rd").unwrap().host(),
            "example.org"
        );
    }

    #[test]
    fn the_link_as_entered_is_kept_for_display() {
        let link = Link::parse(" http://mp.weixin.qq.com/s/abc?scene=1#rd ").unwrap();
        assert_eq!(link.as_str(), "http://mp.weixin.qq.com/s/abc?scene=1#rd");
        assert_eq!(link.to_string(), link.as_str());
        assert_eq!(link.key(), "https://mp.weixin.qq.com/s/abc");
    }

    #[test]
    fn refusals_are_typed() {
        assert_eq!(Link::parse("ftp://example.org/x"), Err(LinkProblem::Scheme));
        assert_eq!(Link::parse("javascript:alert(1)"), Err(LinkProblem::Scheme));
        assert_eq!(
            Link::parse("mp.weixin.qq.com/s/abc"),
            Err(LinkProblem::Malformed)
        );
        assert_eq!(
            Link::parse("https://user@example.org/"),
            Err(LinkProblem::UserInfo)
        );
        assert_eq!(
            Link::parse("https://u:p@example.org/"),
            Err(LinkProblem::UserInfo)
        );
        let long = format!("https://example.org/{}", "a".repeat(1010));
        assert_eq!(Link::parse(&long), Err(LinkProblem::TooLong));
        let fits = format!("https://example.org/{}", "a".repeat(1004));
        assert!(Link::parse(&fits).is_ok());
    }

    // ------------------------------------------------------------ properties

    /// A path segment: unreserved, sub-delims, escapes (of unreserved and reserved bytes),
    /// non-ASCII, and raw bytes that must be escaped.
    fn segment() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                "[A-Za-z0-9_~-]{1,4}",
                Just(".".to_string()),
                Just("..".to_string()),
                "[!$&'()*+,;=:@]",
                "%[0-9a-fA-F]{2}",
                Just("%".to_string()),
                "[中文阅读]",
                "[|^\\[\\]{}\" <>`]",
            ],
            0..4,
        )
        .prop_map(|parts| parts.concat())
    }

    fn query_part() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z_]{1,6}",
            "[A-Za-z0-9+%=/?:@-]{0,6}",
            Just("from".to_string()),
            Just("utm_source".to_string()),
            Just("__biz".to_string()),
            Just("mid".to_string()),
            Just("sn".to_string()),
            "%[0-9a-fA-F]{2}",
            "[中文]",
        ]
    }

    fn any_link() -> impl Strategy<Value = String> {
        (
            prop_oneof![Just("http"), Just("https"), Just("HTTPS")],
            prop_oneof![
                Just("example.org"),
                Just("Example.ORG."),
                Just("mp.weixin.qq.com"),
                Just("例子.中国"),
                Just("127.0.0.1"),
            ],
            prop_oneof![Just(""), Just(":80"), Just(":443"), Just(":8080")],
            prop::collection::vec(segment(), 0..5),
            prop::option::of(prop::collection::vec((query_part(), query_part()), 0..4)),
            prop::option::of("[/!]?[A-Za-z0-9/%._-]{0,8}"),
        )
            .prop_map(|(scheme, host, port, segments, query, fragment)| {
                let mut link = format!("{scheme}://{host}{port}/{}", segments.join("/"));
                if let Some(query) = query {
                    link.push('?');
                    let pairs: Vec<String> =
                        query.iter().map(|(n, v)| format!("{n}={v}")).collect();
                    link.push_str(&pairs.join("&"));
                }
                if let Some(fragment) = fragment {
                    link.push('#');
                    link.push_str(&fragment);
                }
                link
            })
    }

    /// Changes a link in one of the ways the issue lists, none of which changes the work.
    fn disguise(link: &Url, how: u8) -> String {
        let mut url = link.clone();
        match how {
            0 => {
                let _ = url.set_scheme(if url.scheme() == "https" {
                    "http"
                } else {
                    "https"
                });
            }
            1 => {
                let host = format!("{}.", url.host_str().unwrap_or_default());
                let _ = url.set_host(Some(&host));
            }
            // A route names the page: only a link without one gets a fragment.
            2 | 3 if url.fragment().and_then(route).is_some() => {}
            2 => url.set_fragment(Some("")),
            3 => url.set_fragment(Some("wechat_redirect")),
            4 => {
                if url.query().is_none() {
                    url.set_query(Some(""));
                }
            }
            5 => {
                let query = match url.query() {
                    Some(q) if !q.is_empty() => format!("{q}&from=timeline"),
                    _ => "from=timeline".to_string(),
                };
                url.set_query(Some(&query));
            }
            6 => {
                let path = format!("{}/", url.path());
                url.set_path(&path);
            }
            7 => {
                let path = url.path().replacen('/', "//", 1);
                url.set_path(&path);
            }
            _ => {
                // Escape the first raw letter of the path (not a hex digit of an escape).
                let path = url.path().to_string();
                let bytes = path.as_bytes();
                let mut at = 0;
                while at < bytes.len() && !bytes[at].is_ascii_alphabetic() {
                    let escape =
                        bytes[at] == b'%' && bytes.get(at + 1..at + 3).and_then(hex_byte).is_some();
                    at += if escape { 3 } else { 1 };
                }
                if at < bytes.len() {
                    let letter = bytes[at];
                    let escaped = format!("{}%{letter:02x}{}", &path[..at], &path[at + 1..]);
                    url.set_path(&escaped);
                }
            }
        }
        url.to_string()
    }

    proptest! {
        #[test]
        fn the_key_is_its_own_key(link in any_link()) {
            if let Ok(parsed) = Link::parse(&link) {
                let again = Link::parse(parsed.key());
                prop_assert!(again.is_ok(), "{link} → {} does not parse", parsed.key());
                let again = again.unwrap();
                prop_assert_eq!(again.key(), parsed.key(), "{}", link);
            }
        }

        #[test]
        fn disguises_keep_the_key(link in any_link(), how in 0u8..9) {
            if let Ok(parsed) = Link::parse(&link) {
                let url = Url::parse(parsed.as_str()).unwrap();
                let disguised = disguise(&url, how);
                let other = Link::parse(&disguised);
                prop_assert!(other.is_ok(), "{disguised}");
                let other = other.unwrap();
                prop_assert_eq!(other.key(), parsed.key(), "{} vs {}", link, disguised);
            }
        }

        #[test]
        fn different_segments_are_different_works(
            a in "[A-Za-z0-9_-]{1,12}", b in "[A-Za-z0-9_-]{1,12}",
            prefix in prop_oneof![Just("https://example.org/p/"), Just("https://mp.weixin.qq.com/s/")],
        ) {
            let (ka, kb) = (key(&format!("{prefix}{a}")), key(&format!("{prefix}{b}")));
            prop_assert_eq!(ka == kb, a == b);
        }

        #[test]
        fn different_parameter_values_are_different_works(
            name in "[a-z]{1,6}", a in "[A-Za-z0-9._~-]{0,8}", b in "[A-Za-z0-9._~-]{0,8}",
        ) {
            prop_assume!(!is_tracking(name.as_bytes()));
            let ka = key(&format!("https://example.org/article?{name}={a}"));
            let kb = key(&format!("https://example.org/article?{name}={b}"));
            prop_assert_eq!(ka == kb, a == b);
        }
    }
}
