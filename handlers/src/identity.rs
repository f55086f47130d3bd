//! The personal data a worker types in (name, 身份证号, 手机号) and entry codes, parsed into
//! types that can only hold valid values and never print a clear ID number or phone number.

use std::fmt;

use chrono::NaiveDate;

/// Why a piece of personal data or an entry code was not accepted. The messages are shown to
/// workers as they are, so they are Chinese and never repeat the value that was typed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("姓名应为 2–20 个字")]
    NameLength,
    #[error("姓名只能包含汉字、字母和间隔号「·」")]
    NameCharacters,
    #[error("身份证号应为 18 位")]
    IdLength,
    #[error("身份证号前 17 位应为数字，最后一位为数字或 X")]
    IdCharacters,
    #[error("身份证号中的出生日期不正确")]
    IdBirthDate,
    #[error("身份证号校验位不正确，请核对后重新输入")]
    IdCheckDigit,
    #[error("手机号应为 11 位数字，以 13–19 开头")]
    Phone,
    #[error("作品号应为字母加数字，例如 A0017")]
    EntryCode,
}

// ---------------------------------------------------------------- name

/// A real name as registered: 2–20 characters of CJK letters, ASCII letters and `·`.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(input: &str) -> Result<Self, IdentityError> {
        // Names of ethnic minorities are written with a middle dot; people type several lookalikes.
        let name: String = input
            .trim()
            .chars()
            .map(|c| match c {
                '・' | '•' | '‧' | '∙' | '⋅' | '．' => '·',
                other => other,
            })
            .collect();
        let count = name.chars().count();
        if !(2..=20).contains(&count) {
            return Err(IdentityError::NameLength);
        }
        let allowed = name
            .chars()
            .all(|c| c == '·' || c.is_ascii_alphabetic() || is_cjk_letter(c));
        let dots_inside = !name.starts_with('·') && !name.ends_with('·') && !name.contains("··");
        if !allowed || !dots_inside {
            return Err(IdentityError::NameCharacters);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonName({})", self.0)
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// CJK unified ideographs (basic block, extensions A–F) and compatibility ideographs.
fn is_cjk_letter(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2EBEF
        | 0xF900..=0xFAFF
        | 0x30000..=0x3134F)
}

// ---------------------------------------------------------------- ID number

/// GB 11643 weights of the first 17 digits.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each value of the weighted sum mod 11.
const ID_CHECKS: [u8; 11] = *b"10X98765432";

/// A valid 18-character 居民身份证号, upper-case `X`. Prints only as its mask.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

impl IdNumber {
    /// Parses `input` (spaces around it and a lower-case `x` are accepted); the birth date must be
    /// a real date not after `today`.
    pub fn parse(input: &str, today: NaiveDate) -> Result<Self, IdentityError> {
        let id = input.trim().to_ascii_uppercase();
        if id.chars().count() != 18 {
            return Err(IdentityError::IdLength);
        }
        if !id.is_ascii() {
            return Err(IdentityError::IdCharacters);
        }
        let bytes = id.as_bytes();
        let body_ok = bytes[..17].iter().all(u8::is_ascii_digit);
        let last_ok = bytes[17].is_ascii_digit() || bytes[17] == b'X';
        if !body_ok || !last_ok {
            return Err(IdentityError::IdCharacters);
        }
        let birth = NaiveDate::parse_from_str(&id[6..14], "%Y%m%d")
            .map_err(|_| IdentityError::IdBirthDate)?;
        if birth > today || birth < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(birth) {
            return Err(IdentityError::IdBirthDate);
        }
        if id_check_char(&bytes[..17]) != bytes[17] {
            return Err(IdentityError::IdCheckDigit);
        }
        Ok(Self(id))
    }

    /// `230103********123X`: the region code and the last four characters.
    pub fn mask(&self) -> String {
        format!("{}********{}", &self.0[..6], &self.0[14..])
    }

