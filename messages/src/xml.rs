//! A small, safe XML reader for WeCom payloads: builds an element tree, refuses DTDs and never expands entities.
//!
//! WeCom XML is a flat-ish document (`<xml>` with a few nested groups such as `<From>` or
//! `<MentionedList>`). Values arrive with or without CDATA, with arbitrary whitespace and in any
//! field order, so lookups go by element name and text is trimmed. Anything that could make the
//! parser do more work than the input size suggests (DTDs, custom entities, deep nesting) is refused.

use quick_xml::events::Event;
use quick_xml::Reader;

/// Nesting deeper than this is not WeCom data; refusing it also bounds the tree's recursion on drop.
const MAX_DEPTH: usize = 16;

/// Why an XML document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("XML is malformed: {0}")]
    Malformed(String),
    #[error("XML declares a DTD or entity, which is never accepted")]
    DtdRefused,
    #[error("XML nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("XML has no root element")]
    NoRoot,
}

/// One element: its name, its own text (CDATA and plain text concatenated, trimmed) and its children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first direct child with this name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All direct children with this name, in document order.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the first direct child with this name.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// Follows a path of child names (`["From", "UserId"]`) and returns that element's text.
    pub fn path_text(&self, path: &[&str]) -> Option<&str> {
        let mut current = self;
        for name in path {
            current = current.child(name)?;
        }
        Some(current.text.as_str())
    }
}

/// Parses a document into its root element.
///
/// Refuses `<!DOCTYPE …>` (and with it every `<!ENTITY …>`), unknown entity references, nesting
/// deeper than 16 levels, mismatched end tags and trailing content after the root.
pub fn parse(input: &str) -> Result<Element, XmlError> {
    // A DTD arrives as a DocType event; a stray `<!ENTITY` outside one is refused in text below.
    let mut reader = Reader::from_str(input);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;

    loop {
        let event = reader
            .read_event()
            .map_err(|e| XmlError::Malformed(e.to_string()))?;
        match event {
            Event::DocType(_) => return Err(XmlError::DtdRefused),
            Event::Start(start) => {
                if root.is_some() {
                    return Err(XmlError::Malformed("content after the root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                stack.push(Element {
                    name: as_input_str(input, start.name().as_ref())?.to_owned(),
                    ..Element::default()
                });
            }
            Event::Empty(empty) => {
                let element = Element {
                    name: as_input_str(input, empty.name().as_ref())?.to_owned(),
                    ..Element::default()
                };
                attach(&mut stack, &mut root, element)?;
            }
            Event::End(_) => {
                let mut element = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("unexpected end tag".into()))?;
                let trimmed = element.text.trim();
                if trimmed.len() != element.text.len() {
                    element.text = trimmed.to_owned();
                }
                attach(&mut stack, &mut root, element)?;
            }
            Event::Text(text) => {
                let raw = text.into_inner();
                if contains_entity_declaration(&raw) {
                    return Err(XmlError::DtdRefused);
                }
                // Only the five predefined entities and character references are resolved;
                // any other `&name;` is an error, so nothing is ever expanded from a declaration.
                let text = quick_xml::escape::unescape(as_input_str(input, &raw)?)
                    .map_err(|e| XmlError::Malformed(e.to_string()))?;
                push_text(&mut stack, &root, &text)?;
            }
            Event::CData(cdata) => {
                let raw = cdata.into_inner();
                push_text(&mut stack, &root, as_input_str(input, &raw)?)?;
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }

    if !stack.is_empty() {
        return Err(XmlError::Malformed("unclosed element".into()));
    }
    root.ok_or(XmlError::NoRoot)
}

/// The event's bytes as `&str`. They are a slice of `input` (already valid UTF-8, cut at ASCII
/// delimiters), so they are found there by position instead of being validated again; anything
/// that is not such a slice is validated the ordinary way.
fn as_input_str<'a>(input: &'a str, raw: &'a [u8]) -> Result<&'a str, XmlError> {
    let start = (raw.as_ptr() as usize).wrapping_sub(input.as_ptr() as usize);
    let within = start
        .checked_add(raw.len())
        .and_then(|end| input.get(start..end))
        .filter(|s| s.as_ptr() == raw.as_ptr());
    match within {
        Some(text) => Ok(text),
        None => std::str::from_utf8(raw).map_err(|e| XmlError::Malformed(e.to_string())),
    }
}

fn attach(
    stack: &mut [Element],
    root: &mut Option<Element>,
    element: Element,
) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None if root.is_none() => *root = Some(element),
        None => return Err(XmlError::Malformed("more than one root element".into())),
    }
    Ok(())
}

fn push_text(stack: &mut [Element], root: &Option<Element>, text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        // Leading whitespace would be trimmed at the end tag anyway; skipping it saves the
        // allocations for the indentation between elements.
        Some(current) if current.text.is_empty() && text.trim().is_empty() => {}
        Some(current) => current.text.push_str(text),
        // Whitespace around the root is normal; anything else outside it is not XML.
        None if text.trim().is_empty() => {}
        None if root.is_some() => {
            return Err(XmlError::Malformed("text after the root element".into()))
        }
        None => return Err(XmlError::Malformed("text before the root element".into())),
    }
    Ok(())
}

fn contains_entity_declaration(raw: &[u8]) -> bool {
    raw.windows(8).any(|w| w.eq_ignore_ascii_case(b"<!ENTITY"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cdata_and_plain_text_alike() {
        let doc =
            parse("<xml>\n  <A><![CDATA[ hello ]]></A>\n  <B>42</B><C/><D>a &amp; b</D></xml>")
                .unwrap();
        assert_eq!(doc.name, "xml");
        assert_eq!(doc.child_text("A"), Some("hello"));
        assert_eq!(doc.child_text("B"), Some("42"));
        assert_eq!(doc.child_text("C"), Some(""));
        assert_eq!(doc.child_text("D"), Some("a & b"));
        assert_eq!(doc.child_text("E"), None);
    }

    #[test]
    fn follows_paths_and_repeats() {
        let doc =
            parse("<xml><From><UserId>u1</UserId></From><L><Item>a</Item><Item>b</Item></L></xml>")
                .unwrap();
        assert_eq!(doc.path_text(&["From", "UserId"]), Some("u1"));
        let items: Vec<_> = doc
            .child("L")
            .unwrap()
            .children_named("Item")
            .map(|e| e.text.as_str())
            .collect();
        assert_eq!(items, ["a", "b"]);
    }

    #[test]
    fn refuses_doctype_and_entities() {
        let billion_laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>
<xml><Content>&lol2;</Content></xml>"#;
        assert_eq!(parse(billion_laughs), Err(XmlError::DtdRefused));

        let external = r#"<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml><A>1</A></xml>"#;
        assert_eq!(parse(external), Err(XmlError::DtdRefused));

        let stray_entity = r#"<xml><!ENTITY x "y"><A>1</A></xml>"#;
        assert!(parse(stray_entity).is_err());

        let undeclared = "<xml><A>&xxe;</A></xml>";
        assert!(matches!(parse(undeclared), Err(XmlError::Malformed(_))));
    }

    #[test]
    fn refuses_broken_documents() {
        assert!(parse("").is_err());
        assert!(parse("<xml><A>1</B></xml>").is_err());
        assert!(parse("<xml><A>1</A>").is_err());
        assert!(parse("<xml/><xml/>").is_err());
        assert!(parse("junk<xml/>").is_err());
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert_eq!(parse(&deep), Err(XmlError::TooDeep));
    }
}
