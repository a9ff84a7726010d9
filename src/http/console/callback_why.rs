//! The callback page's "why" paragraph in the agent's language.
//!
//! Rules:
//! - `callbacks::report::why` gives the paragraph as facts; its `Display` is the English the
//!   API and the command line give, and the English console shows that same text.
//! - In Chinese every sentence is worded here from its facts, one arm per kind of sentence,
//!   so a new kind does not compile until it is worded. The ledger's own English words are
//!   not quoted: the ledger table below the paragraph shows them as stored.
//! - Times are the customer's local time, as in English, with the zone named.

use chrono_tz::Tz;

use crate::callbacks::policy::Outcome;
use crate::callbacks::report::{
    AttemptFacts, CampaignName, Dialing, Wait, Why, WhyPart, local_short,
};
use crate::callbacks::window::{CallingWindow, Days, show_time};
use crate::callbacks::{AttemptState, CampaignState};
use crate::prompts::Locale;

/// The paragraph in `l`.
pub fn paragraph(w: &Why, l: Locale) -> String {
    match l {
        Locale::EnUs => w.to_string(),
        Locale::ZhCn => w.parts.iter().map(|p| zh(p, w.tz)).collect(),
    }
}

/// "2026-06-01 11:00（Asia/Shanghai）".
fn at(ms: i64, tz: Tz) -> String {
    format!("{}（{}）", local_short(ms, tz), tz.name())
}

fn campaign(c: &CampaignName) -> String {
    match c {
        CampaignName::Named(n) => format!("回访活动“{n}”"),
        CampaignName::Id(id) => format!("回访活动 {id}"),
    }
}

fn zh(p: &WhyPart, tz: Tz) -> String {
    match p {
        WhyPart::Pending { due, wait } => pending(*due, wait, tz),
        WhyPart::Dialing(d) => dialing(d, tz),
        WhyPart::Done { outcome, at: t, .. } => {
            format!(
                "已于 {} 完成（{}）。",
                at(*t, tz),
                callback_outcome(outcome)
            )
        }
        WhyPart::Cancelled { outcome, at: t, .. } => {
            format!(
                "已于 {} 取消（{}）。",
                at(*t, tz),
                callback_outcome(outcome)
            )
        }
        WhyPart::Queued {
            at: t, campaign: c, ..
        } => format!("{} 排入{}。", local_short(*t, tz), campaign(c)),
        WhyPart::NoAttempt => "尚未呼叫过。".to_string(),
        WhyPart::Attempts(list) => {
            let list: Vec<String> = list.iter().map(|a| attempt(a, tz)).collect();
            format!("{}。", list.join("；"))
        }
        WhyPart::OptedOut { at: t } => {
            format!("客户于 {} 要求不再来电。", local_short(*t, tz))
        }
        WhyPart::Retried { due, .. } => {
            format!("根据上次呼叫的结果，将于 {} 重试。", at(*due, tz))
        }
        WhyPart::Deferred { due, .. } => format!("已推迟到 {} 再呼叫。", at(*due, tz)),
        WhyPart::NotDialing => "本实例不拨打回访电话（HOTLINE_CALLBACK_DIAL=false、--demo \
            或未配置 Twilio 账号）：这里不会呼叫客户，只有开启了外呼的实例才会呼叫。"
            .to_string(),
    }
}

fn pending(due: i64, wait: &Wait, tz: Tz) -> String {
    let due = at(due, tz);
    match wait {
        Wait::CampaignMissing => format!("待回访：应于 {due} 呼叫，但所属回访活动已不存在。"),
        Wait::Campaign { campaign: c, state } => match state {
            CampaignState::Draft => format!(
                "待回访：应于 {due} 呼叫，但{}尚未开始，其中的客户都还不会被呼叫。",
                campaign(c)
            ),
            CampaignState::Paused => format!(
                "待回访：应于 {due} 呼叫，但{}已暂停；活动继续后才会呼叫。",
                campaign(c)
            ),
            CampaignState::Finished => format!(
                "待回访：应于 {due} 呼叫，但{}已结束，不会再呼叫。",
                campaign(c)
            ),
            CampaignState::Running => format!("待回访：应于 {due} 呼叫。"),
        },
        Wait::OptedOut => {
            format!("待回访：应于 {due} 呼叫，但该号码已要求不再来电：将不经呼叫直接关闭。")
        }
        Wait::CampaignEnds { campaign: c, at: t } => format!(
            "待回访：应于 {due} 呼叫，但{}于 {} 结束：将不经呼叫直接关闭。",
            campaign(c),
            at(*t, tz)
        ),
        Wait::CampaignStarts { campaign: c, at: t } => format!(
            "待回访：应于 {due} 呼叫，但{}于 {} 才开始，届时开始呼叫。",
            campaign(c),
            at(*t, tz)
        ),
        Wait::WindowNeverOpens { window } => format!(
            "待回访：应于 {due} 呼叫，但呼叫时段（{}）不会再开放：将不经呼叫直接关闭。",
            window_zh(window)
        ),
        Wait::WindowOpens { window, at: t } => format!(
            "待回访：应于 {due} 呼叫；按客户所在时区，呼叫时段（{}）于 {} 开放，届时开始呼叫。",
            window_zh(window),
            at(*t, tz)
        ),
        Wait::NextRound => {
            format!("待回访：自 {due} 起已到期，且在呼叫时段内；外呼程序下一轮即会呼叫。")
        }
        Wait::InWindow => format!("待回访：应于 {due} 呼叫，在呼叫时段内。"),
    }
}