    /// The clear value, for hashing only (see `privacy`); never shown or stored.
    pub(crate) fn clear(&self) -> &str {
        &self.0
    }
}

/// The GB 11643 check character of 17 ASCII digits.
pub(crate) fn id_check_char(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    ID_CHECKS[(sum % 11) as usize]
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.mask())
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.mask())
    }
}

// ---------------------------------------------------------------- phone

/// A mainland mobile number, 11 digits `1[3-9]…`. Prints only as its mask.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    /// Accepts the number with spaces or dashes between groups (`138-1234-5678`).
    pub fn parse(input: &str) -> Result<Self, IdentityError> {
        let digits: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        let bytes = digits.as_bytes();
        let ok = bytes.len() == 11
            && bytes.iter().all(u8::is_ascii_digit)
            && bytes[0] == b'1'
            && (b'3'..=b'9').contains(&bytes[1]);
        if ok {
            Ok(Self(digits))
        } else {
            Err(IdentityError::Phone)
        }
    }

    /// `138****1234`.
    pub fn mask(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }

    /// The clear number: only for encryption and the organizers' winners export.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.mask())
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.mask())
    }
}

// ---------------------------------------------------------------- entry code

/// An entry code: the track's code prefix (letters) and a number of at least four digits, upper
/// case (`A0017`; `a17` parses to the same).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryCode(String);

