//! What the store keeps of fair-play flags: a signal with its reason and evidence, the gives
//! it puts in doubt (疑), and a reviewer's decision on it.

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// Which signal raised a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// An entry gaining far above its own and its track's usual rate.
    Burst,
    /// Members voting for each other's entries day after day.
    Ring,
    /// An entry's votes coming almost all from members registered just before voting.
    Fresh,
    /// An entry's votes coming almost all from one small unit (not the entrant's own).
    Unit,
    /// Many voters giving at the same minutes, day after day.
    Timing,
}

impl SignalKind {
    pub const ALL: [SignalKind; 5] = [
        SignalKind::Burst,
        SignalKind::Ring,
        SignalKind::Fresh,
        SignalKind::Unit,
        SignalKind::Timing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Burst => "burst",
            SignalKind::Ring => "ring",
            SignalKind::Fresh => "fresh",
            SignalKind::Unit => "unit",
            SignalKind::Timing => "timing",
        }
    }

    pub fn parse(text: &str) -> Option<SignalKind> {
        SignalKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The signal's name in replies and exports.
    pub fn label(self) -> &'static str {
        match self {
            SignalKind::Burst => "票数突增",
            SignalKind::Ring => "互投圈",
            SignalKind::Fresh => "新注册集中投票",
            SignalKind::Unit => "单一小单位集中投票",
            SignalKind::Timing => "投票时间雷同",
        }
    }
}

/// Where a flag stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagStatus {
    /// Waiting for a reviewer: its gives are 疑, out of the score.
    Open,
    /// 有效: its gives count again.
    Cleared,
    /// 无效: its gives stay out, marked void.
    Void,
}

impl FlagStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FlagStatus::Open => "open",
            FlagStatus::Cleared => "cleared",
            FlagStatus::Void => "void",
        }
    }

    pub fn parse(text: &str) -> Option<FlagStatus> {
        [FlagStatus::Open, FlagStatus::Cleared, FlagStatus::Void]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// The gives a flag takes: those to `entries`, from `members` (any member when empty), given
/// in `[from, until)`, that no flag holds yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagScope {
    pub entries: Vec<String>,
    pub members: Vec<String>,
    pub from: Timestamp,
    pub until: Timestamp,
}

/// A signal to record (`Store::raise_flag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFlag {
    pub track: String,
    pub kind: SignalKind,
    /// What the flag is about, the same from one pass to the next (an entry code, or a digest
    /// of a group's members): while a flag of this kind and subject is open, a new signal adds
    /// its gives to it and refreshes its reason and evidence instead of opening another.
    pub subject: String,
    /// One plain Chinese sentence.
    pub reason: String,
    /// The figures behind the reason, a few short lines.
    pub evidence: String,
    pub scope: FlagScope,
    pub now: Timestamp,
}

/// A reviewer's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewedBy {
    pub reviewer: String,
    pub at: Timestamp,
    pub reason: Option<String>,
}

/// A flag as stored, with what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagRecord {
    /// The 编号 reviewers answer with.
    pub id: i64,
    pub track: String,
    pub kind: SignalKind,
    pub subject: String,
    pub reason: String,
    pub evidence: String,
    pub status: FlagStatus,
    pub raised_at: Timestamp,
    /// How many ledger rows it holds, and their sum (votes, likes or views).
    pub gives: i64,
    pub amount: i64,
    /// The entries those gives went to, in code order.
    pub entries: Vec<String>,
    pub decided: Option<ReviewedBy>,
}

/// `核实 <编号> 有效|无效 [理由]` as the store applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagDecision {
    pub id: i64,
    /// 有效: clear the flag; 无效: void it.
    pub valid: bool,
    pub reviewer: String,
    pub reason: Option<String>,
    pub now: Timestamp,
    /// The message that decided: a retry gets the first outcome.
    pub callback_key: String,
}

/// What a decision did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagDecided {
    /// The flag after the decision.
    pub flag: FlagRecord,
    /// False when the flag had been decided before (by another message).
    pub changed: bool,
}

/// A ledger row's flag, as of now: for frozen results, which need it as of any moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiveFlag {
    pub id: i64,
    pub raised_at: Timestamp,
    /// When it was decided, and whether the gives were found valid.
    pub decided: Option<(Timestamp, bool)>,
}

/// Whether a give counts, as of a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveState {
    Counted,
    /// 疑: flagged, not decided yet.
    Doubtful,
    /// Flagged and found invalid.
    Void,
}

impl GiveFlag {
    /// The give's state as of `as_of` (as of now when `None`).
    pub fn state(&self, as_of: Option<Timestamp>) -> GiveState {
        let known = |at: Timestamp| as_of.is_none_or(|as_of| at <= as_of);
        if !known(self.raised_at) {
            return GiveState::Counted;
        }
        match self.decided {
            Some((at, true)) if known(at) => GiveState::Counted,
            Some((at, false)) if known(at) => GiveState::Void,
            _ => GiveState::Doubtful,
        }
    }
}

/// One give as the periodic fair-play pass reads it: with the voter's unit and registration
/// time, and the entry's entrant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteRow {
    pub id: i64,
    pub member: String,
    pub member_union: String,
    pub registered_at: Timestamp,
    pub entry_code: String,
    /// The userid of a member entrant, the union code of a unit.
    pub entrant: String,
    pub entry_union: String,
    pub amount: i64,
    pub at: Timestamp,
    /// Whether a flag holds it already.
    pub flagged: bool,
}