fn dialing(d: &Dialing, tz: Tz) -> String {
    match d {
        Dialing::Requesting { attempt_no, at: t } => format!(
            "正在外呼：第 {attempt_no} 次呼叫已于 {} 记录，正在请求运营商拨出。",
            at(*t, tz)
        ),
        Dialing::Placed {
            attempt_no,
            at: t,
            call_id,
        } => format!(
            "正在外呼：运营商已于 {} 拨出第 {attempt_no} 次呼叫{}；正在等待最终结果。",
            at(*t, tz),
            call_id
                .as_deref()
                .map(|id| format!("（呼叫 {id}）"))
                .unwrap_or_default()
        ),
        Dialing::Unclear { attempt_no, at: t } => format!(
            "正在外呼：第 {attempt_no} 次呼叫（{} 请求）未得到运营商的明确答复；再次呼叫前会先向运营商核实。",
            at(*t, tz)
        ),
        Dialing::Claimed { until } => format!(
            "正在外呼：外呼程序已认领{}，即将拨出。",
            until
                .map(|t| format!("（至 {}）", at(t, tz)))
                .unwrap_or_default()
        ),
    }
}

fn attempt(a: &AttemptFacts, tz: Tz) -> String {
    let state: &str = match (a.state, a.outcome.as_deref()) {
        (AttemptState::Ended, Some(o)) => match Outcome::parse(o) {
            Some(o) => carrier_outcome(o),
            None => o,
        },
        (AttemptState::Ended, None) => "已结束",
        (AttemptState::Requesting, _) => "正在请求运营商",
        (AttemptState::Placed, _) => "已拨出，等待运营商报告",
        (AttemptState::Unclear, _) => "运营商尚未明确答复",
    };
    let uncounted = if a.state == AttemptState::Ended && !a.counts {
        "，不计入次数"
    } else {
        ""
    };
    format!(
        "第 {} 次呼叫（{state}{uncounted}）于 {}",
        a.attempt_no,
        local_short(a.at, tz)
    )
}

/// How the carrier says an attempt ended.
fn carrier_outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Answered => "已接听",
        Outcome::NoAnswer => "无人接听",
        Outcome::Busy => "占线",
        Outcome::Failed => "呼叫失败",
        Outcome::Machine => "答录机接听",
        Outcome::Rejected => "运营商拒绝该号码",
        Outcome::CarrierBusy => "运营商暂时拒绝呼叫",
    }
}

/// A finished callback's outcome (the dialer's and the store's words) in `l`; one unknown
/// here (a newer instance's) as stored.
pub fn outcome(o: &str, l: Locale) -> &str {
    match l {
        Locale::EnUs => o,
        Locale::ZhCn => callback_outcome(o),
    }
}

/// How an attempt ended (a carrier outcome) in `l`; one unknown here as stored.
pub fn attempt_outcome(o: &str, l: Locale) -> &str {
    match (l, Outcome::parse(o)) {
        (Locale::ZhCn, Some(o)) => carrier_outcome(o),
        _ => o,
    }
}

/// A ledger line's kind in `l`; one unknown here as stored.
pub fn ledger_kind(k: &str, l: Locale) -> &str {
    if l == Locale::EnUs {
        return k;
    }
    match k {
        "queued" => "排入",
        "dialing" => "外呼",
        "ended" => "呼叫结束",
        "retry" => "重试",
        "deferred" => "推迟",
        "done" => "完成",
        "cancelled" => "取消",
        "opted_out" => "不再来电",
        other => other,
    }
}

fn callback_outcome(o: &str) -> &str {
    match o {
        "reached" => "已联系到客户",
        "exhausted" => "多次呼叫未接通",
        "rejected" => "运营商拒绝该号码",
        "past_end" => "回访活动已到结束时间",
        "never_open" => "呼叫时段不再开放",
        "stopped" => "回访活动已结束",
        "opted_out" => "客户要求不再来电",
        "recently_surveyed" => "客户近期已接受过回访",
        "cancelled" => "已取消",
        "done" => "已完成",
        other => other,
    }
}

/// "09:00–20:00，每天（节假日除外）".
fn window_zh(w: &CallingWindow) -> String {
    let days = match w.days {
        Days::ALL => "每天".to_string(),
        Days::MON_FRI => "周一至周五".to_string(),
        Days::NONE => "无".to_string(),
        days => days.iter().map(weekday).collect::<Vec<_>>().join("、"),
    };
    let days = match (w.working_days_only, w.days) {
        (true, Days::ALL) => "工作日".to_string(),
        (true, _) => format!("工作日中的{days}"),
        (false, _) => days,
    };
    let holidays = if w.skip_holidays && !w.working_days_only {
        "（节假日除外）"
    } else {
        ""
    };
    format!(
        "{}–{}，{days}{holidays}",
        show_time(w.start),
        show_time(w.end)
    )
}

