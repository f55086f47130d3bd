//! What a user asked for: one `Command` enum, one parser, and the help text generated from the
//! same table (`COMMANDS`), so names, aliases and usage lines cannot drift apart.
//!
//! Parsing normalises full-width characters to half-width, strips a leading @-mention, and splits
//! arguments on spaces and commas. Free text (titles, reasons, notes, announcements) is taken from
//! the original message so its Chinese punctuation survives.

use std::fmt;

use crate::campaign::Opening;
use crate::export::ExportKind;
use crate::identity::EntryCode;

/// Most entries `榜单` lists.
pub const TOP_MAX: u32 = 50;
/// Entries `榜单` lists when no number is given.
pub const TOP_DEFAULT: u32 = 10;
/// Largest reading report accepted at once: a whole day.
pub const READ_MAX_MINUTES: u32 = 24 * 60;
/// Largest `上报` amount accepted at once; larger numbers are typos.
pub const REPORT_MAX: i64 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandKind {
    Help,
    Register,
    Me,
    Submit,
    Vote,
    Like,
    View,
    Read,
    Left,
    Rank,
    Top,
    Browse,
    Stage,
    Progress,
    Report,
    Review,
    Pending,
    Broadcast,
    Export,
    Flags,
    Verify,
    Cancel,
    Confirm,
}

/// Who a command is for (help lists only what the user may use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Everyone, registered or not.
    All,
    /// Registered members.
    Member,
    /// Members, and officers for their union.
    MemberOrOfficer,
    Officer,
    OfficerOrOrganizer,
    Reviewer,
    Organizer,
    /// Answers inside a dialogue (`取消`, `确认`); not listed on their own.
    Dialogue,
}

/// One row of the command table.
#[derive(Debug)]
pub struct CommandSpec {
    pub kind: CommandKind,
    /// The Chinese command word, as shown in help.
    pub word: &'static str,
    /// Other accepted spellings (matched case-insensitively).
    pub aliases: &'static [&'static str],
    pub usage: &'static str,
    pub summary: &'static str,
    pub example: &'static str,
    pub who: Who,
    /// Only in a private chat with the app.
    pub private_only: bool,
    /// The stage opening it needs, if any.
    pub needs: Option<Opening>,
}

/// The command table: the parser, the help text and the bot's request labels all read it.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        kind: CommandKind::Help,
        word: "帮助",
        aliases: &["help", "?", "帮忙", "菜单"],
        usage: "帮助 [命令]",
        summary: "查看可用的命令，或某个命令的用法",
        example: "帮助 投票",
        who: Who::All,
        private_only: false,
        needs: None,
    },
    CommandSpec {
        kind: CommandKind::Register,
        word: "注册",
        aliases: &["register", "登记"],
        usage: "注册 [姓名 身份证号 手机号 工会]",
        summary: "实名登记，按提示逐项填写，或一行填完",
        example: "注册",
        who: Who::All,
        private_only: true,
        needs: None,
    },
    CommandSpec {
        kind: CommandKind::Me,
        word: "我的",
        aliases: &["me"],
        usage: "我的",
        summary: "查看我的登记信息和作品",
        example: "我的",
        who: Who::Member,
        private_only: false,
        needs: None,
    },
    CommandSpec {
        kind: CommandKind::Submit,
        word: "提交",
        aliases: &["submit"],
        usage: "提交 <赛道> <链接> [标题]",
        summary: "提交作品，审核通过后展示",
        example: "提交 奋进故事 https://mp.weixin.qq.com/s/xxxx 我的奋进故事",
        who: Who::MemberOrOfficer,
        private_only: false,
        needs: Some(Opening::Submit),
    },
    CommandSpec {
        kind: CommandKind::Vote,
        word: "投票",
        aliases: &["vote"],
        usage: "投票 <作品号> [票数]",
        summary: "给作品投票（默认 1 票）",
        example: "投票 A0017 2",
        who: Who::Member,
        private_only: false,
        needs: Some(Opening::Vote),
    },
    CommandSpec {
        kind: CommandKind::Like,
        word: "点赞",
        aliases: &["like"],
        usage: "点赞 <作品号>",
        summary: "给作品点赞",
        example: "点赞 B0003",
        who: Who::Member,
        private_only: false,
        needs: Some(Opening::Vote),
    },
    CommandSpec {
        kind: CommandKind::View,
        word: "查看",
        aliases: &["view", "浏览"],
        usage: "查看 <作品号>",
        summary: "打开作品链接（浏览计数）",
        example: "查看 C0008",
        who: Who::Member,
        private_only: false,
        needs: None,
    },
    CommandSpec {
        kind: CommandKind::Read,
        word: "阅读",
        aliases: &["read", "打卡"],
        usage: "阅读 <分钟>",
        summary: "记录今天的阅读时长，换算积分",
        example: "阅读 45",
        who: Who::Member,
        private_only: false,
        needs: Some(Opening::Vote),
    },
    CommandSpec {
        kind: CommandKind::Left,
        word: "剩余",
        aliases: &["votes", "left", "余票"],
        usage: "剩余",
        summary: "查看今天还能投的票、点的赞",
        example: "剩余",
        who: Who::Member,
        private_only: false,
        needs: None,
    },
    CommandSpec {
        kind: CommandKind::Rank,
        word: "排名",
        aliases: &["rank", "名次"],
        usage: "排名 [赛道]",
        summary: "查看我（或本单位）的名次、奖项区间和差距",
        example: "排名 奋进故事",
        who: Who::MemberOrOfficer,
        private_only: false,
        needs: None,
    },
    CommandSpec {
        kind: CommandKind::Top,
        word: "榜单",
        aliases: &["top", "排行", "排行榜"],
        usage: "榜单 [赛道] [N] [第K页]",
        summary: "查看赛道前 N 名（默认 10，最多 50），「第2页」接着往下看；只写 N 看各赛道前 N 名",
        example: "榜单 奋进故事 20",
        who: Who::All,
        private_only: false,
        needs: None,
    },
    CommandSpec {
        kind: CommandKind::Browse,
        word: "看看",
        aliases: &["browse", "逛逛"],
        usage: "看看 <赛道> [页]",
        summary: "一页一页看赛道里通过审核的作品，在卡片上点按钮就能投票或点赞",
        example: "看看 奋进故事 2",
        who: Who::All,
        private_only: false,
        needs: None,
    },
    CommandSpec {
        kind: CommandKind::Stage,
        word: "阶段",
        aliases: &["stage", "日程"],
        usage: "阶段",
        summary: "查看当前阶段、开放内容和截止时间",
        example: "阶段",
        who: Who::All,
        private_only: false,
        needs: None,
    },
    CommandSpec {
        kind: CommandKind::Progress,
        word: "进度",
        aliases: &["progress"],
        usage: "进度 [工会]",
        summary: "查看工会任务完成进度",
        example: "进度 哈尔滨",
        who: Who::OfficerOrOrganizer,
        private_only: false,
        needs: None,
    },
    CommandSpec {
        kind: CommandKind::Report,
        word: "上报",
        aliases: &["report"],
        usage: "上报 <指标> <数量> [说明]",
        summary: "上报本单位完成的任务",
        example: "上报 线下活动 2 走进XX企业",
        who: Who::Officer,
        private_only: false,
        needs: None,
    },
    CommandSpec {
        kind: CommandKind::Review,
        word: "审核",
        aliases: &["review", "approve", "reject", "通过", "驳回"],
        usage: "审核 <作品号> 通过|驳回 [理由]",
        summary: "审核作品，结果会通知提交人",
        example: "审核 A0017 驳回 链接无法打开",
        who: Who::Reviewer,
        private_only: true,
        needs: None,
    },
    CommandSpec {
        kind: CommandKind::Pending,
        word: "待审",
        aliases: &["pending", "待审核"],
        usage: "待审",
        summary: "列出等待审核的作品",
        example: "待审",
        who: Who::Reviewer,
        private_only: true,
        needs: None,
    },
    CommandSpec {
        kind: CommandKind::Broadcast,
        word: "公告",
        aliases: &["broadcast"],
        usage: "公告 [官员] <内容>",
        summary: "预览并向所有群（或各单位联络员）发送公告",
        example: "公告 第二阶段今天开始，欢迎大家踊跃参与！",
        who: Who::Organizer,
        private_only: true,
        needs: None,
    },
    CommandSpec {
        kind: CommandKind::Export,
        word: "导出",
        aliases: &["export"],
        usage: "导出 获奖名单|统计表|成绩|明细 [赛道]",
        summary: "生成 Excel 文件（获奖名单含完整手机号），以文件消息发给你",
        example: "导出 获奖名单",
        who: Who::Organizer,
        private_only: true,
        needs: None,
    },
    CommandSpec {
        kind: CommandKind::Flags,
        word: "待核",
        aliases: &["flags", "疑票"],
        usage: "待核",
        summary: "列出等待核实的可疑投票（疑票）及其原因和依据",
        example: "待核",
        who: Who::Reviewer,
        private_only: true,
        needs: None,
    },
    CommandSpec {
        kind: CommandKind::Verify,
        word: "核实",
        aliases: &["verify"],
        usage: "核实 <编号> 有效|无效 [理由]",
        summary: "核实一条可疑投票：有效则恢复计票，无效则作废",
        example: "核实 3 无效 同一单位集中刷票",
        who: Who::Reviewer,
        private_only: true,
        needs: None,
    },
    CommandSpec {
        kind: CommandKind::Cancel,
        word: "取消",
        aliases: &["cancel", "退出"],
        usage: "取消",
        summary: "放弃正在进行的登记或公告",
        example: "取消",
        who: Who::Dialogue,
        private_only: false,
        needs: None,
    },
    CommandSpec {
        kind: CommandKind::Confirm,
        word: "确认",
        aliases: &["confirm", "确定"],
        usage: "确认",
        summary: "确认登记信息或发送公告",
        example: "确认",
        who: Who::Dialogue,
        private_only: false,
        needs: None,
    },
];

