//! The reports' tables in Chinese, for the console only: titles, definitions, column labels and
//! the fixed words the builders put in rows.
//!
//! Rules:
//! - The builders (`crate::reports::*`) write every table in English, and the JSON API, the
//!   CSV export and the command line stay English. The console shows a Chinese supervisor the
//!   texts here, looked up by the table's and the column's key; a key missing here shows the
//!   builder's English, so a new table is never blank.
//! - A Chinese definition says exactly what the English one says: the same rules and the same
//!   denominators, in the operator's terms.
//! - In rows, only the builders' fixed words are translated (all, total, ticket kinds, line
//!   kinds, customer classes, survey services…), each in the columns that carry them; dates,
//!   numbers, question keys and campaign names stay as they are.
//! - A unit test reads the builders' source and fails when one of their table or column keys
//!   has no entry here (or an entry names a key no builder produces).

use crate::reports::{Cell, figures};

/// One table in Chinese: its key (as the builder names it), title, definition and columns.
struct ZhTable {
    key: &'static str,
    title: &'static str,
    definition: &'static str,
    columns: &'static [(&'static str, &'static str)],
}

const TABLES: &[ZhTable] = &[
    // reports/satisfaction.rs
    ZhTable {
        key: "satisfaction",
        title: "障碍修复及业务受理后的满意度",
        definition: "本期内满意度回访中给出的答复，每次回访计一次；满意率 =（很满意 + 基本满意）÷ \
                     回答了满意度问题的全部客户；一次修复率 = 答“是”的客户 ÷ \
                     回答了“是否已修复”问题的全部客户",
        columns: &[
            ("service", "业务（工单类型）"),
            ("line_kind", "线路类型"),
            ("very", "很满意"),
            ("basic", "基本满意"),
            ("dissatisfied", "不满意"),
            ("satisfied", "满意率"),
            ("fixed", "一次修复率"),
        ],
    },
    ZhTable {
        key: "satisfaction_sample",
        title: "回访抽样客户",
        definition: "本期内排入队列的满意度回访，无论后来结果如何；已接通 = 有人接听过其中一次呼叫；\
                     已作答 = 至少给出了一项回访答复（排队之后任何时间均计）",
        columns: &[
            ("service", "业务（工单类型）"),
            ("line_kind", "线路类型"),
            ("sampled", "抽样数"),
            ("reached", "已接通"),
            ("answered", "已作答"),
        ],
    },
    // reports/surveys.rs
    ZhTable {
        key: "survey_services",
        title: "各服务项目得分",
        definition: "本期内对评价各服务项目的问题给出的抽样调查答复；平均分 = \
                     这些问题全部计分答复的平均得分（0–100）",
        columns: &[
            ("service", "服务项目"),
            ("questions", "问题数"),
            ("answered", "答复数"),
            ("scored", "计分答复"),
            ("average", "平均分"),
        ],
    },
    ZhTable {
        key: "survey_questions",
        title: "各问题得分",
        definition: "本期内给出的抽样调查答复，每次回访计一次；平均分 = 计分答复的平均得分（0–100）",
        columns: &[
            ("service", "服务项目"),
            ("question", "问题"),
            ("answered", "答复数"),
            ("scored", "计分答复"),
            ("average", "平均分"),
        ],
    },
    ZhTable {
        key: "survey_attempts",
        title: "按呼叫次序的应答情况",
        definition: "本期内运营商已受理的抽样调查呼叫，按第几次呼叫分列（每次回访每个次序一次）；\
                     有人接听 = 该次呼叫有人接听；已作答 = 该次呼叫中至少给出了一项答复\
                     （不分服务项目：每次呼叫都询问全部问题）",
        columns: &[
            ("attempt", "第几次呼叫"),
            ("placed", "拨出数"),
            ("answered", "有人接听"),
            ("responded", "已作答"),
        ],
    },
    // reports/service_levels.rs
    ZhTable {
        key: "compliance",
        title: "服务时限：按时完成情况",
        definition: "服务时限落在本期内的工单，按工单类型和客户类别分列（取工单的客户类别，工单没有时取其账户的）。\
                     达标：在时限之前或恰在时限解决。超时：被标记为超时、在时限之后解决，或现在仍在处理且已过时限。\
                     未到期：仍在处理、尚未到时限（仍在处理但已过时限的工单计为超时，因此每张工单都有结果）。\
                     已取消：在超时之前被取消。达标率 = 达标 ÷（达标 + 超时）；未到期和已取消的工单不计入。",
        columns: &[
            ("kind", "工单类型"),
            ("customer_class", "客户类别"),
            ("due", "到期工单"),
            ("met", "达标"),
            ("breached", "超时"),
            ("pending", "未到期"),
            ("cancelled", "已取消"),
            ("compliance", "达标率"),
        ],
    },
    ZhTable {
        key: "time_to_resolve",
        title: "工单处理时长",
        definition: "本期内解决的工单（不论何时受理），按工单类型和客户类别分列：从受理到解决的时长。\
                     中位数和第 90 百分位数按最近秩取值（即某张工单实际用过的时长）；最长即最大值。",
        columns: &[
            ("kind", "工单类型"),
            ("customer_class", "客户类别"),
            ("resolved", "已解决"),
            ("mean", "平均"),
            ("median", "中位数"),
            ("p90", "第 90 百分位"),
            ("max", "最长"),
        ],
    },
    ZhTable {
        key: "at_risk",
        title: "有超时风险的在办工单",
        definition: "截至现在仍在处理的工单（不受所选期间限制），按工单类型分列：已过时限仍未解决的，\
                     以及时限在今后 4 小时内到期的。",
        columns: &[
            ("kind", "工单类型"),
            ("late", "已过时限，仍未解决"),
            ("due_4h", "4 小时内到期"),
        ],
    },
    // reports/hotline.rs
    ZhTable {
        key: "calls",
        title: "热线话务与自助服务完成率",
        definition: "呼入话务按开始时的本地日期分列（期间超过 31 天时按月），跨零点的通话计入开始当天；\
                     筛选指定了热线号码时只计拨打该号码的通话。自助服务：听取了话费、提交了障碍或业务受理工单、\
                     查询了工单进度或听取了业务信息。自助完成：已自助服务、始终未要求转人工，\
                     且同一号码在该通话开始后 24 小时内没有再次来电（因此最后一天的数字仍可能下降），\
                     占全部呼入的比例。24 小时内再次来电：已自助服务、未转人工，但该号码在 24 小时内再次来电。\
                     要求转人工：占全部呼入的比例，无论随后是排队、接通坐席还是提供回拨。\
                     提供回拨：代替排队等待；接受回拨：来电者留下了回拨号码。",
        columns: &[
            ("day", "日期"),
            ("month", "月份"),
            ("calls", "呼入量"),
            ("self_served", "自助服务"),
            ("contained", "自助完成"),
            ("called_again", "24 小时内再次来电"),
            ("person", "要求转人工"),
            ("callback_offered", "提供回拨"),
            ("callback_taken", "接受回拨"),
        ],
    },
    ZhTable {
        key: "agent_queue",
        title: "人工坐席排队",
        definition: "本期内开始并进入人工坐席队列的通话。放弃（呼损）：在等待中挂机，占进入队列通话的比例。\
                     等待时长：从进入队列到离开队列（被接听、挂机或改为回拨），按已离开队列的通话计算；\
                     第 90 百分位数按最近秩取值。",
        columns: &[
            ("queued", "进入队列"),
            ("abandoned", "放弃（呼损）"),
            ("left", "离开队列"),
            ("mean_wait", "平均等待"),
            ("p90_wait", "第 90 百分位等待"),
        ],
    },
    // reports/callbacks.rs
    ZhTable {
        key: "callbacks_connect",
        title: "回访接通情况",
        definition: "运营商已受理的回访呼叫，按外呼系统拨出的时间计；按回访计接通率 = 本期首次呼叫、\
                     且（任一次呼叫）有人接听的回访 ÷ 本期首次呼叫的回访；按呼叫计接通率 = 有人接听的呼叫 ÷ 拨出的呼叫；每次接通所需呼叫 = \
                     呼叫数 ÷ 已接通的回访；答录机 = 由答录机接听的呼叫；时段外 = \
                     按客户所在时区、在该回访活动外呼时段之外拨出的呼叫（逐次核对；必须为 0）",
        columns: &[
            ("campaign", "回访活动"),
            ("callbacks", "本期首次呼叫的回访"),
            ("connect_per_callback", "按回访计接通率"),
            ("attempts", "拨出呼叫"),
            ("connect_per_attempt", "按呼叫计接通率"),
            ("attempts_per_connect", "每次接通所需呼叫"),
            ("machines", "答录机"),
            ("outside_window", "时段外呼叫（必须为 0）"),
        ],
    },
    ZhTable {
        key: "callbacks_first_attempt",
        title: "从工单解决到首次回访呼叫",
        definition: "针对已解决工单的回访中，运营商受理的首次呼叫在本期内拨出的：从工单解决到该次呼叫的时长，\
                     含回访活动设定的延迟；百分位数按最近秩取值",
        columns: &[
            ("campaign", "回访活动"),
            ("callbacks", "回访数"),
            ("mean", "平均"),
            ("median", "中位数"),
            ("p90", "第 90 百分位"),
        ],
    },
    // reports/complaints.rs
    ZhTable {
        key: "complaints",
        title: "投诉量同比",
        definition: "投诉工单按受理时的本地月份分列（最后一行为整个期间），与十二个月前的相同日期对比。\
                     同比变化 =（本期投诉 − 去年同期）÷ 去年同期；去年同期没有投诉时为“—”。\
                     工单没有客户类别时，投诉的客户类别取其账户的。",
        columns: &[
            ("month", "月份"),
            ("complaints", "投诉量"),
            ("a_year_earlier", "去年同期"),
            ("change", "同比变化"),
        ],
    },
];

