//! The flows without a server: state and input in, verbs and state out.

use chrono::NaiveDate;

use super::*;
use crate::billing::{Charge, Payment};
use crate::customers::{CustomerClass, Line, LineKind};

const NOW: i64 = 1_780_000_000_000;

fn catalog() -> Catalog {
    Catalog::embedded().expect("catalog")
}

fn ctx(cat: &Catalog) -> Ctx<'_> {
    Ctx {
        catalog: cat,
        agent: None,
        default_locale: Locale::ZhCn,
        pin_max_failures: 3,
        pin_lock_minutes: 30,
        now: NOW,
        tz: chrono_tz::Asia::Shanghai,
        complaint_max_secs: 120,
        transcribe: false,
        caller_number: Some("+8613800000001"),
    }
}

fn account(language: Option<Locale>) -> Account {
    Account {
        id: 7,
        account_no: "10000001".into(),
        name: "张伟".into(),
        language,
        customer_class: CustomerClass::Residential,
        pin_hash: Some("$argon2id$stub".into()),
        pin_failures: 0,
        pin_locked_until: None,
        lines: vec![Line {
            number: "+8613800000001".into(),
            kind: LineKind::Phone,
            label: None,
        }],
        created_at: 0,
        updated_at: 0,
    }
}

fn bill() -> Bill {
    Bill {
        currency: "CNY".into(),
        amount_due: 12850,
        due_date: NaiveDate::from_ymd_opt(2026, 12, 15).expect("date"),
        balance: -12850,
        last_payment: Some(Payment {
            amount: 9800,
            date: NaiveDate::from_ymd_opt(2026, 11, 10).expect("date"),
        }),
        charges: vec![
            Charge {
                category: "monthly_fee".into(),
                description: String::new(),
                amount: 5800,
            },
            Charge {
                category: "long_distance".into(),
                description: String::new(),
                amount: 3620,
            },
            Charge {
                category: "data".into(),
                description: String::new(),
                amount: 2930,
            },
            Charge {
                category: "value_added".into(),
                description: String::new(),
                amount: 500,
            },
        ],
    }
}

/// Runs a step, answering needs from `facts` (panics on a need it cannot answer).
fn run(cx: &Ctx<'_>, state: &FlowState, input: CallInput, facts: &Facts) -> Outcome {
    step(cx, state, &input, facts).unwrap_or_else(|need| panic!("unanswered need {need:?}"))
}

/// The state carried by the outcome's pending gather (or redirect/transfer).
fn next_state(o: &Outcome) -> FlowState {
    let url = o
        .verbs
        .iter()
        .find_map(|v| match v {
            Verb::Gather(g) => Some(g.next.0.clone()),
            Verb::Redirect { next }
            | Verb::Transfer {
                next: Some(next), ..
            } => Some(next.0.clone()),
            _ => None,
        })
        .expect("a next step");
    let query = url.split_once('?').map(|(_, q)| q).expect("query");
    FlowState::from_query(query).expect("valid state")
}

fn said(o: &Outcome) -> String {
    o.said().join(" ")
}

#[test]
fn unknown_caller_hears_welcome_and_language_choice() {
    let cat = catalog();
    let cx = ctx(&cat);
    let start = FlowState::start(Locale::ZhCn);
    assert_eq!(
        step(&cx, &start, &CallInput::None, &Facts::default()),
        Err(Need::CallerAccount)
    );
    let facts = Facts {
        caller_account: Some(None),
        ..Facts::default()
    };
    let o = run(&cx, &start, CallInput::None, &facts);
    assert!(said(&o).contains("欢迎致电"), "{}", said(&o));
    assert!(said(&o).contains("For English, press 2"));
    let next = next_state(&o);
    assert_eq!(
        (next.node, next.seq, next.account),
        (Node::Language, 1, None)
    );
    assert!(o.effects.is_empty());
}