impl CommandKind {
    pub fn spec(self) -> &'static CommandSpec {
        COMMANDS
            .iter()
            .find(|spec| spec.kind == self)
            .unwrap_or(&COMMANDS[0])
    }

    /// The Chinese command word, e.g. `投票`.
    pub fn word(self) -> &'static str {
        self.spec().word
    }
}

/// The command a word names (Chinese word or alias, case-insensitive, full-width accepted).
pub fn lookup(word: &str) -> Option<&'static CommandSpec> {
    let word: String = word.chars().map(normalise_char).collect::<String>();
    let word = word.trim().to_lowercase();
    COMMANDS
        .iter()
        .find(|spec| spec.word == word || spec.aliases.iter().any(|a| a.to_lowercase() == word))
}

// ---------------------------------------------------------------- the command

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BroadcastAudience {
    /// Every known group.
    Groups,
    /// Every union officer, by app message.
    Officers,
}

/// The one-line registration form, exactly as typed. `Debug` hides the ID and phone numbers.
#[derive(Clone, PartialEq, Eq)]
pub struct RegisterForm {
    pub name: String,
    pub id_number: String,
    pub phone: String,
    pub union: String,
}

impl fmt::Debug for RegisterForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisterForm")
            .field("name", &self.name)
            .field("id_number", &"<hidden>")
            .field("phone", &"<hidden>")
            .field("union", &self.union)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help {
        topic: Option<CommandKind>,
        /// The word after `帮助` when it names no command (`帮助 xyz`), as typed.
        unknown: Option<String>,
    },
    /// `None` starts the step-by-step dialogue.
    Register(Option<RegisterForm>),
    Me,
    Submit {
        track: String,
        link: String,
        title: Option<String>,
    },
    Vote {
        code: EntryCode,
        amount: u32,
    },
    Like {
        code: EntryCode,
    },
    View {
        code: EntryCode,
    },
    Read {
        minutes: u32,
    },
    Left,
    Rank {
        track: Option<String>,
    },
    /// `n`: how many per page (`None`: not said, the default); `page` counts from 1.
    Top {
        track: Option<String>,
        n: Option<u32>,
        page: u32,
    },
    /// `看看`: a page (from 1) of a track's approved entries; `None` when no track was named.
    Browse {
        track: Option<String>,
        page: u32,
    },
    Stage,
    Progress {
        union: Option<String>,
    },
    Report {
        metric: String,
        amount: i64,
        note: Option<String>,
    },
    Review {
        code: EntryCode,
        decision: Decision,
        reason: Option<String>,
    },
    Pending,
    Broadcast {
        audience: BroadcastAudience,
        content: String,
    },
    /// `None`: which export was not said (the reply lists them).
    Export {
        kind: Option<ExportKind>,
        track: Option<String>,
    },
    Flags,
    /// `valid`: 有效 (the gives count again) or 无效 (they stay out).
    Verify {
        id: i64,
        valid: bool,
        reason: Option<String>,
    },
    Cancel,
    Confirm,
    /// Not a command: the reply is a short hint and `帮助`.
    Unknown,
}