fn table_of(key: &str) -> Option<&'static ZhTable> {
    TABLES.iter().find(|t| t.key == key)
}

/// The Chinese title and definition of the table `key`.
pub fn zh_table(key: &str) -> Option<(&'static str, &'static str)> {
    table_of(key).map(|t| (t.title, t.definition))
}

/// The Chinese label of the column `column` of the table `table`.
pub fn zh_column(table: &str, column: &str) -> Option<&'static str> {
    table_of(table)?
        .columns
        .iter()
        .find(|(k, _)| *k == column)
        .map(|(_, l)| *l)
}

/// The fixed words the builders write in rows: summary rows, ticket kinds, line kinds,
/// customer classes, survey services and the placeholders for "nothing".
fn zh_word(value: &str) -> Option<&'static str> {
    Some(match value {
        "all" => "全部",
        "total" => "合计",
        "(no ticket)" => "（无工单）",
        "(none)" => "（无）",
        "unrecorded" => "未记录",
        // Ticket kinds.
        "fault" => "故障",
        "installation" => "装机",
        "move" => "移机",
        "change" => "业务变更",
        "complaint" => "投诉",
        // Line kinds.
        "phone" => "电话",
        "broadband" => "宽带",
        "leased" => "专线",
        // Customer classes.
        "residential" => "住宅",
        "business" => "商业",
        // The operator's survey services (`surveys::script::SERVICES`).
        "business_hall" => "营业厅",
        "fault_repair" => "障碍修复",
        "billing" => "话费",
        "directory_enquiries" => "查号",
        "public_phones" => "公用电话",
        "long_distance" => "长途电话",
        "data_communications" => "数据通信",
        _ => return None,
    })
}