impl EntryCode {
    pub fn parse(input: &str) -> Result<Self, IdentityError> {
        let code = input.trim().to_ascii_uppercase();
        let letters = code.bytes().take_while(u8::is_ascii_uppercase).count();
        let digits = &code.as_bytes()[letters..];
        let ok = (1..=4).contains(&letters)
            && (1..=8).contains(&digits.len())
            && digits.iter().all(u8::is_ascii_digit);
        if !ok {
            return Err(IdentityError::EntryCode);
        }
        // Codes are allocated with at least four digits; `A17` means `A0017`.
        let (prefix, number) = code.split_at(letters);
        Ok(Self(format!("{prefix}{number:0>4}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------- scanning free text

/// Whether `text` holds something shaped like an ID number (17 digits + digit/X) or a mobile
/// number (`1[3-9]` + 9 digits), even written with spaces or dashes between digit groups or in
/// full-width digits. Links are skipped: their long numeric ids are not personal data, and
/// refusing a worker's submission over them would be wrong.
pub fn contains_personal_number(text: &str) -> bool {
    let chars: Vec<char> = text
        .split_whitespace()
        .filter(|word| !looks_like_link(word))
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .map(half_width_digit)
        .collect();
    // Both readings: `2 13812345678` holds a phone number only when the space splits runs, and
    // `138 1234 5678` only when it joins them.
    [false, true]
        .into_iter()
        .flat_map(|join| digit_runs(&chars, join))
        .any(|run| is_id_shaped(&run) || is_phone_shaped(&run))
}

fn looks_like_link(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    lower.contains("http://") || lower.contains("https://")
}

fn half_width_digit(c: char) -> char {
    match c {
        '０'..='９' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        'ｘ' | 'Ｘ' => 'X',
        '　' => ' ',
        other => other,
    }
}

/// Runs of digits (an X after the 17th digit included). With `join`, a single space or dash
/// between two digits does not end a run.
fn digit_runs(chars: &[char], join: bool) -> Vec<String> {
    let mut runs = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let joins = join
            && matches!(c, ' ' | '-')
            && !current.is_empty()
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if c.is_ascii_digit() {
            current.push(c);
        } else if joins {
            continue;
        } else if matches!(c, 'x' | 'X') && current.len() == 17 {
            current.push('X');
            runs.push(std::mem::take(&mut current));
        } else if !current.is_empty() {
            runs.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

fn is_id_shaped(run: &str) -> bool {
    run.len() == 18
}

fn is_phone_shaped(run: &str) -> bool {
    let b = run.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2022, 8, 10).unwrap()
    }

    /// Builds a valid ID number from a region code, a birth date and a sequence number.
    fn make_id(region: u32, birth: NaiveDate, seq: u32) -> String {
        let body = format!("{region:06}{}{seq:03}", birth.format("%Y%m%d"));
        let check = id_check_char(body.as_bytes()) as char;
        format!("{body}{check}")
    }

    #[test]
    fn known_id_numbers_parse() {
        // The GB 11643 standard's own example.
        let id = IdNumber::parse("11010519491231002X", today()).unwrap();
        assert_eq!(id.mask(), "110105********002X");
        let lower = IdNumber::parse(" 11010519491231002x ", today()).unwrap();
        assert_eq!(lower, id);
        assert_eq!(lower.clear(), "11010519491231002X");
    }

    #[test]
    fn id_errors_are_typed() {
        let t = today();
        assert_eq!(
            IdNumber::parse("1101051949123100", t),
            Err(IdentityError::IdLength)
        );
        assert_eq!(
            IdNumber::parse("1101051949123100A2", t),
            Err(IdentityError::IdCharacters)
        );
        assert_eq!(
            IdNumber::parse("110105194912310021", t),
            Err(IdentityError::IdCheckDigit)
        );
        let feb30 = format!("230103{}1234", "19900230");
        assert_eq!(IdNumber::parse(&feb30, t), Err(IdentityError::IdBirthDate));
        let future = make_id(230103, NaiveDate::from_ymd_opt(2022, 8, 11).unwrap(), 123);
        assert_eq!(IdNumber::parse(&future, t), Err(IdentityError::IdBirthDate));
        let born_today = make_id(230103, t, 123);
        assert!(IdNumber::parse(&born_today, t).is_ok());
    }

    #[test]
    fn debug_and_display_show_only_masks() {
        let id = IdNumber::parse("11010519491231002X", today()).unwrap();
        assert_eq!(format!("{id:?}"), "IdNumber(110105********002X)");
        assert_eq!(id.to_string(), "110105********002X");
        let phone = Phone::parse("13812345678").unwrap();
        assert_eq!(format!("{phone:?}"), "Phone(138****5678)");
        assert_eq!(phone.to_string(), "138****5678");
    }

    #[test]
    fn names() {
        assert_eq!(PersonName::parse(" 张三 ").unwrap().as_str(), "张三");
        assert_eq!(
            PersonName::parse("阿依古丽・买买提").unwrap().as_str(),
            "阿依古丽·买买提"
        );
        assert!(PersonName::parse("Li Lei").is_err());
        assert!(PersonName::parse("LiLei").is_ok());
        assert_eq!(PersonName::parse("张"), Err(IdentityError::NameLength));
        assert_eq!(
            PersonName::parse(&"张".repeat(21)),
            Err(IdentityError::NameLength)
        );
        assert_eq!(PersonName::parse("张3"), Err(IdentityError::NameCharacters));
        assert_eq!(
            PersonName::parse("·张三"),
            Err(IdentityError::NameCharacters)
        );
    }

    #[test]
    fn phones() {
        assert_eq!(
            Phone::parse("138-1234-5678").unwrap().reveal(),
            "13812345678"
        );
        assert_eq!(Phone::parse("12812345678"), Err(IdentityError::Phone));
        assert_eq!(Phone::parse("1381234567"), Err(IdentityError::Phone));
        assert_eq!(Phone::parse("1381234567a"), Err(IdentityError::Phone));
    }

    #[test]
    fn entry_codes() {
        assert_eq!(EntryCode::parse("a0017").unwrap().as_str(), "A0017");
        assert_eq!(EntryCode::parse(" RF12 ").unwrap().as_str(), "RF0012");
        assert_eq!(
            EntryCode::parse("a17").unwrap(),
            EntryCode::parse("A0017").unwrap()
        );
        assert_eq!(EntryCode::parse("B12345").unwrap().as_str(), "B12345");
        assert!(EntryCode::parse("0017").is_err());
        assert!(EntryCode::parse("A").is_err());
        assert!(EntryCode::parse("A00-17").is_err());
        assert!(EntryCode::parse("甲0017").is_err());
    }

    #[test]
    fn personal_numbers_in_text() {
        assert!(contains_personal_number("我的手机13812345678"));
        assert!(contains_personal_number("电话 138 1234 5678 谢谢"));
        assert!(contains_personal_number("１３８１２３４５６７８"));
        assert!(contains_personal_number("身份证11010519491231002x"));
        assert!(contains_personal_number("110105-19491231-002X"));
        assert!(!contains_personal_number("投票 A0017 5"));
        assert!(!contains_personal_number("12812345678"));
        assert!(!contains_personal_number(
            "提交 奋进故事 https://www.douyin.com/video/13812345678"
        ));
        assert!(!contains_personal_number("1234567890123456789"));
        assert!(contains_personal_number("上报 线下活动 2 13812345678"));
    }

    fn any_birth() -> impl Strategy<Value = NaiveDate> {
        (0i64..40_000).prop_map(|days| {
            NaiveDate::from_ymd_opt(1912, 1, 1).unwrap() + chrono::Duration::days(days)
        })
    }

    proptest! {
        #[test]
        fn generated_ids_parse(region in 110000u32..830000, birth in any_birth(), seq in 0u32..1000) {
            let id = make_id(region, birth, seq);
            let parsed = IdNumber::parse(&id, NaiveDate::from_ymd_opt(2022, 8, 10).unwrap());
            prop_assert!(parsed.is_ok(), "{id} rejected: {parsed:?}");
        }

        #[test]
        fn one_changed_digit_is_rejected(
            region in 110000u32..830000, birth in any_birth(), seq in 0u32..1000,
            pos in 0usize..18, delta in 1u8..10,
        ) {
            let id = make_id(region, birth, seq);
            let mut bytes = id.into_bytes();
            if bytes[pos] == b'X' {
                bytes[pos] = b'0' + delta;
            } else {
                bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            }
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(IdNumber::parse(&changed, NaiveDate::from_ymd_opt(2022, 8, 10).unwrap()).is_err());
        }

        #[test]
        fn id_masks_hide_the_birth_date(region in 110000u32..830000, birth in any_birth(), seq in 0u32..1000) {
            let id = IdNumber::parse(&make_id(region, birth, seq), NaiveDate::from_ymd_opt(2022, 8, 10).unwrap()).unwrap();
            let mask = id.mask();
            prop_assert_eq!(&mask[6..14], "********");
            prop_assert_eq!(&mask[..6], &id.clear()[..6]);
            prop_assert_eq!(&mask[14..], &id.clear()[14..]);
            let printed = format!("{id:?}{id}");
            prop_assert!(!printed.contains(&id.clear()[6..14]));
        }

        #[test]
        fn phones_round_trip_and_mask(second in 3u8..10, rest in "[0-9]{9}") {
            let number = format!("1{second}{rest}");
            let phone = Phone::parse(&number).unwrap();
            prop_assert_eq!(phone.reveal(), number.as_str());
            prop_assert_eq!(Phone::parse(&phone.mask()), Err(IdentityError::Phone));
            let mask = phone.mask();
            prop_assert_eq!(&mask[3..7], "****");
            prop_assert_eq!(&mask[..3], &number[..3]);
            prop_assert_eq!(&mask[7..], &number[7..]);
            let text = format!("电话{number}");
            prop_assert!(contains_personal_number(&text));
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}") {
            let _ = PersonName::parse(&s);
            let _ = IdNumber::parse(&s, NaiveDate::from_ymd_opt(2022, 8, 10).unwrap());
            let _ = Phone::parse(&s);
            let _ = EntryCode::parse(&s);
            let _ = contains_personal_number(&s);
        }
    }
}