impl Command {
    pub fn kind(&self) -> Option<CommandKind> {
        Some(match self {
            Command::Help { .. } => CommandKind::Help,
            Command::Register(_) => CommandKind::Register,
            Command::Me => CommandKind::Me,
            Command::Submit { .. } => CommandKind::Submit,
            Command::Vote { .. } => CommandKind::Vote,
            Command::Like { .. } => CommandKind::Like,
            Command::View { .. } => CommandKind::View,
            Command::Read { .. } => CommandKind::Read,
            Command::Left => CommandKind::Left,
            Command::Rank { .. } => CommandKind::Rank,
            Command::Top { .. } => CommandKind::Top,
            Command::Browse { .. } => CommandKind::Browse,
            Command::Stage => CommandKind::Stage,
            Command::Progress { .. } => CommandKind::Progress,
            Command::Report { .. } => CommandKind::Report,
            Command::Review { .. } => CommandKind::Review,
            Command::Pending => CommandKind::Pending,
            Command::Broadcast { .. } => CommandKind::Broadcast,
            Command::Export { .. } => CommandKind::Export,
            Command::Flags => CommandKind::Flags,
            Command::Verify { .. } => CommandKind::Verify,
            Command::Cancel => CommandKind::Cancel,
            Command::Confirm => CommandKind::Confirm,
            Command::Unknown => return None,
        })
    }

    /// Parses a message. A command word glued to its argument (`投票A0017`) is accepted.
    pub fn parse(text: &str, bot_names: &[String]) -> Result<Command, ParseError> {
        parse_with(text, bot_names, true)
    }

    /// Like `parse`, but only a command word standing alone counts: inside a dialogue, an answer
    /// such as a union name must not be taken for a command that happens to start it.
    pub fn parse_strict(text: &str, bot_names: &[String]) -> Result<Command, ParseError> {
        parse_with(text, bot_names, false)
    }
}

// ---------------------------------------------------------------- errors

/// What was wrong with a command's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Missing(&'static str),
    /// A count that is not a whole number from 1 to `max` (`None`: the limit depends on the
    /// track and is told when giving), and what it was instead.
    Number {
        what: &'static str,
        max: Option<i64>,
        found: Found,
    },
    OutOfRange {
        what: &'static str,
        min: i64,
        max: i64,
    },
    EntryCode,
    Decision,
    /// `注册` takes no arguments or exactly the four fields.
    RegisterFields,
    /// `导出` names no export it knows.
    ExportKind,
    /// `核实` without a flag number.
    FlagNumber,
    /// `核实` without 有效 or 无效.
    Validity,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing(what) => write!(f, "缺少{what}"),
            Problem::Number { what, max, found } => {
                let range = match max {
                    Some(max) => format!(" 1 到 {max} 之间的正整数"),
                    None => "正整数（1、2、3…）".to_string(),
                };
                match (found, max) {
                    (Found::Negative, _) => write!(f, "{what}不能是负数，应为{range}"),
                    (Found::Zero, _) => write!(f, "{what}不能是 0，应为{range}"),
                    (Found::Fraction, _) => write!(f, "{what}只能是整数，应为{range}"),
                    (Found::Words, _) => {
                        write!(f, "{what}请用阿拉伯数字写（例如 2），应为{range}")
                    }
                    (Found::TooLarge, Some(max)) => write!(f, "{what}最多 {max}，应为{range}"),
                    (Found::TooLarge, None) => write!(
                        f,
                        "{what}太大了。每件作品每天能投的票数有限，发送「剩余」查看"
                    ),
                    (Found::Other, _) => write!(f, "{what}应为{range}"),
                }
            }
            Problem::OutOfRange { what, min, max } => {
                write!(f, "{what}应在 {min}–{max} 之间")
            }
            Problem::EntryCode => f.write_str("作品号应为字母加数字，例如 A0017"),
            Problem::Decision => f.write_str("请写明「通过」或「驳回」"),
            Problem::RegisterFields => {
                f.write_str("一行注册需要依次填写姓名、身份证号、手机号、工会四项")
            }
            Problem::ExportKind => f.write_str("请写明导出哪一种：获奖名单、统计表、成绩或明细"),
            Problem::FlagNumber => {
                f.write_str("请写明「待核」列表中的编号（数字），例如「核实 3 有效」")
            }
            Problem::Validity => f.write_str("请写明「有效」（恢复计票）或「无效」（作废）"),
        }
    }
}

/// What a count was instead of a whole number in range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Negative,
    Zero,
    Fraction,
    /// Written in Chinese numerals (`两票`, `三`).
    Words,
    TooLarge,
    Other,
}

impl Found {
    /// What `digits` (a count with its unit word already stripped) is, when it is no count
    /// from 1 to `max`; `None` when it is one.
    fn of(digits: &str, max: i64) -> Option<Found> {
        const NUMERALS: &str = "零〇一二两三四五六七八九十百千万壹贰叁肆伍陆柒捌玖拾";
        let plain = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if let Some(rest) = digits.strip_prefix('-') {
            return Some(if plain(rest) && rest.trim_start_matches('0').is_empty() {
                Found::Zero
            } else if plain(rest)
                || rest
                    .split_once('.')
                    .is_some_and(|(a, b)| plain(a) && plain(b))
            {
                Found::Negative
            } else {
                Found::Other
            });
        }
        if !digits.is_empty() && digits.chars().all(|c| NUMERALS.contains(c)) {
            return Some(Found::Words);
        }
        if digits
            .split_once('.')
            .is_some_and(|(a, b)| plain(a) && plain(b))
        {
            return Some(Found::Fraction);
        }
        if !plain(digits) {
            return Some(Found::Other);
        }
        match digits.parse::<i64>() {
            Ok(0) => Some(Found::Zero),
            Ok(n) if n <= max => None,
            _ => Some(Found::TooLarge),
        }
    }
}

/// A command word was recognised but its arguments were not right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}。用法：{}", kind.spec().usage)]
pub struct ParseError {
    pub kind: CommandKind,
    pub problem: Problem,
}

// ---------------------------------------------------------------- normalising