#[test]
fn known_caller_with_a_preferred_language_goes_straight_to_the_menu() {
    let cat = catalog();
    let cx = ctx(&cat);
    let facts = Facts {
        caller_account: Some(Some(account(Some(Locale::EnUs)))),
        ..Facts::default()
    };
    let o = run(
        &cx,
        &FlowState::start(Locale::ZhCn),
        CallInput::None,
        &facts,
    );
    assert!(said(&o).contains("For your bill, press 1"), "{}", said(&o));
    let next = next_state(&o);
    assert_eq!(next.node, Node::Menu);
    assert_eq!(next.locale, Locale::EnUs);
    assert_eq!(next.account, Some((7, Ident::Line)));
    assert!(
        o.effects
            .contains(&Effect::IdentifyAccount { account_id: 7 })
    );
    assert!(o.effects.contains(&Effect::SetLocale {
        locale: Locale::EnUs
    }));
}

#[test]
fn language_choice_by_key_speech_and_silence() {
    let cat = catalog();
    let cx = ctx(&cat);
    let st = FlowState {
        seq: 1,
        node: Node::Language,
        tries: 0,
        locale: Locale::ZhCn,
        account: None,
        pending: None,
        ..FlowState::start(Locale::ZhCn)
    };
    let en = run(&cx, &st, CallInput::Digits("2".into()), &Facts::default());
    assert_eq!(next_state(&en).locale, Locale::EnUs);
    let spoken = run(
        &cx,
        &st,
        CallInput::Speech {
            text: "English please".into(),
            confidence: 0.8,
        },
        &Facts::default(),
    );
    assert_eq!(next_state(&spoken).locale, Locale::EnUs);
    let silent = run(&cx, &st, CallInput::Timeout, &Facts::default());
    assert_eq!(
        next_state(&silent).locale,
        Locale::ZhCn,
        "Mandarin is the default"
    );
    assert_eq!(next_state(&silent).node, Node::Menu);
}

fn menu_state(tries: u8) -> FlowState {
    FlowState {
        seq: 2,
        node: Node::Menu,
        tries,
        locale: Locale::ZhCn,
        account: None,
        pending: None,
        ..FlowState::start(Locale::ZhCn)
    }
}

#[test]
fn menu_reprompts_then_offers_a_person_then_says_goodbye() {
    let cat = catalog();
    let cx = ctx(&cat);
    let mut st = menu_state(0);
    for expected_tries in 1..MAX_TRIES {
        let o = run(&cx, &st, CallInput::Digits("9".into()), &Facts::default());
        assert!(said(&o).contains("选择无效"), "{}", said(&o));
        st = next_state(&o);
        assert_eq!((st.node, st.tries), (Node::Menu, expected_tries));
    }
    let o = run(&cx, &st, CallInput::Timeout, &Facts::default());
    assert!(said(&o).contains("人工服务请按0"), "{}", said(&o));
    let give_up = next_state(&o);
    assert_eq!(give_up.node, Node::MenuGiveUp);
    let bye = run(&cx, &give_up, CallInput::Timeout, &Facts::default());
    assert_eq!(bye.verbs.last(), Some(&Verb::Hangup));
}

#[test]
fn star_repeats_without_counting_a_failure() {
    let cat = catalog();
    let cx = ctx(&cat);
    let o = run(
        &cx,
        &menu_state(2),
        CallInput::Digits("*".into()),
        &Facts::default(),
    );
    let next = next_state(&o);
    assert_eq!((next.node, next.tries, next.seq), (Node::Menu, 2, 3));
}