/// A text cell of column `column` as a Chinese reader sees it, when it is one of the builders'
/// fixed words; `None` keeps it as it is (a date, a question key, a campaign's name).
pub fn zh_cell(column: &str, value: &str) -> Option<String> {
    match column {
        "service" | "kind" | "line_kind" | "customer_class" => zh_word(value).map(str::to_string),
        "campaign" => match value {
            "all" => Some("全部".into()),
            // A campaign the store no longer has is named by its id.
            _ => value
                .strip_prefix("campaign ")
                .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
                .map(|id| format!("回访活动 {id}")),
        },
        "day" | "month" => (value == "total").then(|| "合计".into()),
        _ => None,
    }
}

/// A figure as a Chinese reader reads it: a rate with its numerator and denominator
/// ("97.3%（215/221）"), durations with Chinese units; numbers themselves are unchanged.
pub fn zh_display(cell: &Cell) -> String {
    match cell {
        Cell::Rate { num, den } => match figures::percent(*num, *den) {
            Some(p) => format!("{p:.1}%（{num}/{den}）"),
            None => "—（0/0）".into(),
        },
        Cell::Secs { value: Some(s) } => {
            let shown = figures::duration(*s);
            for (en, zh) in [
                (" min", " 分钟"),
                (" s", " 秒"),
                (" h", " 小时"),
                (" d", " 天"),
            ] {
                if let Some(n) = shown.strip_suffix(en) {
                    return format!("{n}{zh}");
                }
            }
            shown
        }
        other => other.display(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The six builders' source, as compiled.
    const BUILDERS: [(&str, &str); 6] = [
        (
            "satisfaction.rs",
            include_str!("../../reports/satisfaction.rs"),
        ),
        ("surveys.rs", include_str!("../../reports/surveys.rs")),
        (
            "service_levels.rs",
            include_str!("../../reports/service_levels.rs"),
        ),
        ("hotline.rs", include_str!("../../reports/hotline.rs")),
        ("callbacks.rs", include_str!("../../reports/callbacks.rs")),
        ("complaints.rs", include_str!("../../reports/complaints.rs")),
    ];

    /// The string literal starting at byte `i` (a `"`), unescaped enough for keys, and the
    /// byte after it.
    fn literal_at(s: &str, i: usize) -> Option<(String, usize)> {
        let b = s.as_bytes();
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let mut out = String::new();
        let mut j = i + 1;
        while j < b.len() {
            match b[j] {
                b'"' => return Some((out, j + 1)),
                b'\\' => {
                    out.push(b.get(j + 1).copied().map_or('\\', char::from));
                    j += 2;
                }
                _ => {
                    let c = s[j..].chars().next()?;
                    out.push(c);
                    j += c.len_utf8();
                }
            }
        }
        None
    }

    /// The byte just after the bracket closing the one opened at `open` (string literals are
    /// skipped, so brackets in texts do not count).
    fn close_of(s: &str, open: usize) -> usize {
        let b = s.as_bytes();
        let mut depth = 0usize;
        let mut j = open;
        while j < b.len() {
            match b[j] {
                b'"' => {
                    j = literal_at(s, j).expect("a closed literal").1;
                    continue;
                }
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return j + 1;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        panic!("unclosed bracket at {open}");
    }

    /// The top-level elements of a bracketed list `s` (its brackets included), trimmed.
    fn elements(s: &str) -> Vec<&str> {
        let inner = &s[1..s.len() - 1];
        let b = inner.as_bytes();
        let (mut out, mut start, mut j) = (Vec::new(), 0, 0);
        while j < b.len() {
            match b[j] {
                b'"' => {
                    j = literal_at(inner, j).expect("literal").1;
                    continue;
                }
                b'(' | b'[' | b'{' => {
                    j = close_of(inner, j);
                    continue;
                }
                b',' => {
                    out.push(inner[start..j].trim());
                    start = j + 1;
                }
                _ => {}
            }
            j += 1;
        }
        out.push(inner[start..].trim());
        out.retain(|e| !e.is_empty());
        out
    }

    /// `e` when it is exactly one string literal.
    fn as_literal(e: &str) -> Option<String> {
        literal_at(e, 0)
            .filter(|(_, end)| *end == e.len())
            .map(|l| l.0)
    }

    /// Every `("key", "Label")` pair of literals in `s`.
    fn literal_pairs(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut j = 0;
        while j < s.len() {
            match s.as_bytes()[j] {
                b'"' => {
                    j = literal_at(s, j).expect("literal").1;
                    continue;
                }
                b'(' => {
                    let end = close_of(s, j);
                    if let [k, l] = elements(&s[j..end])[..]
                        && let (Some(k), Some(_)) = (as_literal(k), as_literal(l))
                    {
                        out.push(k);
                    }
                }
                _ => {}
            }
            j += 1;
        }
        out
    }

    /// Every table the builders make, with its column keys: each `Table::new(` call's first
    /// literal and the keys of its `&[(key, label), …]`. A column named by variables (the
    /// hotline's day or month) is every `("key", "Label")` pair in the function before the
    /// call.
    fn built_tables() -> Vec<(String, String, Vec<String>)> {
        let mut out = Vec::new();
        for (file, src) in BUILDERS {
            let src = src.split("#[cfg(test)]").next().expect("source");
            let mut found = 0;
            for (at, _) in src.match_indices("Table::new(") {
                let open = at + "Table::new".len();
                let call = &src[open..close_of(src, open)];
                let args = elements(call);
                assert_eq!(args.len(), 4, "{file}: Table::new takes four arguments");
                let key = as_literal(args[0])
                    .unwrap_or_else(|| panic!("{file}: a table key that is not a literal"));
                let columns = args[3]
                    .strip_prefix('&')
                    .unwrap_or_else(|| panic!("{file}: {key}: columns are not a slice"));
                let mut keys = Vec::new();
                for col in elements(columns) {
                    let pair = elements(col);
                    assert_eq!(pair.len(), 2, "{file}: {key}: column {col}");
                    match as_literal(pair[0]) {
                        Some(k) => keys.push(k),
                        None => {
                            let fn_start = src[..at].rfind("fn ").expect("in a function");
                            let named = literal_pairs(&src[fn_start..at]);
                            assert!(
                                !named.is_empty(),
                                "{file}: {key}: column {col} names no literal key"
                            );
                            keys.extend(named);
                        }
                    }
                }
                assert!(!keys.is_empty(), "{file}: {key}: no columns found");
                out.push((file.to_string(), key, keys));
                found += 1;
            }
            assert!(found > 0, "{file}: no Table::new found");
        }
        out
    }

    fn is_chinese(s: &str) -> bool {
        s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    #[test]
    fn every_table_and_column_the_builders_make_is_in_chinese() {
        let built = built_tables();
        // The parser sees the tables it should (a parser finding nothing would pass anything).
        let keys: Vec<&str> = built.iter().map(|t| t.1.as_str()).collect();
        for k in [
            "satisfaction",
            "survey_attempts",
            "compliance",
            "calls",
            "complaints",
        ] {
            assert!(keys.contains(&k), "{k} not found among {keys:?}");
        }
        let mut missing = Vec::new();
        for (file, table, columns) in &built {
            match zh_table(table) {
                Some((title, definition)) => {
                    assert!(is_chinese(title) && is_chinese(definition), "{table}");
                }
                None => missing.push(format!("{file}: table {table}")),
            }
            for c in columns {
                match zh_column(table, c) {
                    Some(l) => assert!(is_chinese(l), "{table}.{c}: {l}"),
                    None => missing.push(format!("{file}: column {table}.{c}")),
                }
            }
        }
        assert!(
            missing.is_empty(),
            "no Chinese for:\n{}",
            missing.join("\n")
        );

        // And nothing here is stale: every entry names a table and column a builder makes.
        for t in TABLES {
            let Some((_, _, columns)) = built.iter().find(|b| b.1 == t.key) else {
                panic!("{}: no builder makes this table", t.key);
            };
            for (c, _) in t.columns {
                assert!(
                    columns.iter().any(|k| k == c),
                    "{}.{c}: no such column",
                    t.key
                );
            }
        }
    }

    #[test]
    fn the_parser_reads_variable_columns_and_escaped_texts() {
        let src = r#"fn f() { let (key, label) = match s { A => ("day", "Day"), B => ("month", "Month") };
            Table::new("t", "T", "a \"quoted\" (text) [x]", &[(key, label), ("n", "N")]) }"#;
        let open = src.find("Table::new(").unwrap() + "Table::new".len();
        let args = elements(&src[open..close_of(src, open)]);
        assert_eq!(args.len(), 4);
        assert_eq!(as_literal(args[2]).unwrap(), "a \"quoted\" (text) [x]");
        assert_eq!(literal_pairs(src), ["day", "month", "n"]);
    }

    #[test]
    fn fixed_words_are_translated_names_and_dates_are_not() {
        use crate::customers::{CustomerClass, LineKind};
        use crate::tickets::TicketKind;
        for k in TicketKind::ALL {
            assert!(zh_cell("kind", k.as_str()).is_some(), "{}", k.as_str());
            assert!(zh_cell("service", k.as_str()).is_some(), "{}", k.as_str());
        }
        for l in [LineKind::Phone, LineKind::Broadband, LineKind::Leased] {
            assert!(zh_cell("line_kind", l.as_str()).is_some(), "{}", l.as_str());
        }
        for c in [CustomerClass::Residential, CustomerClass::Business] {
            assert!(zh_cell("customer_class", c.as_str()).is_some());
        }
        for s in crate::surveys::script::SERVICES {
            assert!(zh_cell("service", s).is_some(), "{s}");
        }
        assert_eq!(zh_cell("kind", "fault").as_deref(), Some("故障"));
        assert_eq!(zh_cell("kind", "all").as_deref(), Some("全部"));
        assert_eq!(zh_cell("month", "total").as_deref(), Some("合计"));
        assert_eq!(
            zh_cell("service", "(no ticket)").as_deref(),
            Some("（无工单）")
        );
        assert_eq!(
            zh_cell("campaign", "campaign 7").as_deref(),
            Some("回访活动 7")
        );
        // Names and dates stay.
        assert_eq!(zh_cell("campaign", "fault"), None);
        assert_eq!(zh_cell("campaign", "campaign x"), None);
        assert_eq!(zh_cell("month", "2026-01"), None);
        assert_eq!(zh_cell("question", "fault"), None);
    }

    #[test]
    fn figures_keep_their_numbers() {
        assert_eq!(zh_display(&Cell::rate(215, 221)), "97.3%（215/221）");
        assert_eq!(zh_display(&Cell::rate(-11, 36)), "-30.6%（-11/36）");
        assert_eq!(zh_display(&Cell::rate(0, 0)), "—（0/0）");
        assert_eq!(zh_display(&Cell::secs(Some(12.8 * 3600.0))), "12.8 小时");
        assert_eq!(zh_display(&Cell::secs(Some(240.0))), "4.0 分钟");
        assert_eq!(zh_display(&Cell::secs(Some(45.0))), "45 秒");
        assert_eq!(zh_display(&Cell::secs(Some(4.0 * 86400.0))), "4.0 天");
        assert_eq!(zh_display(&Cell::secs(None)), "—");
        assert_eq!(zh_display(&Cell::count(5)), "5");
        assert_eq!(zh_display(&Cell::text("fault")), "fault");
    }
}