/// Full-width ASCII (`１２３`, `，`, `：`, `（）`, `？`) and the ideographic space to half-width;
/// `、` to a comma, since both separate arguments.
fn normalise_char(c: char) -> char {
    match c {
        '\u{3000}' | '\u{00A0}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '、' => ',',
        c if c.is_whitespace() => ' ',
        other => other,
    }
}

/// The normalised text: half-width, trimmed, runs of spaces collapsed to one.
pub fn normalize(text: &str) -> String {
    text.chars()
        .map(normalise_char)
        .collect::<String>()
        .split(' ')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A message as pairs of (original, normalised) characters, so arguments can be matched on the
/// normalised form and free text taken from the original.
struct Message {
    original: Vec<char>,
    norm: Vec<char>,
}

fn is_separator(c: char) -> bool {
    c == ' ' || c == ','
}

impl Message {
    fn new(text: &str) -> Self {
        let original: Vec<char> = text.chars().collect();
        let norm = original.iter().map(|&c| normalise_char(c)).collect();
        Self { original, norm }
    }

    fn skip_separators(&self, mut at: usize) -> usize {
        while at < self.norm.len() && is_separator(self.norm[at]) {
            at += 1;
        }
        at
    }

    /// Position after any leading @-mentions: the bot's own names are stripped even without a
    /// following space; any other `@name` up to the next space.
    fn after_mentions(&self, bot_names: &[String]) -> usize {
        let mut at = self.skip_separators(0);
        while at < self.norm.len() && self.norm[at] == '@' {
            at += 1;
            let rest: String = self.norm[at..].iter().collect::<String>().to_lowercase();
            let mut names: Vec<String> = bot_names
                .iter()
                .map(|n| normalize(n).to_lowercase())
                .filter(|n| !n.is_empty())
                .collect();
            names.sort_by_key(|n| std::cmp::Reverse(n.chars().count()));
            match names.iter().find(|name| rest.starts_with(name.as_str())) {
                Some(name) => at += name.chars().count(),
                None => {
                    while at < self.norm.len() && self.norm[at] != ' ' {
                        at += 1;
                    }
                }
            }
            at = self.skip_separators(at);
        }
        at
    }

    /// `(start, end)` of each argument from `from`.
    fn tokens(&self, from: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut at = self.skip_separators(from);
        while at < self.norm.len() {
            let start = at;
            while at < self.norm.len() && !is_separator(self.norm[at]) {
                at += 1;
            }
            out.push((start, at));
            at = self.skip_separators(at);
        }
        out
    }

    fn norm_text(&self, (start, end): (usize, usize)) -> String {
        self.norm[start..end].iter().collect()
    }

    /// The original text from `start` to the end, trimmed; `None` when empty.
    fn raw_from(&self, start: usize) -> Option<String> {
        let text: String = self.original[start..].iter().collect();
        let text = text.trim_matches(|c: char| c.is_whitespace() || normalise_char(c) == ',');
        (!text.is_empty()).then(|| text.to_string())
    }
}

// ---------------------------------------------------------------- parsing

/// The arguments after the command word.
struct Args<'a> {
    message: &'a Message,
    tokens: Vec<(usize, usize)>,
    kind: CommandKind,
}

impl Args<'_> {
    fn len(&self) -> usize {
        self.tokens.len()
    }

    fn get(&self, i: usize) -> Option<String> {
        self.tokens.get(i).map(|&t| self.message.norm_text(t))
    }

    fn require(&self, i: usize, what: &'static str) -> Result<String, ParseError> {
        self.get(i)
            .ok_or_else(|| self.error(Problem::Missing(what)))
    }

    /// Free text from argument `i` to the end, as originally typed.
    fn rest(&self, i: usize) -> Option<String> {
        self.tokens
            .get(i)
            .and_then(|&(start, _)| self.message.raw_from(start))
    }

    /// Arguments from `i` on, normalised, joined with `sep`; `None` when there are none.
    fn joined(&self, i: usize, sep: &str) -> Option<String> {
        let parts: Vec<String> = (i..self.len()).filter_map(|j| self.get(j)).collect();
        (!parts.is_empty()).then(|| parts.join(sep))
    }

    fn code(&self, i: usize) -> Result<EntryCode, ParseError> {
        let text = self.require(i, "作品号")?;
        EntryCode::parse(&text).map_err(|_| self.error(Problem::EntryCode))
    }

    /// A count from 1 to `max`; `show_max` says whether the error names `max` (it does not
    /// for votes, whose real limit is the track's).
    fn number(
        &self,
        text: &str,
        what: &'static str,
        max: i64,
        show_max: bool,
    ) -> Result<i64, ParseError> {
        let digits = text.trim_end_matches(['票', '次', '个', '场', '分', '钟', '件', '人']);
        match Found::of(digits, max) {
            None => digits.parse::<i64>().map_err(|_| {
                self.error(Problem::Number {
                    what,
                    max: show_max.then_some(max),
                    found: Found::TooLarge,
                })
            }),
            Some(found) => Err(self.error(Problem::Number {
                what,
                max: show_max.then_some(max),
                found,
            })),
        }
    }

    fn error(&self, problem: Problem) -> ParseError {
        ParseError {
            kind: self.kind,
            problem,
        }
    }
}

/// Heads of `审核` that carry the decision themselves (`通过 A0017`).
fn implied_decision(head: &str) -> Option<Decision> {
    match head {
        "approve" | "通过" => Some(Decision::Approve),
        "reject" | "驳回" => Some(Decision::Reject),
        _ => None,
    }
}

fn decision_word(word: &str) -> Option<Decision> {
    match word.to_lowercase().as_str() {
        "通过" | "同意" | "approve" | "approved" | "pass" | "ok" | "yes" => {
            Some(Decision::Approve)
        }
        "驳回" | "不通过" | "拒绝" | "退回" | "reject" | "rejected" | "no" => {
            Some(Decision::Reject)
        }
        _ => None,
    }
}

/// Shaped like an ID number: 17 digits and a digit or X.
fn id_shaped(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes.len() == 18
        && bytes[..17].iter().all(u8::is_ascii_digit)
        && (bytes[17].is_ascii_digit() || bytes[17] == b'x' || bytes[17] == b'X')
}

fn looks_like_link(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("://") || lower.starts_with("www.")
}