#[test]
fn menu_options_lead_to_faults_information_orders_and_complaints() {
    let cat = catalog();
    let cx = ctx(&cat);
    let go = |key: &str| {
        run(
            &cx,
            &menu_state(1),
            CallInput::Digits(key.into()),
            &Facts::default(),
        )
    };
    let faults = go("2");
    assert!(said(&faults).contains("报障请按1"), "{}", said(&faults));
    assert_eq!(next_state(&faults).node, Node::FaultMenu);
    let info = go("3");
    assert!(said(&info).contains("资费信息请按1"), "{}", said(&info));
    assert_eq!(next_state(&info).node, Node::Info);
    // Orders need to know who is calling: an unknown caller identifies first.
    let orders = go("4");
    let next = next_state(&orders);
    assert_eq!((next.node, next.goal), (Node::AccountNo, Goal::Order));
    // A complaint is recorded after the beep, at most the configured length.
    let complaint = go("5");
    assert!(complaint.verbs.iter().any(|v| matches!(
        v,
        Verb::Record {
            max_secs: 120,
            transcribe: false,
            ..
        }
    )));
}

#[test]
fn an_empty_complaint_is_asked_again_then_offered_a_way_out() {
    let cat = catalog();
    let cx = ctx(&cat);
    let mut st = FlowState {
        node: Node::Complaint,
        ..menu_state(0)
    };
    for tries in 0..MAX_TRIES {
        st.tries = tries;
        let o = run(&cx, &st, CallInput::Timeout, &Facts::default());
        assert!(said(&o).contains("没有听到"), "{}", said(&o));
        let records = o.verbs.iter().any(|v| matches!(v, Verb::Record { .. }));
        assert_eq!(records, tries + 1 < MAX_TRIES, "try {tries}");
    }
}

#[test]
fn person_transfers_when_an_agent_is_configured() {
    let cat = catalog();
    let mut cx = ctx(&cat);
    let none = run(
        &cx,
        &menu_state(0),
        CallInput::Digits("0".into()),
        &Facts::default(),
    );
    assert!(said(&none).contains("暂未开通人工服务"));
    cx.agent = Some("+8610010000");
    let o = run(
        &cx,
        &menu_state(0),
        CallInput::Digits("0".into()),
        &Facts::default(),
    );
    assert!(
        o.verbs
            .iter()
            .any(|v| matches!(v, Verb::Transfer { to, .. } if to == "+8610010000"))
    );
    let after = next_state(&o);
    let failed = run(
        &cx,
        &after,
        CallInput::TransferEnded { connected: false },
        &Facts::default(),
    );
    assert!(said(&failed).contains("无法接通"));
    assert_eq!(next_state(&failed).node, Node::Menu);
}

#[test]
fn bill_for_a_caller_identified_by_line() {
    let cat = catalog();
    let cx = ctx(&cat);
    let st = FlowState {
        account: Some((7, Ident::Line)),
        ..menu_state(0)
    };
    assert_eq!(
        step(&cx, &st, &CallInput::Digits("1".into()), &Facts::default()),
        Err(Need::AccountById(7))
    );
    let facts = Facts {
        account: Some(Some(account(None))),
        ..Facts::default()
    };
    assert_eq!(
        step(&cx, &st, &CallInput::Digits("1".into()), &facts),
        Err(Need::Bill)
    );
    let facts = Facts {
        bill: Some(Ok(Some(bill()))),
        ..facts
    };
    let o = run(&cx, &st, CallInput::Digits("1".into()), &facts);
    let text = said(&o);
    assert!(text.contains("128元5角"), "{text}");
    assert!(text.contains("12月15日"), "{text}");
    assert!(text.contains("欠费128元5角"), "{text}");
    assert!(text.contains("98元"), "{text}");
    let next = next_state(&o);
    assert_eq!(next.node, Node::Bill);
    // Largest charges on request.
    let charges = run(&cx, &next, CallInput::Digits("2".into()), &facts);
    let text = said(&charges);
    assert!(
        text.contains("月租费，58元") && text.contains("长途通话费，36元2角"),
        "{text}"
    );
    assert!(
        !text.contains("增值业务费"),
        "only the three largest: {text}"
    );
}

