//! Template cards in the simulator: what WeCom checks on a card (at most six buttons, a
//! `task_id` of at most 128 bytes of `[0-9A-Za-z_-@]`, unique per sender), the response codes
//! that let a card be replaced once within 72 hours, and `message/update_template_card`.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::record::{Violation, ViolationKind};
use super::State;

/// How long a card's response code may be spent (WeCom: 72 hours).
pub const RESPONSE_CODE_HOURS: i64 = 72;
/// The errcode for a card WeCom would refuse (its own code for each case is not documented).
pub const ERR_BAD_CARD: i64 = 40_058;

/// Checks a card about to be shown; a new card (not an update) must bring a task id of its own.
/// A refused card is also recorded as a violation, so tests notice it.
pub(super) fn check(
    state: &mut State,
    card: Option<&Value>,
    new: bool,
    now: DateTime<Utc>,
    seq: u64,
) -> Result<(), i64> {
    let problem = problem(state, card, new);
    if let Some(problem) = problem {
        state.violations.push(Violation {
            at: now,
            seq,
            kind: ViolationKind::BadCard,
            key: problem,
        });
        return Err(ERR_BAD_CARD);
    }
    if let (true, Some(task_id)) = (new, card.and_then(|c| c.get("task_id")?.as_str())) {
        state.card_tasks.insert(task_id.to_owned());
    }
    Ok(())
}

fn problem(state: &State, card: Option<&Value>, new: bool) -> Option<String> {
    let Some(card) = card else {
        return Some("template_card missing".into());
    };
    let Some(kind) = card.get("card_type").and_then(Value::as_str) else {
        return Some("card_type missing".into());
    };
    let task_id = card.get("task_id").and_then(Value::as_str).unwrap_or("");
    let interactive = matches!(
        kind,
        "button_interaction" | "vote_interaction" | "multiple_interaction"
    );
    if interactive && task_id.is_empty() {
        return Some("task_id missing".into());
    }
    if task_id.len() > 128
        || !task_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '@'))
    {
        return Some(format!("task_id {task_id:?} not allowed"));
    }
    if new && !task_id.is_empty() && state.card_tasks.contains(task_id) {
        return Some(format!("task_id {task_id} used before"));
    }
    let count = |field: &str| {
        card.get(field)
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    if kind == "button_interaction" && !(1..=6).contains(&count("button_list")) {
        return Some(format!("{} buttons", count("button_list")));
    }
    if count("horizontal_content_list") > 6 {
        return Some("more than 6 rows".into());
    }
    if let Some(options) = card.get("checkbox").and_then(|c| c.get("option_list")) {
        if options.as_array().map_or(0, Vec::len) > 20 {
            return Some("more than 20 options".into());
        }
    }
    None
}

/// A new response code for a card, valid 72 hours.
pub(super) fn issue_code(state: &mut State, now: DateTime<Utc>) -> String {
    state.issued += 1;
    let code = format!("cardrc{}", state.issued);
    state.card_codes.insert(
        code.clone(),
        (now + Duration::hours(RESPONSE_CODE_HOURS), false),
    );
    code
}

/// `message/update_template_card`: spends the response code, replaces the card for `userids`.
pub(super) fn update(state: &mut State, body: &Value, now: DateTime<Utc>, seq: u64) -> Value {
    if body.get("agentid").is_none() {
        return error(40035);
    }
    let users = body
        .get("userids")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if users == 0 && body.get("atall").and_then(Value::as_i64) != Some(1) {
        return error(40035);
    }
    let code = body
        .get("response_code")
        .and_then(Value::as_str)
        .unwrap_or("");
    match state.card_codes.get(code) {
        Some((expires, false)) if now < *expires => {}
        _ => return error(super::ERR_RESPONSE_CODE),
    }
    if body.get("button").is_none() {
        if let Err(code) = check(state, body.get("template_card"), false, now, seq) {
            return error(code);
        }
    }
    if let Some((_, used)) = state.card_codes.get_mut(code) {
        *used = true;
    }
    error(0)
}

fn error(errcode: i64) -> Value {
    json!({ "errcode": errcode, "errmsg": if errcode == 0 { "ok" } else { "simulated error" } })
}