fn weekday(d: chrono::Weekday) -> &'static str {
    match d {
        chrono::Weekday::Mon => "周一",
        chrono::Weekday::Tue => "周二",
        chrono::Weekday::Wed => "周三",
        chrono::Weekday::Thu => "周四",
        chrono::Weekday::Fri => "周五",
        chrono::Weekday::Sat => "周六",
        chrono::Weekday::Sun => "周日",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::window::CallingWindow;

    /// 2026-06-01T00:00:00Z: 08:00 in Shanghai, a Monday.
    const T0: i64 = 1_780_272_000_000;
    const HOUR: i64 = 3_600_000;

    /// Whether `s` has an English word (three letters or more) outside the zone's name and
    /// the settings it names.
    fn has_english(s: &str) -> bool {
        let s = s
            .replace("Asia/Shanghai", "")
            .replace("HOTLINE_CALLBACK_DIAL=false", "")
            .replace("--demo", "")
            .replace("Twilio", "");
        s.split(|c: char| !c.is_ascii_alphabetic())
            .any(|w| w.len() >= 3)
    }

    fn named() -> CampaignName {
        CampaignName::Named("修复后回访".into())
    }

    #[test]
    fn every_sentence_is_chinese_in_the_chinese_console() {
        let tz = chrono_tz::Asia::Shanghai;
        let window = CallingWindow::default();
        let waits = [
            Wait::CampaignMissing,
            Wait::Campaign {
                campaign: named(),
                state: CampaignState::Draft,
            },
            Wait::Campaign {
                campaign: named(),
                state: CampaignState::Paused,
            },
            Wait::Campaign {
                campaign: named(),
                state: CampaignState::Finished,
            },
            Wait::OptedOut,
            Wait::CampaignEnds {
                campaign: named(),
                at: T0,
            },
            Wait::CampaignStarts {
                campaign: CampaignName::Id(3),
                at: T0,
            },
            Wait::WindowNeverOpens {
                window: window.clone(),
            },
            Wait::WindowOpens {
                window: window.clone(),
                at: T0 + HOUR,
            },
            Wait::NextRound,
            Wait::InWindow,
        ];
        let mut parts: Vec<WhyPart> = waits
            .into_iter()
            .map(|wait| WhyPart::Pending { due: T0, wait })
            .collect();
        parts.extend([
            WhyPart::Dialing(Dialing::Requesting {
                attempt_no: 1,
                at: T0,
            }),
            WhyPart::Dialing(Dialing::Placed {
                attempt_no: 1,
                at: T0,
                call_id: Some("CA1".into()),
            }),
            WhyPart::Dialing(Dialing::Unclear {
                attempt_no: 1,
                at: T0,
            }),
            WhyPart::Dialing(Dialing::Claimed { until: Some(T0) }),
            WhyPart::Done {
                outcome: "exhausted".into(),
                at: T0,
                detail: Some("could not reach the customer".into()),
            },
            WhyPart::Cancelled {
                outcome: "stopped".into(),
                at: T0,
                detail: Some("not called: campaign \"x\" was stopped".into()),
            },
            WhyPart::Queued {
                at: T0,
                campaign: named(),
                detail: "on list list:+8613800000002".into(),
            },
            WhyPart::NoAttempt,
            WhyPart::Attempts(vec![
                AttemptFacts {
                    attempt_no: 1,
                    state: AttemptState::Ended,
                    outcome: Some("no_answer".into()),
                    counts: true,
                    at: T0,
                },
                AttemptFacts {
                    attempt_no: 2,
                    state: AttemptState::Ended,
                    outcome: Some("carrier_busy".into()),
                    counts: false,
                    at: T0,
                },
            ]),
            WhyPart::OptedOut { at: T0 },
            WhyPart::Retried {
                due: T0,
                detail: "no answer (attempt 1 of 3)".into(),
            },
            WhyPart::Deferred {
                due: T0,
                detail: "outside the calling window".into(),
            },
            WhyPart::NotDialing,
        ]);
        for p in parts {
            let w = Why {
                tz,
                parts: vec![p.clone()],
            };
            let zh = paragraph(&w, Locale::ZhCn);
            assert!(!has_english(&zh), "{p:?}: {zh}");
            assert_eq!(paragraph(&w, Locale::EnUs), w.to_string());
        }
    }

    #[test]
    fn the_window_and_times_read_as_in_english() {
        let w = Why {
            tz: chrono_tz::Asia::Shanghai,
            parts: vec![WhyPart::Pending {
                due: T0,
                wait: Wait::WindowOpens {
                    window: CallingWindow::default(),
                    at: T0 + HOUR,
                },
            }],
        };
        assert_eq!(
            paragraph(&w, Locale::ZhCn),
            "待回访：应于 2026-06-01 08:00（Asia/Shanghai） 呼叫；按客户所在时区，呼叫时段\
             （09:00–20:00，每天（节假日除外））于 2026-06-01 09:00（Asia/Shanghai） 开放，届时开始呼叫。"
        );
    }
}