#[test]
fn english_bill_reads_naturally() {
    let cat = catalog();
    let cx = ctx(&cat);
    let st = FlowState {
        locale: Locale::EnUs,
        account: Some((7, Ident::Line)),
        ..menu_state(0)
    };
    let facts = Facts {
        account: Some(Some(account(None))),
        bill: Some(Ok(Some(bill()))),
        ..Facts::default()
    };
    let text = said(&run(&cx, &st, CallInput::Digits("1".into()), &facts));
    assert!(text.contains("128 yuan 50"), "{text}");
    assert!(text.contains("December 15th"), "{text}");
}

#[test]
fn unidentified_caller_gives_account_and_pin_and_hears_no_bill_before() {
    let cat = catalog();
    let cx = ctx(&cat);
    let o = run(
        &cx,
        &menu_state(0),
        CallInput::Digits("1".into()),
        &Facts::default(),
    );
    assert!(said(&o).contains("请输入您的账号"));
    let acct = next_state(&o);
    assert_eq!(acct.node, Node::AccountNo);
    assert_eq!(
        step(
            &cx,
            &acct,
            &CallInput::Digits("10000001".into()),
            &Facts::default()
        ),
        Err(Need::AccountByNo("10000001".into()))
    );
    let facts = Facts {
        account: Some(Some(account(None))),
        ..Facts::default()
    };
    let o = run(&cx, &acct, CallInput::Digits("10000001".into()), &facts);
    assert!(
        !said(&o).contains("元"),
        "no bill detail before the PIN: {}",
        said(&o)
    );
    let pin = next_state(&o);
    assert_eq!(
        (pin.node, pin.pending.as_deref()),
        (Node::Pin, Some("10000001"))
    );
    assert_eq!(
        step(&cx, &pin, &CallInput::Digits("1234".into()), &facts),
        Err(Need::PinCheck { pin: "1234".into() })
    );
    let ok = Facts {
        pin_ok: Some(true),
        bill: Some(Ok(Some(bill()))),
        ..facts
    };
    let o = run(&cx, &pin, CallInput::Digits("1234".into()), &ok);
    assert!(
        said(&o).contains("账户1 0 0 0 0 0 0 1的账单"),
        "{}",
        said(&o)
    );
    assert!(o.effects.contains(&Effect::PinAccepted { account_id: 7 }));
    assert_eq!(o.input_log, "digits:****", "PINs never reach the history");
    assert_eq!(next_state(&o).account, Some((7, Ident::Pin)));
}

#[test]
fn wrong_pins_lock_on_the_last_allowed_try() {
    let cat = catalog();
    let cx = ctx(&cat);
    let pin = FlowState {
        node: Node::Pin,
        pending: Some("10000001".into()),
        ..menu_state(0)
    };
    let mut acc = account(None);
    acc.pin_failures = 1;
    let facts = Facts {
        account: Some(Some(acc.clone())),
        pin_ok: Some(false),
        ..Facts::default()
    };
    let o = run(&cx, &pin, CallInput::Digits("0000".into()), &facts);
    assert!(said(&o).contains("密码错误"));
    assert!(matches!(
        o.effects[..],
        [Effect::PinFailed {
            account_id: 7,
            max_failures: 3,
            ..
        }]
    ));
    acc.pin_failures = 2;
    let facts = Facts {
        account: Some(Some(acc)),
        pin_ok: Some(false),
        ..Facts::default()
    };
    let o = run(&cx, &pin, CallInput::Digits("0000".into()), &facts);
    assert!(said(&o).contains("30分钟后再试"), "{}", said(&o));
    assert!(
        said(&o).contains("人工服务请按0"),
        "a locked caller is offered a person"
    );
    assert_eq!(next_state(&o).node, Node::Offer);
}

