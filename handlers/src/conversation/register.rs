//! Registration (实名登记): the step-by-step dialogue 姓名 → 身份证号 → 手机号 → 所属工会 →
//! masked summary → `确认`, and the one-line form that jumps to the summary.

use super::dialogue::{self, DialogueState, RegisterDraft};
use super::{Answer, Conversation, Turn};
use crate::campaign::UnionMatch;
use crate::command::{normalize, RegisterForm};
use crate::identity::{IdNumber, IdentityError, PersonName, Phone};
use crate::store::{MemberRecord, RegisterOutcome, StoreError};

const ASK_NAME: &str = "请输入你的真实姓名：";
const ASK_ID: &str = "请输入 18 位身份证号（仅用于核验身份，系统不保存明文）：";
const ASK_PHONE: &str = "请输入手机号（11 位，用于获奖联系，加密保存）：";
const ASK_UNION: &str = "请输入所属工会，例如「哈尔滨」或「哈尔滨市总工会」：";
const CANCEL_HINT: &str = "（回复「取消」可随时退出）";

/// The next question for a draft, or `None` when every field is filled.
fn next_question(draft: &RegisterDraft) -> Option<&'static str> {
    if draft.name.is_none() {
        Some(ASK_NAME)
    } else if draft.id_hash.is_none() {
        Some(ASK_ID)
    } else if draft.phone_enc.is_none() {
        Some(ASK_PHONE)
    } else if draft.union_code.is_none() {
        Some(ASK_UNION)
    } else {
        None
    }
}

/// A name as a worker would mean it: half-width, and spaces inside a Chinese name dropped.
fn clean_name(text: &str) -> String {
    let text = normalize(text);
    if text.chars().any(|c| c.is_ascii_alphabetic()) {
        text
    } else {
        text.replace(' ', "")
    }
}

/// A number typed in groups (`230103 19800101 001X`, `139-0000-0001`): half-width, no separators.
fn clean_number(text: &str) -> String {
    normalize(text).replace([' ', '-'], "")
}

impl Conversation {
    pub(super) async fn start_registration(
        &self,
        turn: &Turn<'_>,
        form: Option<RegisterForm>,
    ) -> Answer {
        let intro = match &turn.caller.member {
            Some(member) => format!(
                "你已登记为 {}（{}）。继续将更新姓名、手机号和所属工会，身份证号不能更改。\n",
                member.name,
                self.union_name(&member.union_code)
            ),
            None => String::new(),
        };
        let Some(form) = form else {
            let draft = RegisterDraft::default();
            return dialogue::save(
                &*self.store,
                turn.msg,
                &DialogueState::Register(draft),
                turn.now,
                format!("{intro}开始实名登记，共 4 步{CANCEL_HINT}。\n第 1 步，{ASK_NAME}"),
            )
            .await;
        };
        self.one_line_registration(turn, form, &intro).await
    }

    async fn one_line_registration(
        &self,
        turn: &Turn<'_>,
        form: RegisterForm,
        intro: &str,
    ) -> Answer {
        let today = self.campaign.day_of(turn.now);
        let mut problems: Vec<IdentityError> = Vec::new();
        // A space inside the name (`李 四`, `Zhang Wei`): asked about once the rest is checked.
        let spaced = form.name.contains(' ');
        let name = if spaced {
            None
        } else {
            PersonName::parse(&form.name)
                .map_err(|e| problems.push(e))
                .ok()
        };
        let id = IdNumber::parse(&form.id_number, today)
            .map_err(|e| problems.push(e))
            .ok();
        let phone = Phone::parse(&form.phone).map_err(|e| problems.push(e)).ok();
        if let (true, Some(id), Some(phone), true) = (spaced, &id, &phone, problems.is_empty()) {
            return self.ask_spaced_name(turn, &form, id, phone, intro).await;
        }
        let (Some(name), Some(id), Some(phone)) = (name, id, phone) else {
            let list: Vec<String> = problems.iter().map(|p| format!("· {p}")).collect();
            return Ok(format!(
                "登记信息有误：\n{}\n请更正后重新发送，格式：注册 姓名 身份证号 手机号 工会；\
也可以只发送「注册」逐项填写。",
                list.join("\n")
            ));
        };
        let id_hash = self.privacy.id_hash(&id);
        if let Some(refusal) = self.id_refusal(turn, &id_hash).await? {
            return Ok(refusal);
        }
        let draft = RegisterDraft {
            name: Some(name.as_str().to_string()),
            id_hash: Some(id_hash),
            id_mask: Some(id.mask()),
            phone_enc: Some(self.privacy.encrypt_phone(&phone)),
            phone_mask: Some(phone.mask()),
            union_code: None,
        };
        let reply = self.answer_union(turn, draft, &form.union).await?;
        Ok(format!("{intro}{reply}"))
    }