fn parse_with(text: &str, bot_names: &[String], glued: bool) -> Result<Command, ParseError> {
    let message = Message::new(text);
    let start = message.after_mentions(bot_names);
    let mut tokens = message.tokens(start);
    let Some(&head_token) = tokens.first() else {
        return Ok(Command::Help {
            topic: None,
            unknown: None,
        });
    };
    let head = message.norm_text(head_token).to_lowercase();
    let spec = match lookup(&head) {
        Some(spec) => spec,
        None => {
            // `投票A0017`: a Chinese command word followed directly by its argument.
            let found = glued
                .then(|| {
                    COMMANDS
                        .iter()
                        .filter(|spec| head.starts_with(spec.word) && head != spec.word)
                        .max_by_key(|spec| spec.word.len())
                })
                .flatten();
            let Some(spec) = found else {
                return Ok(Command::Unknown);
            };
            let split = head_token.0 + spec.word.chars().count();
            tokens[0] = (head_token.0, split);
            tokens.insert(1, (split, head_token.1));
            spec
        }
    };
    let args = Args {
        message: &message,
        tokens: tokens[1..].to_vec(),
        kind: spec.kind,
    };
    build(spec.kind, &head, &args)
}

fn build(kind: CommandKind, head: &str, args: &Args<'_>) -> Result<Command, ParseError> {
    Ok(match kind {
        CommandKind::Help => {
            let word = args.get(0);
            let topic = word.as_deref().and_then(lookup).map(|s| s.kind);
            Command::Help {
                topic,
                unknown: word.filter(|_| topic.is_none()),
            }
        }
        CommandKind::Register => {
            // A name typed with a space (`注册 李 四 …`, `注册 Zhang Wei …`) takes every word
            // before the ID number; the conversation asks how it is really written.
            let id_at = (1..args.len())
                .find(|&i| args.get(i).is_some_and(|w| id_shaped(&w)))
                .unwrap_or(1);
            match args.len() {
                0 => Command::Register(None),
                n if n < id_at + 3 => return Err(args.error(Problem::RegisterFields)),
                _ => Command::Register(Some(RegisterForm {
                    name: (0..id_at)
                        .filter_map(|i| args.get(i))
                        .collect::<Vec<_>>()
                        .join(" "),
                    id_number: args.require(id_at, "身份证号")?,
                    phone: args.require(id_at + 1, "手机号")?,
                    union: args.joined(id_at + 2, "").unwrap_or_default(),
                })),
            }
        }
        CommandKind::Me => Command::Me,
        CommandKind::Submit => submit(args)?,
        CommandKind::Vote => Command::Vote {
            code: args.code(0)?,
            amount: match args.get(1) {
                Some(n) => u32::try_from(args.number(&n, "票数", 10_000, false)?).unwrap_or(1),
                None => 1,
            },
        },
        CommandKind::Like => Command::Like {
            code: args.code(0)?,
        },
        CommandKind::View => Command::View {
            code: args.code(0)?,
        },
        CommandKind::Read => {
            let n = args.require(0, "阅读分钟数")?;
            let minutes = args.number(&n, "阅读分钟数", i64::from(READ_MAX_MINUTES), true)?;
            Command::Read {
                minutes: u32::try_from(minutes).unwrap_or(0),
            }
        }
        CommandKind::Left => Command::Left,
        CommandKind::Rank => Command::Rank {
            track: args.joined(0, " "),
        },
        CommandKind::Top => top(args)?,
        CommandKind::Browse => browse(args)?,
        CommandKind::Stage => Command::Stage,
        CommandKind::Progress => Command::Progress {
            union: args.joined(0, ""),
        },
        CommandKind::Report => {
            let metric = args.require(0, "指标")?;
            let amount = args.require(1, "数量")?;
            Command::Report {
                metric,
                amount: args.number(&amount, "数量", REPORT_MAX, true)?,
                note: args.rest(2),
            }
        }
        CommandKind::Review => match implied_decision(head) {
            Some(decision) => Command::Review {
                code: args.code(0)?,
                decision,
                reason: args.rest(1),
            },
            None => {
                let code = args.code(0)?;
                let word = args.get(1).ok_or_else(|| args.error(Problem::Decision))?;
                Command::Review {
                    code,
                    decision: decision_word(&word).ok_or_else(|| args.error(Problem::Decision))?,
                    reason: args.rest(2),
                }
            }
        },
        CommandKind::Pending => Command::Pending,
        CommandKind::Broadcast => {
            let to_officers = args.get(0).is_some_and(|w| {
                matches!(w.to_lowercase().as_str(), "官员" | "officers" | "联络员")
            });
            let (audience, from) = if to_officers {
                (BroadcastAudience::Officers, 1)
            } else {
                (BroadcastAudience::Groups, 0)
            };
            Command::Broadcast {
                audience,
                content: args
                    .rest(from)
                    .ok_or_else(|| args.error(Problem::Missing("公告内容")))?,
            }
        }
        CommandKind::Export => match args.get(0) {
            None => Command::Export {
                kind: None,
                track: None,
            },
            Some(word) => Command::Export {
                kind: Some(
                    ExportKind::parse(&word).ok_or_else(|| args.error(Problem::ExportKind))?,
                ),
                track: args.joined(1, " "),
            },
        },
        CommandKind::Flags => Command::Flags,
        CommandKind::Verify => {
            let number = args.get(0).ok_or_else(|| args.error(Problem::FlagNumber))?;
            let id = number
                .trim_start_matches(['#', '＃', '第'])
                .trim_end_matches('号')
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| args.error(Problem::FlagNumber))?;
            let word = args.get(1).ok_or_else(|| args.error(Problem::Validity))?;
            Command::Verify {
                id,
                valid: validity_word(&word).ok_or_else(|| args.error(Problem::Validity))?,
                reason: args.rest(2),
            }
        }
        CommandKind::Cancel => Command::Cancel,
        CommandKind::Confirm => Command::Confirm,
    })
}

/// `有效` → true (clear the flag), `无效` → false (void it).
fn validity_word(word: &str) -> Option<bool> {
    match word.to_lowercase().as_str() {
        "有效" | "正常" | "valid" | "ok" => Some(true),
        "无效" | "作废" | "invalid" | "void" => Some(false),
        _ => None,
    }
}

/// `提交 <赛道> <链接> [标题]`; a link given first, or a shared text with the link somewhere in
/// it, is understood too.
fn submit(args: &Args<'_>) -> Result<Command, ParseError> {
    let link_at = (0..args.len()).find(|&i| args.get(i).is_some_and(|t| looks_like_link(&t)));
    let (track, link, title_from) = match link_at {
        Some(0) => (args.get(1), args.get(0), 2),
        Some(i) => (args.get(0), args.get(i), i + 1),
        None => (args.get(0), args.get(1), 2),
    };
    let track = track.ok_or_else(|| args.error(Problem::Missing("赛道")))?;
    let link = link.ok_or_else(|| args.error(Problem::Missing("作品链接")))?;
    Ok(Command::Submit {
        track,
        link,
        title: args.rest(title_from),
    })
}