#[test]
fn a_locked_account_discloses_nothing_even_from_its_line() {
    let cat = catalog();
    let cx = ctx(&cat);
    let mut acc = account(None);
    acc.pin_locked_until = Some(NOW + 60_000);
    let st = FlowState {
        account: Some((7, Ident::Line)),
        ..menu_state(0)
    };
    let facts = Facts {
        account: Some(Some(acc)),
        ..Facts::default()
    };
    let o = run(&cx, &st, CallInput::Digits("1".into()), &facts);
    assert!(said(&o).contains("已暂停"), "{}", said(&o));
    assert!(!said(&o).contains("元"));
}

#[test]
fn state_round_trips_and_rejects_tampering() {
    let st = FlowState {
        seq: 5,
        node: Node::Pin,
        tries: 2,
        locale: Locale::EnUs,
        account: Some((9, Ident::Pin)),
        pending: Some("123456".into()),
        goal: Goal::Fault,
        line: Some("+8613800000001".into()),
        pick: Some("no_dial_tone".into()),
        callback: Some("13912345678".into()),
        ticket: Some("12345674".into()),
    };
    let url = st.next_step().0;
    assert!(url.starts_with("/twilio/step?"));
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    assert_eq!(FlowState::from_query(q), Ok(st));
    for bad in [
        "s=0&n=menu&t=0&l=zh",
        "s=x&n=menu&t=0&l=zh",
        "s=1&n=nowhere&t=0&l=zh",
        "s=1&n=menu&t=0&l=fr",
        "s=1&n=menu&t=0&l=zh&a=5",
        "n=menu",
        "",
    ] {
        assert!(FlowState::from_query(bad).is_err(), "{bad}");
    }
    // Unknown keys, such as the adapter's timeout marker, are ignored.
    assert!(FlowState::from_query("s=1&n=menu&t=0&l=zh&timeout=1").is_ok());
}

#[test]
fn non_digit_keys_and_oversized_entries_are_invalid_not_fatal() {
    let cat = catalog();
    let cx = ctx(&cat);
    let o = run(
        &cx,
        &menu_state(0),
        CallInput::Digits("1A".into()),
        &Facts::default(),
    );
    assert!(said(&o).contains("选择无效"));
    let acct = FlowState {
        node: Node::AccountNo,
        ..menu_state(0)
    };
    let o = run(
        &cx,
        &acct,
        CallInput::Digits("1".repeat(40)),
        &Facts::default(),
    );
    assert!(said(&o).contains("选择无效"));
    assert_eq!(next_state(&o).tries, 1);
    let back = run(&cx, &acct, CallInput::Digits("*".into()), &Facts::default());
    assert_eq!(next_state(&back).node, Node::Menu);
}

#[test]
fn an_account_with_many_lines_types_the_line_number_or_its_end() {
    let cat = catalog();
    let cx = ctx(&cat);
    let mut acc = account(None);
    acc.lines = (1..=12)
        .map(|i| Line {
            number: format!("+86138000000{i:02}"),
            kind: LineKind::Phone,
            label: None,
        })
        .collect();
    let facts = Facts {
        account: Some(Some(acc)),
        ..Facts::default()
    };
    let st = FlowState {
        node: Node::FaultMenu,
        account: Some((7, Ident::Line)),
        goal: Goal::Fault,
        ..menu_state(0)
    };
    // Twelve lines are too many to list: the caller types one.
    let ask = run(&cx, &st, CallInput::Digits("1".into()), &facts);
    assert!(said(&ask).contains("后四位"), "{}", said(&ask));
    let at_line = next_state(&ask);
    assert_eq!(at_line.node, Node::Line);
    // The end of a number picks the one line it ends; the flow then checks that line.
    let need = step(&cx, &at_line, &CallInput::Digits("0007".into()), &facts).err();
    assert_eq!(need, Some(Need::ActiveFault("+8613800000007".into())));
    // An ending several lines share (…1 ends +…01 and +…11) is not a choice.
    let again = run(&cx, &at_line, CallInput::Digits("1".into()), &facts);
    assert!(said(&again).contains("无效"), "{}", said(&again));
    assert_eq!(next_state(&again).tries, 1);
}
