//! What the console says when the domain refuses something, in the agent's language.
//!
//! Rules:
//! - The domain's errors carry their facts; their `Display` is the English the JSON API and the
//!   command line give integrators, and stays so. The console words each error here, one arm
//!   per variant, so a new variant does not compile until it is worded in both languages.
//! - English is the error's own text, so the two consoles and the API never disagree on facts.
//! - A field error names the field in the agent's language; its English detail (a range, a
//!   format) is shown only in the English console.

use crate::agents::AgentError;
use crate::agents::calls::CallError;
use crate::callbacks::lists::{CSV_COLUMNS, ImportError};
use crate::callbacks::{CampaignAction, CampaignRefusal, CampaignState};
use crate::escalations::EscError;
use crate::escalations::service::ActError;
use crate::prompts::Locale;
use crate::tickets::{TicketState, TransitionError};

use super::text::{self, T};

/// A refused action on a case.
pub fn esc(e: &EscError, l: Locale) -> String {
    if l == Locale::EnUs {
        return e.to_string();
    }
    match e {
        EscError::AlreadyClaimed { id, owner } => format!("待办 {id} 已被 {owner} 认领。"),
        EscError::NotOwner { id, owner } => {
            format!("待办 {id} 由 {owner} 负责：只有负责人或主管可以处理。")
        }
        EscError::Unclaimed { id } => format!("待办 {id} 尚未认领，请先认领。"),
        EscError::NotSupervisor => "只有主管可以改派待办。".to_string(),
        EscError::Closed { id } => format!("待办 {id} 已关闭。"),
        EscError::NoReply { id } => format!("待办 {id} 须先记录给客户的答复，才能关闭。"),
        EscError::Missing(field) => format!("{}{}", T::MissingField.get(l), esc_field(field, l)),
        EscError::TooLong(field) => format!(
            "{}{}（最多 {} 个字符）",
            T::TooLong.get(l),
            esc_field(field, l),
            crate::escalations::MAX_TEXT
        ),
        EscError::SameOwner { id, owner } => format!("待办 {id} 已由 {owner} 负责。"),
        EscError::TicketActive { id, number, state } => {
            let state = TicketState::parse(state).map_or(*state, |s| text::ticket_state(s).get(l));
            format!("待办 {id} 所跟进的工单 {number} 仍为“{state}”：工单解决后，待办会自动关闭。")
        }
    }
}

/// The name of a text field of a case action, as `EscError` names it.
fn esc_field(field: &str, l: Locale) -> &str {
    let t = match field {
        "note" => T::Note,
        "reason" => T::Reason,
        "reply" => T::ReplyText,
        "call detail" => T::Detail,
        _ => return field,
    };
    t.get(l)
}

/// A refused action on a case, from the service.
pub fn act(e: &ActError, l: Locale) -> String {
    match (e, l) {
        (_, Locale::EnUs) => e.to_string(),
        (ActError::NotFound(id), _) => {
            format!("{}：{} {id}", T::NotFound.get(l), T::Escalation.get(l))
        }
        (ActError::NoSuchAgent(login), _) => format!("{}{login:?}", T::NoSuchAgent.get(l)),
        (ActError::Refused(r), _) => esc(r, l),
        (ActError::Store(_), _) => T::Error.get(l).to_string(),
    }
}

/// A click-to-call that was not placed.
pub fn call(e: &CallError, l: Locale) -> String {
    match (e, l) {
        (_, Locale::EnUs) => e.to_string(),
        (CallError::NoAgentPhone, _) => {
            "请先设置您的电话号码：系统先呼叫您的电话，再呼叫客户。".to_string()
        }
        (CallError::NoCustomerNumber, _) => "此待办没有可回拨的号码。".to_string(),
        (CallError::NoFromNumber, _) => {
            "未配置外呼主叫的热线号码（callbacks.from_number）。".to_string()
        }
        (CallError::NoCarrier, _) => "未配置电话运营商账号，无法外呼。".to_string(),
        (CallError::Refused(r), _) => act(r, l),
        // The carrier's own words are in English whatever the console's language.
        (CallError::Carrier(d), _) => format!("运营商未能拨出此呼叫：{d}"),
    }
}

fn campaign_state(s: CampaignState, l: Locale) -> &'static str {
    text::campaign_state(s).get(l)
}

fn campaign_action(a: CampaignAction, l: Locale) -> &'static str {
    match a {
        CampaignAction::Start => T::ActStart,
        CampaignAction::Pause => T::ActPause,
        CampaignAction::Resume => T::ActResume,
        CampaignAction::Stop => T::ActStop,
    }
    .get(l)
}

/// Why a campaign refused an action or a list.
pub fn campaign(r: CampaignRefusal, l: Locale) -> String {
    if l == Locale::EnUs {
        return r.to_string();
    }
    match r {
        CampaignRefusal::Action { id, state, action } => {
            let mut s = format!(
                "回访活动 {id} 处于“{}”状态，不能“{}”。",
                campaign_state(state, l),
                campaign_action(action, l)
            );
            if let Some(a) = r.instead() {
                s.push_str(&format!("请改用“{}”。", campaign_action(a, l)));
            }
            s
        }
        CampaignRefusal::Finished { id } => {
            format!("回访活动 {id} 已结束，不再接受回访名单。")
        }
    }
}