    /// Why this ID number cannot be registered by the caller, if it cannot: someone else holds
    /// it (never said who), or the caller registered with another one.
    async fn id_refusal(
        &self,
        turn: &Turn<'_>,
        id_hash: &str,
    ) -> Result<Option<String>, StoreError> {
        if let Some(member) = &turn.caller.member {
            if member.id_hash != id_hash {
                return Ok(Some(
                    "你已用另一个身份证号登记过，身份证号不能更改。如需更正，请联系所属工会。"
                        .to_string(),
                ));
            }
        }
        let holder = self.store.id_holder(id_hash).await?;
        Ok(holder.filter(|h| *h != turn.caller.userid).map(|_| {
            "这个身份证号已由其他账号登记，每个身份证号只能登记一次。如有疑问，请联系所属工会。"
                .to_string()
        }))
    }

    /// `注册 李 四 …`: everything else is kept and the name is asked again, with how it would
    /// read without the space.
    async fn ask_spaced_name(
        &self,
        turn: &Turn<'_>,
        form: &RegisterForm,
        id: &IdNumber,
        phone: &Phone,
        intro: &str,
    ) -> Answer {
        let id_hash = self.privacy.id_hash(id);
        if let Some(refusal) = self.id_refusal(turn, &id_hash).await? {
            return Ok(refusal);
        }
        let union_code = match self.campaign.unions.resolve(&form.union) {
            UnionMatch::One(union) => Some(union.code.clone()),
            _ => None,
        };
        let draft = RegisterDraft {
            name: None,
            id_hash: Some(id_hash),
            id_mask: Some(id.mask()),
            phone_enc: Some(self.privacy.encrypt_phone(phone)),
            phone_mask: Some(phone.mask()),
            union_code,
        };
        let suggestion = PersonName::parse(&clean_name(&form.name))
            .map(|name| format!("，例如「{name}」"))
            .unwrap_or_default();
        let reply = format!(
            "{intro}姓名「{}」中间有空格，姓名里不能有空格。请回复你的真实姓名（不带空格{suggestion}）；身份证号、手机号已记下{CANCEL_HINT}。",
            super::text::short(&form.name, 20)
        );
        dialogue::save(
            &*self.store,
            turn.msg,
            &DialogueState::Register(draft),
            turn.now,
            reply,
        )
        .await
    }

    /// One answer in the step-by-step dialogue.
    pub(super) async fn registration_answer(
        &self,
        turn: &Turn<'_>,
        mut draft: RegisterDraft,
    ) -> Answer {
        if draft.name.is_none() {
            match PersonName::parse(&clean_name(&turn.msg.text)) {
                Ok(name) => draft.name = Some(name.as_str().to_string()),
                Err(e) => return Ok(format!("{e}。{ASK_NAME}")),
            }
        } else if draft.id_hash.is_none() {
            match IdNumber::parse(
                &clean_number(&turn.msg.text),
                self.campaign.day_of(turn.now),
            ) {
                Ok(id) => {
                    let id_hash = self.privacy.id_hash(&id);
                    if let Some(refusal) = self.id_refusal(turn, &id_hash).await? {
                        return Ok(format!("{refusal}\n{ASK_ID}"));
                    }
                    draft.id_hash = Some(id_hash);
                    draft.id_mask = Some(id.mask());
                }
                Err(e) => return Ok(format!("{e}。{ASK_ID}")),
            }
        } else if draft.phone_enc.is_none() {
            match Phone::parse(&clean_number(&turn.msg.text)) {
                Ok(phone) => {
                    draft.phone_enc = Some(self.privacy.encrypt_phone(&phone));
                    draft.phone_mask = Some(phone.mask());
                }
                Err(e) => return Ok(format!("{e}。{ASK_PHONE}")),
            }
        } else if draft.union_code.is_none() {
            return self
                .answer_union(turn, draft, &normalize(&turn.msg.text))
                .await;
        } else {
            return Ok("请回复「确认」提交登记，或回复「取消」放弃。".to_string());
        }
        if next_question(&draft).is_none() {
            // The last missing field (a name asked again) completes the form.
            let summary = self.summary(&draft);
            return dialogue::save(
                &*self.store,
                turn.msg,
                &DialogueState::Register(draft),
                turn.now,
                summary,
            )
            .await;
        }
        let step = [
            draft.name.is_some(),
            draft.id_hash.is_some(),
            draft.phone_enc.is_some(),
        ]
        .iter()
        .filter(|done| **done)
        .count()
            + 1;
        let reply = format!(
            "第 {step} 步，{}",
            next_question(&draft).unwrap_or(ASK_UNION)
        );
        dialogue::save(
            &*self.store,
            turn.msg,
            &DialogueState::Register(draft),
            turn.now,
            reply,
        )
        .await
    }