/// `榜单 [赛道] [N] [第K页]`: a number standing alone is N, `第K页` (or `K页`) the page, the
/// rest names the track.
fn top(args: &Args<'_>) -> Result<Command, ParseError> {
    let mut words: Vec<String> = (0..args.len()).filter_map(|i| args.get(i)).collect();
    // `第 2 页`, `2 页`, `第 2页` typed with spaces read as one word.
    let mut i = 0;
    while i < words.len() {
        let next = |k: usize| words.get(i + k).map(String::as_str);
        let (width, glued) = if words[i] == "第" && next(2) == Some("页") {
            (3, format!("第{}页", words[i + 1]))
        } else if words[i] == "第" && next(1).is_some_and(|w| w.ends_with('页')) {
            (2, format!("第{}", words[i + 1]))
        } else if is_digits(&words[i]) && next(1) == Some("页") {
            (2, format!("{}页", words[i]))
        } else {
            i += 1;
            continue;
        };
        words.splice(i..i + width, [glued]);
        i += 1;
    }
    let mut page = None;
    let mut n = None;
    let mut track = Vec::new();
    for word in words {
        if let Some(number) = page_word(&word) {
            page = Some(top_number(args, number, "页码", TOP_PAGE_MAX)?);
        } else if is_digits(&word) && n.is_none() {
            n = Some(top_number(args, &word, "名次数", TOP_MAX)?);
        } else {
            track.push(word);
        }
    }
    let track = track.join(" ");
    Ok(Command::Top {
        track: (!track.is_empty()).then_some(track),
        n,
        page: page.unwrap_or(1),
    })
}

/// `看看 [赛道] [页]`: a number standing alone (or `第K页`) is the page, the rest names the track.
fn browse(args: &Args<'_>) -> Result<Command, ParseError> {
    let mut page = None;
    let mut track = Vec::new();
    for word in (0..args.len()).filter_map(|i| args.get(i)) {
        let number = page_word(&word).or_else(|| is_digits(&word).then_some(word.as_str()));
        match number {
            Some(number) if page.is_none() => {
                page = Some(top_number(args, number, "页码", TOP_PAGE_MAX)?);
            }
            _ => track.push(word),
        }
    }
    let track = track.join(" ");
    Ok(Command::Browse {
        track: (!track.is_empty()).then_some(track),
        page: page.unwrap_or(1),
    })
}

/// Most pages `榜单` goes to; beyond is a typo.
pub const TOP_PAGE_MAX: u32 = 200;

fn is_digits(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit())
}

/// The number of `第2页` or `2页`.
fn page_word(word: &str) -> Option<&str> {
    let number = word.strip_prefix('第').unwrap_or(word).strip_suffix('页')?;
    is_digits(number).then_some(number)
}

/// A count of `榜单`: 0 is refused, more than `max` is not a mistake worth an error (the most
/// there is is shown).
fn top_number(
    args: &Args<'_>,
    digits: &str,
    what: &'static str,
    max: u32,
) -> Result<u32, ParseError> {
    match digits.parse::<u64>() {
        Ok(0) => Err(args.error(Problem::OutOfRange {
            what,
            min: 1,
            max: i64::from(max),
        })),
        Ok(n) => Ok(u32::try_from(n.min(u64::from(max))).unwrap_or(max)),
        Err(_) => Ok(max),
    }
}

/// The label of a message that is no command, in request logs and metrics.
pub const NOT_A_COMMAND: &str = "其他";

/// The command a parse found, whether or not its arguments were right.
pub fn kind_of(parsed: &Result<Command, ParseError>) -> Option<CommandKind> {
    match parsed {
        Ok(command) => command.kind(),
        Err(error) => Some(error.kind),
    }
}