/// A pasted list that could not be read at all.
pub fn import(e: &ImportError, l: Locale) -> String {
    if l == Locale::EnUs {
        return e.to_string();
    }
    let columns = CSV_COLUMNS.join(", ");
    match e {
        ImportError::UnknownColumn(c) => format!("未知的列 {c:?}；可用的列为：{columns}"),
        ImportError::NoNumberColumn => format!("表头缺少“number”列（可用的列为：{columns}）"),
        // The CSV reader's own words: where the text is malformed.
        ImportError::Csv(c) => format!("CSV 格式有误：{c}"),
        ImportError::Store(_) => T::Error.get(l).to_string(),
    }
}

/// A ticket action its state does not allow.
pub fn transition(e: &TransitionError, l: Locale) -> String {
    if l == Locale::EnUs {
        return e.to_string();
    }
    match e {
        TransitionError::NotAllowed {
            number,
            from,
            action,
        } => {
            let action = text::ticket_event(action).map_or(*action, |t| t.get(l));
            let next: Vec<&str> = from
                .next_states()
                .iter()
                .map(|s| text::ticket_state(*s).get(l))
                .collect();
            let next = if next.is_empty() {
                "无（已是最终状态）".to_string()
            } else {
                next.join("、")
            };
            format!(
                "工单 {number} 为“{}”，不能执行“{action}”（可转为：{next}）。",
                text::ticket_state(*from).get(l)
            )
        }
        TransitionError::Invalid(why) => why.clone(),
    }
}

/// An agent's details the rules refuse.
pub fn agent(e: &AgentError, l: Locale) -> String {
    if l == Locale::EnUs {
        return e.to_string();
    }
    match e {
        AgentError::Login => "登录名须为 2 至 32 个字符，只能包含 a-z、0-9、“.”、“_”或“-”。",
        AgentError::Name => "姓名须为 1 至 80 个字符。",
        AgentError::Password => "密码须为 10 至 128 个字符。",
        AgentError::Phone => "电话须为 5 至 20 位数字，可以“+”开头。",
        AgentError::Role => "角色须为坐席或主管。",
    }
    .to_string()
}

/// A form field the rules refused (`FieldError`, a report's `ParamError`): named in the
/// agent's language.
pub fn field(name: &str, message: &str, l: Locale) -> String {
    if l == Locale::EnUs {
        return format!("{name}: {message}");
    }
    format!("{}{}", T::UnknownValue.get(l), field_name(name, l))
}

/// A form field's label, by its name (the name itself for one unknown here).
pub fn field_name(name: &str, l: Locale) -> &str {
    let t = match name {
        "name" => T::CampaignName,
        "purpose" => T::Purpose,
        "from_number" => T::FromNumber,
        "calls_per_sec" => T::CallsPerSec,
        "from" => T::ReportFrom,
        "to" => T::ReportTo,
        "service" => T::ReportService,
        "line_kind" => T::ReportLineKind,
        "customer_class" => T::ReportCustomerClass,
        "campaign" => T::ReportCampaign,
        "hotline" => T::ReportHotlineNumber,
        "kind" => T::Report,
        _ => return name,
    };
    t.get(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ascii_words(s: &str) -> bool {
        s.split(|c: char| !c.is_ascii_alphabetic())
            .any(|w| w.len() > 3)
    }

    #[test]
    fn case_refusals_are_chinese_in_the_chinese_console_and_the_apis_words_in_english() {
        let all = [
            EscError::AlreadyClaimed {
                id: 7,
                owner: "amy".into(),
            },
            EscError::NotOwner {
                id: 7,
                owner: "amy".into(),
            },
            EscError::Unclaimed { id: 7 },
            EscError::NotSupervisor,
            EscError::Closed { id: 7 },
            EscError::NoReply { id: 7 },
            EscError::Missing("reason"),
            EscError::TooLong("note"),
            EscError::SameOwner {
                id: 7,
                owner: "amy".into(),
            },
            EscError::TicketActive {
                id: 7,
                number: "10000001".into(),
                state: "in_progress",
            },
        ];
        for e in &all {
            let zh = esc(e, Locale::ZhCn);
            assert!(!ascii_words(&zh), "{e:?}: {zh}");
            assert_eq!(esc(e, Locale::EnUs), e.to_string());
        }
        assert_eq!(esc(&all[0], Locale::ZhCn), "待办 7 已被 amy 认领。");
        assert!(esc(&all[9], Locale::ZhCn).contains("处理中"));
    }

    #[test]
    fn campaign_refusals_say_what_to_do_instead() {
        let r = CampaignRefusal::Action {
            id: 3,
            state: CampaignState::Paused,
            action: CampaignAction::Start,
        };
        assert_eq!(
            campaign(r, Locale::ZhCn),
            "回访活动 3 处于“已暂停”状态，不能“开始”。请改用“继续”。"
        );
        assert_eq!(
            campaign(r, Locale::EnUs),
            "campaign 3 is paused; it cannot be started (resume it instead)"
        );
        let f = CampaignRefusal::Finished { id: 3 };
        assert!(!ascii_words(&campaign(f, Locale::ZhCn)));
    }

    #[test]
    fn ticket_and_agent_refusals_are_chinese() {
        let e = TransitionError::NotAllowed {
            number: "10000001".into(),
            from: TicketState::Closed,
            action: "resolved",
        };
        let zh = transition(&e, Locale::ZhCn);
        assert!(!ascii_words(&zh), "{zh}");
        assert!(zh.contains("已关闭"), "{zh}");
        for e in [
            AgentError::Login,
            AgentError::Name,
            AgentError::Password,
            AgentError::Phone,
            AgentError::Role,
        ] {
            assert!(!ascii_words(&agent(&e, Locale::ZhCn)), "{e:?}");
        }
        assert_eq!(
            field("calls_per_sec", "must be positive", Locale::ZhCn),
            "无效的值：每秒最多外呼"
        );
    }
}