    /// Resolves the union answer; on one match shows the summary, otherwise lists candidates and
    /// keeps asking.
    async fn answer_union(&self, turn: &Turn<'_>, mut draft: RegisterDraft, query: &str) -> Answer {
        let reply = match self.campaign.unions.resolve(query) {
            UnionMatch::One(union) => {
                draft.union_code = Some(union.code.clone());
                self.summary(&draft)
            }
            UnionMatch::Ambiguous(candidates) => format!(
                "有多个工会符合，请回复更完整的名称：\n{}",
                candidates
                    .iter()
                    .map(|u| format!("· {}", u.name))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            UnionMatch::None(suggestions) if suggestions.is_empty() => {
                format!("没有找到这个工会。{ASK_UNION}")
            }
            UnionMatch::None(suggestions) => format!(
                "没有找到这个工会，你要找的是不是：\n{}\n请回复工会全称。",
                suggestions
                    .iter()
                    .map(|u| format!("· {}", u.name))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        };
        dialogue::save(
            &*self.store,
            turn.msg,
            &DialogueState::Register(draft),
            turn.now,
            reply,
        )
        .await
    }

    fn summary(&self, draft: &RegisterDraft) -> String {
        let union = draft
            .union_code
            .as_deref()
            .map(|code| self.union_name(code))
            .unwrap_or_default();
        format!(
            "请核对登记信息：\n姓名：{}\n身份证号：{}\n手机号：{}\n所属工会：{}\n无误请回复「确认」，重新填写请回复「取消」后再发送「注册」。",
            draft.name.as_deref().unwrap_or_default(),
            draft.id_mask.as_deref().unwrap_or_default(),
            draft.phone_mask.as_deref().unwrap_or_default(),
            union
        )
    }

    pub(super) async fn confirm_registration(
        &self,
        turn: &Turn<'_>,
        draft: RegisterDraft,
    ) -> Answer {
        let (
            Some(name),
            Some(id_hash),
            Some(id_mask),
            Some(phone_enc),
            Some(phone_mask),
            Some(union_code),
        ) = (
            draft.name.clone(),
            draft.id_hash.clone(),
            draft.id_mask.clone(),
            draft.phone_enc.clone(),
            draft.phone_mask.clone(),
            draft.union_code.clone(),
        )
        else {
            let question = next_question(&draft).unwrap_or(ASK_NAME);
            return Ok(format!("登记信息还没有填完。{question}"));
        };
        let member = MemberRecord {
            userid: turn.caller.userid.clone(),
            name,
            id_hash,
            id_mask,
            phone_enc,
            phone_mask,
            union_code,
            registered_at: turn.now,
        };
        let outcome = self
            .store
            .register_member(&member, &turn.msg.callback_key)
            .await;
        let union = self.union_name(&member.union_code);
        let reply = match outcome {
            Ok(outcome) => {
                let detail = format!(
                    "name={} id={} phone={} union={}",
                    member.name, member.id_mask, member.phone_mask, member.union_code
                );
                self.audit(turn, "register", &member.userid, detail).await;
                match outcome {
                    RegisterOutcome::Registered => format!(
                        "登记成功！{}（{}），欢迎参加{}。\n发送「帮助」查看可以做什么。",
                        member.name, union, self.campaign.name
                    ),
                    RegisterOutcome::Updated => {
                        format!("登记信息已更新：{}（{}）。", member.name, union)
                    }
                }
            }
            Err(StoreError::IdNumberTaken) => {
                let same_user_other_id = turn
                    .caller
                    .member
                    .as_ref()
                    .is_some_and(|m| m.id_hash != member.id_hash);
                if same_user_other_id {
                    "你已用另一个身份证号登记过，身份证号不能更改。如需更正，请联系所属工会。"
                        .to_string()
                } else {
                    "这个身份证号已由其他账号登记，每个身份证号只能登记一次。\
如有疑问，请联系所属工会。"
                        .to_string()
                }
            }
            Err(e) => return Err(e),
        };
        // Whatever the outcome, the dialogue is over: a refused ID number will not become valid
        // by confirming again.
        dialogue::close(&*self.store, turn.msg, turn.now, reply).await
    }

    /// The union's full name, or its code when the unions file no longer has it.
    pub(super) fn union_name(&self, code: &str) -> String {
        self.campaign
            .unions
            .get(code)
            .map_or_else(|| code.to_string(), |u| u.name.clone())
    }
}