/// A short name for what a message asked, for request logs and metrics: the Chinese command
/// word, or `其他`. Never contains anything the user typed.
pub fn label(kind: Option<CommandKind>) -> &'static str {
    kind.map_or(NOT_A_COMMAND, CommandKind::word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names() -> Vec<String> {
        vec!["rallybot".to_string(), "工会小助手".to_string()]
    }

    fn parse(text: &str) -> Result<Command, ParseError> {
        Command::parse(text, &names())
    }

    fn code(s: &str) -> EntryCode {
        EntryCode::parse(s).unwrap()
    }

    #[test]
    fn every_kind_has_one_row_and_unique_words() {
        let mut words = Vec::new();
        for spec in COMMANDS {
            assert_eq!(spec.kind.spec().word, spec.word);
            words.push(spec.word.to_lowercase());
            words.extend(spec.aliases.iter().map(|a| a.to_lowercase()));
        }
        let count = words.len();
        words.sort();
        words.dedup();
        assert_eq!(words.len(), count, "a word names two commands");
    }

    #[test]
    fn words_and_aliases() {
        assert_eq!(
            parse("帮助").unwrap(),
            Command::Help {
                topic: None,
                unknown: None
            }
        );
        assert_eq!(
            parse("HELP").unwrap(),
            Command::Help {
                topic: None,
                unknown: None
            }
        );
        assert_eq!(
            parse("?").unwrap(),
            Command::Help {
                topic: None,
                unknown: None
            }
        );
        assert_eq!(
            parse("？").unwrap(),
            Command::Help {
                topic: None,
                unknown: None
            }
        );
        assert_eq!(
            parse("帮助 投票").unwrap(),
            Command::Help {
                topic: Some(CommandKind::Vote),
                unknown: None
            }
        );
        assert_eq!(parse("me").unwrap(), Command::Me);
        assert_eq!(parse("剩余").unwrap(), Command::Left);
        assert_eq!(parse("votes").unwrap(), Command::Left);
        assert_eq!(parse("left").unwrap(), Command::Left);
        assert_eq!(parse("阶段").unwrap(), Command::Stage);
        assert_eq!(parse("pending").unwrap(), Command::Pending);
        assert_eq!(parse("取消").unwrap(), Command::Cancel);
        assert_eq!(parse("Confirm").unwrap(), Command::Confirm);
        assert_eq!(parse("今天天气不错").unwrap(), Command::Unknown);
    }

    #[test]
    fn mentions_are_stripped() {
        let vote = Command::Vote {
            code: code("A0017"),
            amount: 1,
        };
        assert_eq!(parse("@rallybot 投票 A0017").unwrap(), vote);
        assert_eq!(parse("@rallybot投票 A0017").unwrap(), vote);
        assert_eq!(parse("＠rallybot　投票　a0017").unwrap(), vote);
        assert_eq!(parse("@工会小助手 投票 A0017").unwrap(), vote);
        assert_eq!(parse("@某某 投票 A0017").unwrap(), vote);
        assert_eq!(parse("@RallyBot @rallybot 投票 A0017").unwrap(), vote);
        assert_eq!(
            parse("@rallybot").unwrap(),
            Command::Help {
                topic: None,
                unknown: None
            }
        );
        assert_eq!(
            parse("").unwrap(),
            Command::Help {
                topic: None,
                unknown: None
            }
        );
    }

    #[test]
    fn votes() {
        assert_eq!(
            parse("投票 A0017 3").unwrap(),
            Command::Vote {
                code: code("A0017"),
                amount: 3
            }
        );
        assert_eq!(
            parse("vote,a17，５票").unwrap(),
            Command::Vote {
                code: code("A17"),
                amount: 5
            }
        );
        assert_eq!(
            parse("投票A0017").unwrap(),
            Command::Vote {
                code: code("A0017"),
                amount: 1
            }
        );
        assert_eq!(
            parse("投票").unwrap_err().problem,
            Problem::Missing("作品号")
        );
        assert_eq!(parse("投票 17").unwrap_err().problem, Problem::EntryCode);
        let found = |text: &str| match parse(text).unwrap_err().problem {
            Problem::Number { found, .. } => found,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(found("投票 A0017 abc"), Found::Other);
        assert_eq!(found("投票 A0017 0"), Found::Zero);
        assert_eq!(found("投票 A0017 -1"), Found::Negative);
        assert_eq!(found("投票 A0017 两票"), Found::Words);
        assert_eq!(found("投票 A0017 1.5"), Found::Fraction);
        assert_eq!(found("阅读 -5"), Found::Negative);
        assert_eq!(found("阅读 1441"), Found::TooLarge);
        assert_eq!(found("上报 线下活动 -1"), Found::Negative);
        let err = parse("投票 A0017 99999999999999999999").unwrap_err();
        assert_eq!(err.kind, CommandKind::Vote);
        assert!(err.to_string().contains("用法：投票 <作品号> [票数]"));
    }

    #[test]
    fn glued_words_only_when_not_strict() {
        assert_eq!(
            Command::parse_strict("排名奋进故事", &names()).unwrap(),
            Command::Unknown
        );
        assert_eq!(
            parse("排名奋进故事").unwrap(),
            Command::Rank {
                track: Some("奋进故事".into())
            }
        );
    }

    #[test]
    fn register_forms() {
        assert_eq!(parse("注册").unwrap(), Command::Register(None));
        let Command::Register(Some(form)) =
            parse("注册 张三，11010519491231002x，13812345678，哈尔滨").unwrap()
        else {
            panic!("not a one-line registration")
        };
        assert_eq!(form.name, "张三");
        assert_eq!(form.id_number, "11010519491231002x");
        assert_eq!(form.phone, "13812345678");
        assert_eq!(form.union, "哈尔滨");
        let debug = format!("{form:?}");
        assert!(!debug.contains("13812345678") && !debug.contains("19491231"));
        for (text, name) in [
            ("注册 李 四 11010519491231002x 13812345678 哈尔滨", "李 四"),
            (
                "注册 Zhang Wei 11010519491231002X 13812345678 哈尔滨",
                "Zhang Wei",
            ),
        ] {
            let Command::Register(Some(form)) = parse(text).unwrap() else {
                panic!("not a one-line registration: {text}")
            };
            assert_eq!(form.name, name);
            assert_eq!(form.phone, "13812345678");
            assert_eq!(form.union, "哈尔滨");
        }
        let err = parse("注册 张三 11010519491231002x").unwrap_err();
        assert_eq!(err.problem, Problem::RegisterFields);
        assert!(!err.to_string().contains("19491231"));
    }

    #[test]
    fn submissions_keep_the_title_as_typed() {
        assert_eq!(
            parse("提交 奋进故事 https://mp.weixin.qq.com/s/abc 我的故事：奋斗，在路上").unwrap(),
            Command::Submit {
                track: "奋进故事".into(),
                link: "https://mp.weixin.qq.com/s/abc".into(),
                title: Some("我的故事：奋斗，在路上".into()),
            }
        );
        assert_eq!(
            parse("提交 https://x.cn/1 奋进故事").unwrap(),
            Command::Submit {
                track: "奋进故事".into(),
                link: "https://x.cn/1".into(),
                title: None,
            }
        );
        assert_eq!(
            parse("提交 奋进故事").unwrap_err().problem,
            Problem::Missing("作品链接")
        );
    }

    #[test]
    fn browse_takes_a_track_and_a_page() {
        let browse = |track: Option<&str>, page| Command::Browse {
            track: track.map(str::to_string),
            page,
        };
        assert_eq!(parse("看看"), Ok(browse(None, 1)));
        assert_eq!(parse("看看 C"), Ok(browse(Some("C"), 1)));
        assert_eq!(
            parse("@rallybot browse 奋进故事 3"),
            Ok(browse(Some("奋进故事"), 3))
        );
        assert_eq!(parse("看看 C 第2页"), Ok(browse(Some("C"), 2)));
        assert_eq!(parse("逛逛，C，２"), Ok(browse(Some("C"), 2)));
        assert!(parse("看看 C 0").is_err());
        assert_eq!(label(kind_of(&parse("看看 C"))), "看看");
    }

    #[test]
    fn top_and_rank() {
        assert_eq!(
            parse("榜单").unwrap(),
            Command::Top {
                track: None,
                n: None,
                page: 1
            }
        );
        assert_eq!(
            parse("榜单 奋进故事 20").unwrap(),
            Command::Top {
                track: Some("奋进故事".into()),
                n: Some(20),
                page: 1
            }
        );
        assert_eq!(
            parse("top 30").unwrap(),
            Command::Top {
                track: None,
                n: Some(30),
                page: 1
            }
        );
        assert_eq!(
            parse("榜单 A 500").unwrap(),
            Command::Top {
                track: Some("A".into()),
                n: Some(TOP_MAX),
                page: 1
            }
        );
        assert!(parse("榜单 A 0").is_err());
        for text in [
            "榜单 D 第2页",
            "榜单 D 第 2 页",
            "榜单 D 2页",
            "榜单 第2页 D",
        ] {
            assert_eq!(
                parse(text).unwrap(),
                Command::Top {
                    track: Some("D".into()),
                    n: None,
                    page: 2
                },
                "{text}"
            );
        }
        assert_eq!(
            parse("榜单 红色 足迹 20 第3页").unwrap(),
            Command::Top {
                track: Some("红色 足迹".into()),
                n: Some(20),
                page: 3
            }
        );
        assert!(parse("榜单 D 第0页").is_err());
        assert_eq!(parse("排名").unwrap(), Command::Rank { track: None });
    }

    #[test]
    fn officer_and_reviewer_commands() {
        assert_eq!(
            parse("上报 线下活动 2 走进XX企业，开展宣讲").unwrap(),
            Command::Report {
                metric: "线下活动".into(),
                amount: 2,
                note: Some("走进XX企业，开展宣讲".into()),
            }
        );
        assert_eq!(
            parse("上报 线下活动").unwrap_err().problem,
            Problem::Missing("数量")
        );
        assert_eq!(
            parse("审核 a0017 驳回 链接打不开，请重新提交").unwrap(),
            Command::Review {
                code: code("A0017"),
                decision: Decision::Reject,
                reason: Some("链接打不开，请重新提交".into()),
            }
        );
        assert_eq!(
            parse("approve A0017").unwrap(),
            Command::Review {
                code: code("A0017"),
                decision: Decision::Approve,
                reason: None,
            }
        );
        assert_eq!(
            parse("审核 A0017 也许").unwrap_err().problem,
            Problem::Decision
        );
        assert_eq!(
            parse("进度 哈尔滨").unwrap(),
            Command::Progress {
                union: Some("哈尔滨".into())
            }
        );
    }

    #[test]
    fn exports_name_their_kind_and_maybe_a_track() {
        assert_eq!(
            parse("导出 获奖名单").unwrap(),
            Command::Export {
                kind: Some(ExportKind::Winners),
                track: None,
            }
        );
        assert_eq!(
            parse("export results 奋进故事").unwrap(),
            Command::Export {
                kind: Some(ExportKind::Results),
                track: Some("奋进故事".into()),
            }
        );
        assert_eq!(
            parse("导出统计表").unwrap(),
            Command::Export {
                kind: Some(ExportKind::Quotas),
                track: None,
            }
        );
        assert_eq!(
            parse("导出").unwrap(),
            Command::Export {
                kind: None,
                track: None,
            }
        );
        assert_eq!(parse("导出 全部").unwrap_err().problem, Problem::ExportKind);
        assert!(CommandKind::Export.spec().private_only);
    }

    #[test]
    fn broadcasts_keep_punctuation() {
        assert_eq!(
            parse("公告 第二阶段开始了，请大家踊跃参与！").unwrap(),
            Command::Broadcast {
                audience: BroadcastAudience::Groups,
                content: "第二阶段开始了，请大家踊跃参与！".into(),
            }
        );
        assert_eq!(
            parse("公告 官员 请于本周五前上报").unwrap(),
            Command::Broadcast {
                audience: BroadcastAudience::Officers,
                content: "请于本周五前上报".into(),
            }
        );
        assert_eq!(
            parse("公告").unwrap_err().problem,
            Problem::Missing("公告内容")
        );
    }

    #[test]
    fn flags_and_verify() {
        assert_eq!(parse("待核").unwrap(), Command::Flags);
        assert_eq!(parse("flags").unwrap(), Command::Flags);
        assert_eq!(
            parse("核实 12 无效 同一单位集中刷票").unwrap(),
            Command::Verify {
                id: 12,
                valid: false,
                reason: Some("同一单位集中刷票".into())
            }
        );
        assert_eq!(
            parse("verify #3 valid").unwrap(),
            Command::Verify {
                id: 3,
                valid: true,
                reason: None
            }
        );
        assert_eq!(parse("核实").unwrap_err().problem, Problem::FlagNumber);
        assert_eq!(
            parse("核实 A0017 有效").unwrap_err().problem,
            Problem::FlagNumber
        );
        assert_eq!(parse("核实 3 也许").unwrap_err().problem, Problem::Validity);
        assert!(CommandKind::Verify.spec().private_only);
    }

    #[test]
    fn labels() {
        let labelled = |text: &str| label(kind_of(&parse(text)));
        assert_eq!(labelled("@rallybot vote A1"), "投票");
        assert_eq!(labelled("投票"), "投票");
        assert_eq!(labelled("你好"), "其他");
    }

    #[test]
    fn normalise() {
        assert_eq!(normalize("　投票，Ａ００１７　 ２ "), "投票,A0017 2");
    }

    /// Full-width form of an ASCII string (space → ideographic space).
    fn full_width(s: &str) -> String {
        s.chars()
            .map(|c| match c {
                ' ' => '\u{3000}',
                '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap(),
                other => other,
            })
            .collect()
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in "\\PC{0,60}") {
            let _ = Command::parse(&s, &names());
            let _ = Command::parse_strict(&s, &names());
            let _ = label(kind_of(&Command::parse(&s, &names())));
        }

        #[test]
        fn parser_never_panics_on_command_shapes(
            word in prop::sample::select(COMMANDS.iter().flat_map(|s| std::iter::once(s.word).chain(s.aliases.iter().copied())).collect::<Vec<_>>()),
            rest in "[ ,，、@＠A-Za-z0-9０-９x-]{0,30}",
        ) {
            let _ = Command::parse(&format!("{word}{rest}"), &names());
            let _ = Command::parse(&format!("@rallybot {word} {rest}"), &names());
        }

        #[test]
        fn full_width_parses_equal(
            code_letter in "[A-Z]", number in 1u32..10_000, amount in 1u32..100,
            english in any::<bool>(),
        ) {
            let word = if english { "vote" } else { "投票" };
            let half = format!("{word} {code_letter}{number:04} {amount}");
            prop_assert_eq!(parse(&half), parse(&full_width(&half)));
            let top = format!("榜单 {code_letter} {amount}");
            prop_assert_eq!(parse(&top), parse(&full_width(&top)));
            let read = format!("read {amount}");
            prop_assert_eq!(parse(&read), parse(&full_width(&read)));
        }
    }
}
