//! The flows without a server: state and input in, verbs and state out.

use chrono::NaiveDate;

use super::*;
use crate::agents::TransferMode;
use crate::billing::{Charge, Payment};
use crate::calls::CallStep;
use crate::customers::{CustomerClass, Line, LineKind};
use crate::escalations::{EscalationKind, NewEscalation};
use crate::flows::agents::QueueFacts;
use crate::lockout::Verdict;
use crate::tickets::{Channel, TicketState};

const NOW: i64 = 1_780_000_000_000;
const CALL_SID: &str = "CA00000000000000000000000000000042";

fn catalog() -> Catalog {
    Catalog::embedded().expect("catalog")
}

fn ctx(cat: &Catalog) -> Ctx<'_> {
    Ctx {
        catalog: cat,
        call_sid: CALL_SID,
        transfer: TransferMode::Queue,
        agent: None,
        queue: "agents",
        max_wait_secs: 300,
        default_locale: Locale::ZhCn,
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
        address: Some("上海市浦东新区世纪大道100号".into()),
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
    let next = o
        .verbs
        .iter()
        .find_map(|v| match v {
            Verb::Gather(g) => Some(g.next.clone()),
            Verb::Redirect { next }
            | Verb::Transfer {
                next: Some(next), ..
            }
            | Verb::Enqueue { next, .. } => Some(next.clone()),
            _ => None,
        })
        .expect("a next step");
    assert_eq!(next.hook, Hook::Step);
    FlowState::from_query(&next.query).expect("valid state")
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
fn a_saved_language_can_be_switched_from_the_menu() {
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
    // The way to Mandarin is said in Mandarin, in the Mandarin voice.
    let Some(Verb::Gather(g)) = o.verbs.last() else {
        panic!("{:?}", o.verbs);
    };
    assert!(g.prompts.contains(&Verb::Say {
        text: "普通话请按9。".into(),
        locale: Locale::ZhCn,
    }));
    let menu = next_state(&o);
    for input in [
        CallInput::Digits("9".into()),
        CallInput::Speech {
            text: "Chinese please".into(),
            confidence: 0.8,
        },
    ] {
        let o = run(&cx, &menu, input, &Facts::default());
        assert!(said(&o).contains("查询话费请按1"), "{}", said(&o));
        assert!(said(&o).contains("For English, press 9."), "{}", said(&o));
        let next = next_state(&o);
        assert_eq!((next.node, next.locale), (Node::Menu, Locale::ZhCn));
        assert_eq!(next.account, Some((7, Ident::Line)), "still identified");
        assert_eq!(
            o.effects,
            [Effect::SetLocale {
                locale: Locale::ZhCn
            }]
        );
        // And back.
        let back = run(&cx, &next, CallInput::Digits("9".into()), &Facts::default());
        assert_eq!(next_state(&back).locale, Locale::EnUs);
        assert!(said(&back).contains("For your bill, press 1"));
    }
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
        let o = run(&cx, &st, CallInput::Digits("8".into()), &Facts::default());
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
fn dial_mode_transfers_with_a_whisper_of_this_call() {
    let cat = catalog();
    let mut cx = ctx(&cat);
    cx.transfer = TransferMode::Dial;
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
    let whisper = o.verbs.iter().find_map(|v| match v {
        Verb::Transfer { to, whisper, .. } if to == "+8610010000" => whisper.clone(),
        _ => None,
    });
    assert_eq!(
        whisper,
        Some(NextStep::new(Hook::Whisper, format!("call={CALL_SID}")))
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

// ---- the agent queue ----------------------------------------------------------------------------

const HOUR: i64 = 3_600_000;

fn open_queue(waiting: i64, expected_secs: i64) -> QueueFacts {
    QueueFacts {
        open: true,
        next_open: Some(NOW),
        waiting,
        expected_secs,
        entered_at: None,
    }
}

/// Agents are closed until 08:00 Shanghai time tomorrow (NOW is 04:26 on 2026-05-29 there:
/// the next opening is 08:00 the same day).
fn closed_queue() -> QueueFacts {
    QueueFacts {
        open: false,
        next_open: Some(OPENS),
        waiting: 0,
        expected_secs: 90,
        entered_at: None,
    }
}

/// 2026-05-29T00:00Z = 08:00 in Shanghai.
const OPENS: i64 = 1_780_012_800_000;

fn escalation_of(o: &Outcome) -> &NewEscalation {
    o.effects
        .iter()
        .find_map(|e| match e {
            Effect::Escalate(e) => Some(e.as_ref()),
            _ => None,
        })
        .expect("an escalation")
}

fn path(steps: &[(&str, &str)]) -> Vec<CallStep> {
    steps
        .iter()
        .enumerate()
        .map(|(i, (node, input))| CallStep {
            seq: i32::try_from(i).expect("seq"),
            node: node.to_string(),
            input: input.to_string(),
            said: String::new(),
            at: NOW,
        })
        .collect()
}

#[test]
fn a_person_during_hours_with_a_short_wait_is_queued_with_place_and_wait() {
    let cat = catalog();
    let cx = ctx(&cat);
    assert_eq!(
        step(
            &cx,
            &menu_state(0),
            &CallInput::Digits("0".into()),
            &Facts::default()
        ),
        Err(Need::AgentQueue)
    );
    let facts = Facts {
        queue: Some(open_queue(2, 270)),
        ..Facts::default()
    };
    let o = run(&cx, &menu_state(0), CallInput::Digits("0".into()), &facts);
    let text = said(&o);
    // The place and the wait are said by the wait document, which the carrier asks for as
    // the caller is queued: said here too, the caller would hear them twice in a row.
    assert_eq!(text, "正在为您转接人工服务。");
    let wait = agents::wait(&cat, Locale::ZhCn, 3, 270, "");
    let Verb::Gather(g) = &wait[0] else {
        panic!("{wait:?}");
    };
    let Verb::Say { text, .. } = &g.prompts[0] else {
        panic!("{:?}", g.prompts);
    };
    assert_eq!(text, "您目前排在第3位，预计等待约5分钟。");
    let (queue, wait) = o
        .verbs
        .iter()
        .find_map(|v| match v {
            Verb::Enqueue { queue, wait, .. } => Some((queue.clone(), wait.clone())),
            _ => None,
        })
        .expect("enqueued");
    assert_eq!(queue, "agents");
    assert_eq!(wait, NextStep::new(Hook::QueueWait, "l=zh"));
    let next = next_state(&o);
    assert_eq!((next.node, next.seq), (Node::AfterQueue, 3));
    assert_eq!(
        o.effects,
        [Effect::Milestone(crate::calls::step::Milestone::Person)],
        "nothing raised for a queued caller; the call only records that they asked"
    );
}

#[test]
fn after_hours_a_callback_is_offered_and_confirmed_once_per_call() {
    let cat = catalog();
    let cx = ctx(&cat);
    let st = FlowState {
        account: Some((7, Ident::Line)),
        ..menu_state(0)
    };
    let facts = Facts {
        queue: Some(closed_queue()),
        ..Facts::default()
    };
    let o = run(&cx, &st, CallInput::Digits("0".into()), &facts);
    let text = said(&o);
    assert!(text.contains("今天8点恢复"), "{text}");
    assert!(
        text.contains("如需我们回电至1 3 8，0 0 0 0，0 0 0 1，请按1。"),
        "the calling number, as read at home: {text}"
    );
    assert!(
        !text.contains("排队顺序"),
        "after hours there is no place in line to keep: {text}"
    );
    assert!(
        !text.contains("继续等待请按2"),
        "no holding while closed: {text}"
    );
    let offer = next_state(&o);
    assert_eq!(offer.node, Node::QueueOffer);
    assert!(!o.verbs.iter().any(|v| matches!(v, Verb::Enqueue { .. })));

    // 2 is not a choice while closed.
    let two = run(&cx, &offer, CallInput::Digits("2".into()), &facts);
    assert!(said(&two).contains("选择无效"), "{}", said(&two));
    assert_eq!(next_state(&two).tries, 1);

    // 1: the callback needs the call's path, then is raised and confirmed.
    assert_eq!(
        step(&cx, &offer, &CallInput::Digits("1".into()), &facts),
        Err(Need::CallPath)
    );
    let facts = Facts {
        path: Some(path(&[
            ("start", ""),
            ("language", "digits:1"),
            ("menu", "digits:0"),
        ])),
        ..facts
    };
    let o = run(&cx, &offer, CallInput::Digits("1".into()), &facts);
    let e = escalation_of(&o);
    assert_eq!(e.kind, EscalationKind::TransferCallback);
    assert_eq!(e.priority, 1);
    assert_eq!(e.source, format!("call:{CALL_SID}"));
    assert_eq!(e.call_sid.as_deref(), Some(CALL_SID));
    assert_eq!(e.account_id, Some(7));
    assert_eq!(e.callback_number.as_deref(), Some("+8613800000001"));
    assert_eq!(e.due_at, OPENS + HOUR, "an hour after agents open");
    assert_eq!(e.queued_at, NOW, "never queued: in line from now");
    assert!(e.summary.contains("agents were closed"), "{}", e.summary);
    assert!(e.summary.contains("asked for a person"), "{}", e.summary);
    let text = said(&o);
    assert!(
        text.contains("今天9点前回电至1 3 8，0 0 0 0，0 0 0 1"),
        "{text}"
    );
    assert_eq!(o.verbs.last(), Some(&Verb::Hangup));
}

#[test]
fn a_long_wait_offers_a_callback_or_holding_anyway() {
    let cat = catalog();
    let mut cx = ctx(&cat);
    cx.caller_number = Some("+15550001234");
    let facts = Facts {
        queue: Some(open_queue(9, 900)),
        ..Facts::default()
    };
    let mut st = menu_state(0);
    st.locale = Locale::EnUs;
    let o = run(&cx, &st, CallInput::Digits("0".into()), &facts);
    let text = said(&o);
    assert!(
        text.contains("The expected wait is about 15 minutes"),
        "{text}"
    );
    assert!(text.contains("To hold anyway, press 2"), "{text}");
    let offer = next_state(&o);
    let hold = run(&cx, &offer, CallInput::Digits("2".into()), &facts);
    // The wait was just said; the place is the wait document's to say, once.
    assert_eq!(said(&hold), "Connecting you to an agent.");
    assert!(hold.verbs.iter().any(|v| matches!(v, Verb::Enqueue { .. })));
    let menu = run(&cx, &offer, CallInput::Digits("*".into()), &facts);
    assert_eq!(next_state(&menu).node, Node::Menu);
    let facts = Facts {
        path: Some(Vec::new()),
        ..facts
    };
    let o = run(&cx, &offer, CallInput::Digits("1".into()), &facts);
    let e = escalation_of(&o);
    assert_eq!(e.due_at, NOW + HOUR, "agents are open: within the hour");
    assert!(
        e.summary.contains("expected wait about 15 min"),
        "{}",
        e.summary
    );
    assert!(
        said(&o).contains("We will call you back at 1 5 5 5 0 0 0 1 2 3 4"),
        "{}",
        said(&o)
    );
}

#[test]
fn a_withheld_number_types_one_for_the_callback() {
    let cat = catalog();
    let mut cx = ctx(&cat);
    cx.caller_number = None;
    let facts = Facts {
        queue: Some(closed_queue()),
        path: Some(Vec::new()),
        ..Facts::default()
    };
    let o = run(&cx, &menu_state(0), CallInput::Digits("0".into()), &facts);
    assert!(said(&o).contains("留下号码"), "{}", said(&o));
    let o = run(&cx, &next_state(&o), CallInput::Digits("1".into()), &facts);
    assert!(said(&o).contains("请输入回访号码"), "{}", said(&o));
    let typing = next_state(&o);
    assert_eq!(typing.node, Node::QueueCallbackNo);
    let short = run(&cx, &typing, CallInput::Digits("12".into()), &facts);
    assert!(said(&short).contains("选择无效"), "{}", said(&short));
    assert!(short.effects.is_empty());
    let o = run(
        &cx,
        &typing,
        CallInput::Digits("13900001111".into()),
        &facts,
    );
    assert_eq!(
        escalation_of(&o).callback_number.as_deref(),
        Some("13900001111")
    );
    assert!(said(&o).contains("1 3 9，0 0 0 0，1 1 1 1"), "{}", said(&o));
}

#[test]
fn leaving_the_queue_keeps_the_place_and_other_results_end_or_offer() {
    let cat = catalog();
    let cx = ctx(&cat);
    let st = FlowState {
        seq: 4,
        node: Node::AfterQueue,
        ..menu_state(0)
    };
    let leave = CallInput::QueueLeft {
        result: "leave".into(),
    };
    assert_eq!(
        step(&cx, &st, &leave, &Facts::default()),
        Err(Need::LeaveQueue("leave".into()))
    );
    let entered = NOW - 4 * 60_000;
    let facts = Facts {
        left_queue: true,
        queue: Some(QueueFacts {
            entered_at: Some(entered),
            ..open_queue(1, 180)
        }),
        path: Some(path(&[("menu", "digits:1"), ("bill", "digits:0")])),
        ..Facts::default()
    };
    let o = run(&cx, &st, leave, &facts);
    let e = escalation_of(&o);
    assert_eq!(e.queued_at, entered, "the caller keeps their place");
    assert!(
        e.summary.contains("left the agent queue after 4 min"),
        "{}",
        e.summary
    );
    assert!(
        e.summary.contains("bill enquiry, then asked for a person"),
        "{}",
        e.summary
    );
    assert_eq!(o.verbs.last(), Some(&Verb::Hangup));

    for done in ["bridged", "hangup", "redirected-from-bridged"] {
        let input = CallInput::QueueLeft {
            result: done.into(),
        };
        let o = run(&cx, &st, input, &facts);
        assert_eq!(o.verbs, [Verb::Hangup], "{done}");
        assert!(o.effects.is_empty());
    }
    for failed in ["queue-full", "error", "system-error"] {
        let input = CallInput::QueueLeft {
            result: failed.into(),
        };
        let o = run(&cx, &st, input, &facts);
        assert!(said(&o).contains("无法为您排队"), "{failed}: {}", said(&o));
        assert_eq!(next_state(&o).node, Node::QueueOffer);
    }
}

#[test]
fn the_wait_document_says_place_and_wait_and_offers_to_leave() {
    let cat = catalog();
    let verbs = agents::wait(
        &cat,
        Locale::EnUs,
        2,
        61,
        "https://music.example.com/hold.mp3",
    );
    let [Verb::Gather(g)] = verbs.as_slice() else {
        panic!("one gather: {verbs:?}");
    };
    assert_eq!(g.next, NextStep::new(Hook::QueueWait, "l=en&g=1"));
    assert_eq!(g.num_digits, Some(1));
    let Verb::Say { text, .. } = &g.prompts[0] else {
        panic!("{:?}", g.prompts);
    };
    assert_eq!(
        text,
        "You are number 2 in line. The expected wait is about 2 minutes."
    );
    assert!(matches!(&g.prompts[1], Verb::Say { text, .. } if text.contains("press 1")));
    assert_eq!(
        g.prompts[2],
        Verb::Play {
            url: "https://music.example.com/hold.mp3".into()
        }
    );
    assert_eq!(agents::wait_key(Some("1")), Some(vec![Verb::Leave]));
    assert_eq!(agents::wait_key(Some("5")), None);
    assert_eq!(agents::wait_key(None), None);
}

fn ticket(number: &str, state: TicketState, deadline_at: Option<i64>) -> Ticket {
    Ticket {
        id: 1,
        number: number.into(),
        kind: TicketKind::Fault,
        state,
        account_id: Some(7),
        line_number: Some("+8613800000001".into()),
        line_kind: Some(LineKind::Phone),
        customer_class: Some(CustomerClass::Residential),
        channel: Channel::Phone,
        category: Some("noise".into()),
        description: String::new(),
        callback_number: None,
        assignee: None,
        opened_at: NOW - HOUR,
        deadline_at,
        deadline_estimated: false,
        appointment_at: None,
        resolved_at: None,
        resolution_code: None,
        resolution_note: None,
        closed_at: None,
        breached_at: None,
        recording: None,
        transcript: None,
        origin_call_sid: None,
        address: None,
        updated_at: NOW,
    }
}

#[test]
fn the_whisper_says_who_what_they_did_and_open_tickets() {
    let cat = catalog();
    let acc = account(None);
    let steps = path(&[
        ("start", ""),
        ("language", "digits:2"),
        ("menu", "digits:1"),
        ("ident.pin", "digits:****"),
        ("offer", "digits:0"),
    ]);
    let tickets = [
        ticket("20260528001", TicketState::Assigned, Some(NOW + 2 * HOUR)),
        ticket(
            "20260501001",
            TicketState::Closed,
            Some(NOW - 90 * 24 * HOUR),
        ),
    ];
    let info = agents::CallerInfo {
        account: Some(&acc),
        from_number: "+8613800000001",
        steps: &steps,
        tickets: &tickets,
    };
    let text = agents::whisper(&cat, Locale::EnUs, chrono_tz::Asia::Shanghai, NOW, &info);
    assert!(
        text.contains("Caller 张伟, account 1 0 0 0 0 0 0 1."),
        "{text}"
    );
    assert!(
        text.contains(
            "In the menu: bill enquiry, then asked for a person after a locked or failed PIN."
        ),
        "{text}"
    );
    assert!(
        text.contains("Open fault report 2 0 2 6 0 5 2 8 0 0 1, assigned to a technician, promised by 6:26 AM today."),
        "{text}"
    );
    assert!(
        !text.contains("2 0 2 6 0 5 0 1"),
        "closed tickets are not mentioned: {text}"
    );

    let unknown = agents::CallerInfo {
        account: None,
        from_number: "+8613912345678",
        steps: &[],
        tickets: &[],
    };
    let text = agents::whisper(&cat, Locale::ZhCn, chrono_tz::Asia::Shanghai, NOW, &unknown);
    assert!(text.contains("未识别身份的来电，号码尾号5 6 7 8"), "{text}");
    assert!(text.contains("直接要求转人工"), "{text}");
    assert!(!text.contains("1 3 9 1 2"), "the number is masked: {text}");
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
        Err(Need::AccountWithBill(7))
    );
    // A billing source apart from the accounts answers the account alone.
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
    assert!(
        text.contains("本期应缴话费128元5角，请在12月15日前缴纳"),
        "{text}"
    );
    assert!(
        !text.contains("欠费"),
        "not yet due is not in arrears: {text}"
    );
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
    // The PIN is asked for before the account is looked up, so the answer tells nothing.
    let o = run(
        &cx,
        &acct,
        CallInput::Digits("10000001".into()),
        &Facts::default(),
    );
    assert!(said(&o).contains("请输入您的查询密码"), "{}", said(&o));
    let pin = next_state(&o);
    assert_eq!(
        (pin.node, pin.pending.as_deref()),
        (Node::Pin, Some("10000001"))
    );
    assert_eq!(
        step(
            &cx,
            &pin,
            &CallInput::Digits("1234#".into()),
            &Facts::default()
        ),
        Err(Need::AccountByNo("10000001".into()))
    );
    let facts = Facts {
        account: Some(Some(account(None))),
        ..Facts::default()
    };
    assert_eq!(
        step(&cx, &pin, &CallInput::Digits("1234".into()), &facts),
        Err(Need::PinCheck { pin: "1234".into() })
    );
    let ok = Facts {
        pin: Some(Verdict::Right),
        bill: Some(Ok(Some(bill()))),
        ..facts
    };
    let o = run(&cx, &pin, CallInput::Digits("1234".into()), &ok);
    assert!(
        said(&o).contains("账户1 0 0 0 0 0 0 1的账单"),
        "{}",
        said(&o)
    );
    assert!(
        o.effects
            .contains(&Effect::IdentifyAccount { account_id: 7 })
    );
    assert_eq!(
        o.input_log, "digits:**** (PIN right)",
        "PINs never reach the history"
    );
    assert_eq!(next_state(&o).account, Some((7, Ident::Pin)));
}

/// A caller who typed account 10000001 and is asked for its PIN.
fn at_pin() -> FlowState {
    FlowState {
        node: Node::Pin,
        pending: Some("10000001".into()),
        ..menu_state(0)
    }
}

#[test]
fn unknown_accounts_wrong_pins_and_locks_sound_alike() {
    let cat = catalog();
    let cx = ctx(&cat);
    let pin = at_pin();
    let answer = |account: Option<Account>, verdict| {
        let facts = Facts {
            account: Some(account),
            pin: Some(verdict),
            ..Facts::default()
        };
        run(&cx, &pin, CallInput::Digits("0000".into()), &facts)
    };
    let unknown = answer(None, Verdict::Unknown);
    assert!(
        said(&unknown).contains("账号或密码无法核实"),
        "{}",
        said(&unknown)
    );
    let mut no_pin = account(None);
    no_pin.pin_hash = None;
    let mut locked = account(None);
    locked.pin_locked_until = Some(NOW + 60_000);
    for (what, o) in [
        ("a wrong PIN", answer(Some(account(None)), Verdict::Wrong)),
        ("a lock", answer(Some(locked), Verdict::Locked)),
        (
            "an account without PIN",
            answer(Some(no_pin), Verdict::Unknown),
        ),
        ("an unknown number", answer(None, Verdict::Wrong)),
    ] {
        assert_eq!(
            o.verbs, unknown.verbs,
            "{what} answers like an unknown number"
        );
        assert!(o.effects.is_empty(), "{what}: {:?}", o.effects);
    }
    // Only the history says which it was.
    assert_eq!(unknown.input_log, "digits:**** (PIN unknown)");
    // The account number is asked again, and the tries carry over to the end.
    let again = next_state(&unknown);
    assert_eq!(
        (again.node, again.tries, again.pending),
        (Node::AccountNo, 1, None)
    );
    let last = FlowState {
        tries: MAX_TRIES - 1,
        ..pin.clone()
    };
    let facts = Facts {
        account: Some(None),
        pin: Some(Verdict::Unknown),
        ..Facts::default()
    };
    let o = run(&cx, &last, CallInput::Digits("0000".into()), &facts);
    assert!(said(&o).contains("无法核实您的身份"), "{}", said(&o));
    assert!(said(&o).contains("人工服务请按0"), "a person is offered");
    assert_eq!(next_state(&o).node, Node::Offer);
}

#[test]
fn a_spoken_pin_is_neither_taken_nor_kept() {
    let cat = catalog();
    let cx = ctx(&cat);
    let pin = at_pin();
    let facts = Facts {
        account: Some(Some(account(None))),
        ..Facts::default()
    };
    let spoken = CallInput::Speech {
        text: "one two three four 1234".into(),
        confidence: 0.9,
    };
    let o = step(&cx, &pin, &spoken, &facts).expect("no PIN check for speech");
    assert_eq!(o.input_log, "speech:(masked)");
    assert!(!format!("{o:?}").contains("1234"), "{o:?}");
    assert_eq!(next_state(&o).node, Node::Pin, "the PIN is asked again");
}

#[test]
fn a_lock_never_keeps_the_lines_own_caller_from_the_bill() {
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
        bill: Some(Ok(Some(bill()))),
        ..Facts::default()
    };
    let o = run(&cx, &st, CallInput::Digits("1".into()), &facts);
    assert!(said(&o).contains("元"), "{}", said(&o));
    // And the largest charges too.
    let o = run(&cx, &next_state(&o), CallInput::Digits("2".into()), &facts);
    assert!(!said(&o).contains("已暂停"), "{}", said(&o));
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
    let next = st.next_step();
    assert_eq!(next.hook, Hook::Step);
    assert_eq!(FlowState::from_query(&next.query), Ok(st));
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

/// The milestones of an outcome, in order.
fn milestones(o: &Outcome) -> Vec<crate::calls::step::Milestone> {
    o.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Milestone(m) => Some(*m),
            _ => None,
        })
        .collect()
}

#[test]
fn finished_tasks_and_asking_for_a_person_are_recorded_as_milestones() {
    use crate::calls::step::Milestone::{CallbackOffered, Person, SelfServed};
    let cat = catalog();
    let cx = ctx(&cat);
    // The bill read out.
    let st = FlowState {
        account: Some((7, Ident::Line)),
        ..menu_state(0)
    };
    let facts = Facts {
        account: Some(Some(account(None))),
        bill: Some(Ok(Some(bill()))),
        ..Facts::default()
    };
    let o = run(&cx, &st, CallInput::Digits("1".into()), &facts);
    assert_eq!(milestones(&o), [SelfServed]);
    // No bill at all: nothing finished.
    let none = Facts {
        account: Some(Some(account(None))),
        bill: Some(Ok(None)),
        ..Facts::default()
    };
    let o = run(&cx, &st, CallInput::Digits("1".into()), &none);
    assert!(milestones(&o).is_empty());
    // Service information: the menu of topics is not yet the task, a topic is.
    let info = run(
        &cx,
        &menu_state(0),
        CallInput::Digits("3".into()),
        &Facts::default(),
    );
    assert!(milestones(&info).is_empty());
    let topic = run(
        &cx,
        &next_state(&info),
        CallInput::Digits("1".into()),
        &Facts::default(),
    );
    assert_eq!(milestones(&topic), [SelfServed]);
    // A ticket's state by its number.
    let typing = FlowState {
        node: Node::TicketNo,
        ..menu_state(0)
    };
    let number = "12345674";
    assert!(crate::tickets::is_valid_number(number));
    let tf = Facts {
        ticket: Some(Some(ticket(
            number,
            TicketState::InProgress,
            Some(NOW + 3_600_000),
        ))),
        ..Facts::default()
    };
    let o = run(&cx, &typing, CallInput::Digits(format!("{number}#")), &tf);
    assert_eq!(milestones(&o), [SelfServed]);
    // After hours: asking for a person is recorded, and so is the callback offered instead.
    let closed = Facts {
        queue: Some(closed_queue()),
        ..Facts::default()
    };
    let o = run(&cx, &menu_state(0), CallInput::Digits("0".into()), &closed);
    assert_eq!(milestones(&o), [Person, CallbackOffered]);
    // Dial mode: asking is recorded too.
    let dial = Ctx {
        transfer: TransferMode::Dial,
        agent: Some("+8613700000009"),
        ..ctx(&cat)
    };
    let o = run(
        &dial,
        &menu_state(0),
        CallInput::Digits("0".into()),
        &Facts::default(),
    );
    assert_eq!(milestones(&o), [Person]);
}

/// Step URLs come back from the carrier: whatever arrives parses or is refused, and every
/// state the flows write comes back as it was.
mod step_url_properties {
    use proptest::prelude::*;

    use super::*;

    fn state() -> impl Strategy<Value = FlowState> {
        let short = || prop::option::of("[!-~]{1,40}");
        (
            1..=10_000i32,
            prop::sample::select(Node::ALL.to_vec()),
            0..=MAX_TRIES,
            prop::sample::select(Locale::ALL.to_vec()),
            prop::option::of((
                any::<i64>(),
                prop::sample::select(vec![Ident::Line, Ident::Pin]),
            )),
            prop::option::of("[0-9]{1,20}"),
            prop::sample::select(vec![Goal::Bill, Goal::Fault, Goal::Order]),
            (short(), short(), short(), short()),
        )
            .prop_map(
                |(
                    seq,
                    node,
                    tries,
                    locale,
                    account,
                    pending,
                    goal,
                    (line, pick, callback, ticket),
                )| {
                    FlowState {
                        seq,
                        node,
                        tries,
                        locale,
                        account,
                        pending,
                        goal,
                        line,
                        pick,
                        callback,
                        ticket,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn written_states_round_trip(st in state()) {
            let q = st.next_step().query;
            let q = q.as_str();
            prop_assert_eq!(FlowState::from_query(q), Ok(st));
        }

        #[test]
        fn any_query_parses_or_is_refused(q in any::<String>()) {
            if let Ok(st) = FlowState::from_query(&q) {
                prop_assert!((1..=10_000).contains(&st.seq));
                prop_assert!(st.tries <= MAX_TRIES);
            }
        }

        #[test]
        fn tampered_urls_parse_or_are_refused(st in state(), cut in any::<prop::sample::Index>(), junk in "[%&=+#a-z0-9\u{0}-\u{1f}\u{80}-\u{ff}]{0,8}") {
            let q = st.next_step().query;
            let q = q.as_str();
            let at = cut.index(q.len() + 1);
            let at = (0..=at).rev().find(|i| q.is_char_boundary(*i)).unwrap_or(0);
            let tampered = format!("{}{junk}{}", &q[..at], &q[at..]);
            let _ = FlowState::from_query(&tampered);
        }
    }
}

fn bill_on(amount_due: i64, balance: i64) -> Bill {
    Bill {
        amount_due,
        balance,
        ..bill()
    }
}

/// The bill read out at `now` (ms) in `locale`.
fn bill_said(locale: Locale, b: Bill, now: i64) -> String {
    let cat = catalog();
    let cx = Ctx { now, ..ctx(&cat) };
    let st = FlowState {
        locale,
        account: Some((7, Ident::Line)),
        ..menu_state(0)
    };
    let facts = Facts {
        account: Some(Some(account(None))),
        bill: Some(Ok(Some(b))),
        ..Facts::default()
    };
    said(&run(&cx, &st, CallInput::Digits("1".into()), &facts))
}

/// Epoch ms of noon in Shanghai on a day of 2026.
fn noon(month: u32, day: u32) -> i64 {
    use chrono::TimeZone;
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, month, day, 12, 0, 0)
        .single()
        .expect("valid")
        .timestamp_millis()
}

#[test]
fn a_bill_is_due_overdue_or_in_credit_in_its_own_words() {
    // Due on December 15th: due through that day, overdue from the 16th.
    let due = bill_on(12850, -12850);
    for day in [1, 15] {
        let zh = bill_said(Locale::ZhCn, due.clone(), noon(12, day));
        assert!(
            zh.contains("本期应缴话费128元5角，请在12月15日前缴纳。"),
            "{zh}"
        );
        assert!(!zh.contains("欠费") && !zh.contains("到期"), "{zh}");
        let en = bill_said(Locale::EnUs, due.clone(), noon(12, day));
        assert!(
            en.contains("The amount due this period is 128 yuan 50, payable by December 15th."),
            "{en}"
        );
        assert!(
            !en.contains("overdue") && !en.contains("not been paid"),
            "{en}"
        );
    }
    let zh = bill_said(Locale::ZhCn, due.clone(), noon(12, 16));
    assert!(
        zh.contains("本期话费128元5角已于12月15日到期，目前尚未缴纳，请尽快缴费。"),
        "{zh}"
    );
    assert!(!zh.contains("请在12月15日前缴纳"), "{zh}");
    let en = bill_said(Locale::EnUs, due, noon(12, 16));
    assert!(
        en.contains(
            "This period's bill of 128 yuan 50 was due on December 15th and has not been paid."
        ),
        "{en}"
    );
    // In credit: nothing owed, the credit said as credit.
    let credit = bill_on(0, 3605);
    let zh = bill_said(Locale::ZhCn, credit.clone(), noon(12, 16));
    assert!(zh.contains("本期没有应缴费用，账户余额36元零5分。"), "{zh}");
    let en = bill_said(Locale::EnUs, credit, noon(12, 16));
    assert!(
        en.contains("Nothing is due this period. Your account is 36 yuan 05 in credit."),
        "{en}"
    );
    // Nothing owed and nothing in credit.
    let settled = bill_said(Locale::EnUs, bill_on(0, 0), noon(12, 1));
    assert!(settled.contains("Nothing is due this period."), "{settled}");
    assert!(!settled.contains("credit"), "{settled}");
    // Earlier charges unpaid besides this period's: the whole debt, in neutral words.
    let more = bill_said(Locale::ZhCn, bill_on(12850, -20000), noon(12, 1));
    assert!(more.contains("请在12月15日前缴纳"), "{more}");
    assert!(more.contains("账户共需缴纳200元"), "{more}");
}

#[test]
fn every_english_amount_of_a_bill_reads_one_way() {
    let mut b = bill_on(3650, -3650);
    b.last_payment = Some(Payment {
        amount: 3605,
        date: NaiveDate::from_ymd_opt(2026, 11, 10).expect("date"),
    });
    let en = bill_said(Locale::EnUs, b, noon(12, 1));
    assert!(en.contains("36 yuan 50"), "{en}");
    assert!(en.contains("36 yuan 05"), "{en}");
    assert!(!en.contains("fen"), "{en}");
}

#[test]
fn callback_numbers_are_read_grouped_without_the_country_code() {
    let cat = catalog();
    for (locale, want) in [
        (Locale::ZhCn, "我们将致电1 3 8，0 0 0 0，0 0 0 1。"),
        (Locale::EnUs, "we will call 1 3 8, 0 0 0 0, 0 0 0 1."),
    ] {
        let cx = ctx(&cat);
        let st = FlowState {
            node: Node::FaultType,
            goal: Goal::Fault,
            locale,
            account: Some((7, Ident::Line)),
            line: Some("+8613800000001".into()),
            ..menu_state(0)
        };
        let o = run(&cx, &st, CallInput::Digits("2".into()), &Facts::default());
        assert!(said(&o).contains(want), "{}", said(&o));
        // A landline, with its area code and the trunk 0 a person dials at home.
        let cx = Ctx {
            caller_number: Some("+862166660003"),
            ..ctx(&cat)
        };
        let o = run(&cx, &st, CallInput::Digits("2".into()), &Facts::default());
        let want = match locale {
            Locale::ZhCn => "0 2 1，6 6 6 6，0 0 0 3",
            Locale::EnUs => "0 2 1, 6 6 6 6, 0 0 0 3",
        };
        assert!(said(&o).contains(want), "{}", said(&o));
    }
}

#[test]
fn a_caller_who_waited_keeps_their_place_and_only_they_hear_so() {
    let cat = catalog();
    let cx = ctx(&cat);
    // Busy before joining: a callback, no place to keep.
    let busy = Facts {
        queue: Some(open_queue(9, 900)),
        ..Facts::default()
    };
    let o = run(&cx, &menu_state(0), CallInput::Digits("0".into()), &busy);
    assert!(!said(&o).contains("排队顺序"), "{}", said(&o));
    // The queue failed after they waited: they keep it.
    let st = FlowState {
        seq: 4,
        node: Node::AfterQueue,
        ..menu_state(0)
    };
    let failed = Facts {
        left_queue: true,
        queue: Some(QueueFacts {
            entered_at: Some(NOW - 60_000),
            ..open_queue(1, 180)
        }),
        ..Facts::default()
    };
    let input = CallInput::QueueLeft {
        result: "queue-full".into(),
    };
    let o = run(&cx, &st, input, &failed);
    assert!(said(&o).contains("您的排队顺序保持不变"), "{}", said(&o));
}

/// The prompt a state's step asks with, and the state it waits at.
fn prompt_at(cx: &Ctx<'_>, st: &FlowState, input: &str, facts: &Facts) -> (String, FlowState) {
    let o = run(cx, st, CallInput::Digits(input.into()), facts);
    (said(&o), next_state(&o))
}

#[test]
fn every_prompt_where_zero_reaches_a_person_says_so_and_zero_does() {
    let cat = catalog();
    let cx = ctx(&cat);
    let mut two_lines = account(None);
    two_lines.lines.push(Line {
        number: "BB0001".into(),
        kind: LineKind::Broadband,
        label: None,
    });
    let facts = Facts {
        account: Some(Some(two_lines)),
        active_fault: Some(None),
        opened: Some(ticket("12345674", TicketState::Open, Some(NOW + HOUR))),
        ticket: Some(Some(ticket(
            "12345674",
            TicketState::Open,
            Some(NOW + HOUR),
        ))),
        ..Facts::default()
    };
    let identified = FlowState {
        account: Some((7, Ident::Line)),
        ..menu_state(0)
    };
    for locale in Locale::ALL {
        let (zero, hint) = match locale {
            Locale::ZhCn => ("人工服务请按0", "人工服务请按0再按井号键"),
            Locale::EnUs => (
                "To speak to a person, press 0",
                "press 0 and then the hash key",
            ),
        };
        let menu = FlowState {
            locale,
            ..identified.clone()
        };
        // Faults: the menu, the line, the fault type, the callback number, the ticket.
        let (_, fault_menu) = prompt_at(&cx, &menu, "2", &facts);
        let (line_prompt, line) = prompt_at(&cx, &fault_menu, "1", &facts);
        assert_eq!(line.node, Node::Line);
        let (type_prompt, fault_type) = prompt_at(&cx, &line, "1", &facts);
        assert_eq!(fault_type.node, Node::FaultType);
        let (confirm_prompt, confirm) = prompt_at(&cx, &fault_type, "2", &facts);
        assert_eq!(confirm.node, Node::Callback);
        let (enter_prompt, enter) = prompt_at(&cx, &confirm, "2", &facts);
        assert_eq!(enter.node, Node::CallbackNo);
        let (opened_prompt, opened) = prompt_at(&cx, &confirm, "1", &facts);
        assert_eq!(opened.node, Node::Opened);
        let (number_prompt, typing) = prompt_at(&cx, &fault_menu, "2", &facts);
        assert_eq!(typing.node, Node::TicketNo);
        // Orders: what to install, what to change.
        let (_, order_menu) = prompt_at(&cx, &menu, "4", &facts);
        let (install_prompt, install) = prompt_at(&cx, &order_menu, "1", &facts);
        assert_eq!(install.node, Node::OrderInstall);
        let (_, change_line) = prompt_at(&cx, &order_menu, "3", &facts);
        let (change_prompt, change) = prompt_at(&cx, &change_line, "1", &facts);
        assert_eq!(change.node, Node::OrderChange);

        for (what, prompt, at, key) in [
            ("line", &line_prompt, &line, "0"),
            ("fault type", &type_prompt, &fault_type, "0"),
            ("callback", &confirm_prompt, &confirm, "0"),
            ("opened", &opened_prompt, &opened, "0"),
            ("install", &install_prompt, &install, "0"),
            ("change", &change_prompt, &change, "0"),
        ] {
            assert!(prompt.contains(zero), "{what} ({locale:?}): {prompt}");
            assert_eq!(
                step(&cx, at, &CallInput::Digits(key.into()), &facts),
                Err(Need::AgentQueue),
                "{what}: 0 reaches a person"
            );
        }
        for (what, prompt, at) in [
            ("callback number", &enter_prompt, &enter),
            ("ticket number", &number_prompt, &typing),
        ] {
            assert!(prompt.contains(hint), "{what} ({locale:?}): {prompt}");
            for typed in ["0#", "0"] {
                assert_eq!(
                    step(&cx, at, &CallInput::Digits(typed.into()), &facts),
                    Err(Need::AgentQueue),
                    "{what}: {typed} reaches a person"
                );
            }
        }
    }
}

#[test]
fn speech_goes_to_the_best_matching_key_not_the_first_found() {
    let cat = catalog();
    let cx = ctx(&cat);
    // What the caller hears next says where the words went.
    let (complaint, fault, bill) = (
        "Please tell us your complaint",
        "To report a fault, press 1",
        "Please enter your account number",
    );
    let (zh_complaint, zh_fault, zh_bill, zh_info) = (
        "请在提示音后说出您的投诉内容",
        "报障请按1",
        "请输入您的账号",
        "资费信息请按1",
    );
    let cases = [
        (Locale::EnUs, "complaint about the bill", complaint),
        (Locale::EnUs, "I want to complain about my bill", complaint),
        (Locale::EnUs, "my phone is not working", fault),
        (Locale::EnUs, "one", bill),
        (Locale::EnUs, "my bill please", bill),
        (Locale::ZhCn, "投诉账单", zh_complaint),
        (Locale::ZhCn, "我要投诉话费问题", zh_complaint),
        (Locale::ZhCn, "查询故障进度", zh_fault),
        (Locale::ZhCn, "我想查一下话费", zh_bill),
        (Locale::ZhCn, "一", zh_bill),
        (Locale::ZhCn, "业务咨询", zh_info),
    ];
    for (locale, text, want) in cases {
        let st = FlowState {
            locale,
            ..menu_state(0)
        };
        let input = CallInput::Speech {
            text: text.into(),
            confidence: 0.8,
        };
        let o = run(&cx, &st, input, &Facts::default());
        assert!(said(&o).contains(want), "{text}: {}", said(&o));
    }
}

#[test]
fn the_best_key_rule() {
    let kw = |list: &[(char, &str)]| -> Vec<(char, String)> {
        list.iter().map(|(k, w)| (*k, w.to_string())).collect()
    };
    // More of the transcript covered wins.
    let k = kw(&[('1', "bill"), ('5', "complaint")]);
    assert_eq!(best_key("bill complaint", &k), Some('5'));
    // A tie goes to the first matched.
    let k = kw(&[('1', "账单"), ('5', "投诉")]);
    assert_eq!(best_key("投诉账单", &k), Some('5'));
    assert_eq!(best_key("账单投诉", &k), Some('1'));
    // A match inside a longer one of another key does not count.
    let k = kw(&[('1', "咨询"), ('3', "业务咨询")]);
    assert_eq!(best_key("业务咨询", &k), Some('3'));
    // Whole words for ASCII keywords; a lone character only as the whole transcript.
    let k = kw(&[('1', "one"), ('2', "一")]);
    assert_eq!(best_key("phone", &k), None);
    assert_eq!(best_key("One.", &k), Some('1'));
    assert_eq!(best_key("一下", &k), None);
    assert_eq!(best_key("一。", &k), Some('2'));
    assert_eq!(best_key("nothing here", &k), None);
}

#[test]
fn surveys_say_your_recent_repair_and_hash_like_the_hotline() {
    use crate::surveys::script::{Purpose, Script};
    let cat = catalog();
    let cx = ctx(&cat);
    let info = |purpose: Purpose, resolved_at: Option<i64>| survey::SurveyInfo {
        script: Script::builtin(purpose),
        number: "+8613800000001".into(),
        resolved_at,
        appointment_at: None,
    };
    let first = |locale: Locale, info: &survey::SurveyInfo| {
        let vars = survey::variables(&cx, locale, info);
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        info.script.questions[0].prompt.render(locale, &vars)
    };
    // A callback queued from a list has no repair date.
    let listed = info(Purpose::Satisfaction, None);
    assert!(
        first(Locale::EnUs, &listed).starts_with("About your recent repair: "),
        "{}",
        first(Locale::EnUs, &listed)
    );
    assert!(first(Locale::ZhCn, &listed).starts_with("关于您近期报修的故障"));
    let dated = info(Purpose::Satisfaction, Some(noon(6, 1)));
    assert!(
        first(Locale::EnUs, &dated).starts_with("About your June 1st repair: "),
        "{}",
        first(Locale::EnUs, &dated)
    );
    // An appointment without its time is on the agreed day, not "recent".
    let visit = info(Purpose::Appointment, None);
    assert!(
        first(Locale::EnUs, &visit).contains("on the agreed day at the agreed time"),
        "{}",
        first(Locale::EnUs, &visit)
    );
    // The key is "hash" everywhere, as in the hotline's own prompts.
    for purpose in Purpose::ALL {
        let s = Script::builtin(purpose);
        let texts = std::iter::once(&s.intro)
            .chain(s.questions.iter().map(|q| &q.prompt))
            .chain(std::iter::once(&s.outro));
        for t in texts {
            let en = t.render(Locale::EnUs, &[]);
            assert!(!en.contains("pound"), "{purpose:?}: {en}");
        }
    }
}

/// An identified caller who has confirmed the callback number for an order of `pick`.
fn order_confirmed(pick: &str) -> FlowState {
    FlowState {
        node: Node::Callback,
        account: Some((7, Ident::Line)),
        goal: Goal::Order,
        line: (pick == "move").then(|| "+8613800000001".into()),
        pick: Some(pick.into()),
        ..FlowState::start(Locale::ZhCn)
    }
}

fn with_account() -> Facts {
    Facts {
        account: Some(Some(account(None))),
        ..Facts::default()
    }
}

/// The `<Record>` the outcome waits on, and the state it carries.
fn recording_next(o: &Outcome) -> FlowState {
    let next = o
        .verbs
        .iter()
        .find_map(|v| match v {
            Verb::Record { next, .. } => Some(next.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no recording: {:?}", o.verbs));
    FlowState::from_query(&next.query).expect("valid state")
}

#[test]
fn an_installation_confirms_the_address_on_file_or_records_another() {
    let cat = catalog();
    let cx = ctx(&cat);
    let facts = with_account();
    let o = run(
        &cx,
        &order_confirmed("installation.broadband"),
        CallInput::Digits("1".into()),
        &facts,
    );
    assert!(
        said(&o).contains("安装地址：上海市浦东新区世纪大道100号。地址正确请按1"),
        "{}",
        said(&o)
    );
    let confirm = next_state(&o);
    assert_eq!(confirm.node, Node::OrderAddress);
    // 1: the order opens at the address on file.
    match step(&cx, &confirm, &CallInput::Digits("1".into()), &facts) {
        Err(Need::OpenTicket(req)) => {
            assert_eq!(req.kind, TicketKind::Installation);
            assert_eq!(req.address.as_deref(), Some("上海市浦东新区世纪大道100号"));
            assert_eq!(req.recording, None);
        }
        other => panic!("{other:?}"),
    }
    // 2: another address, after the tone.
    let o = run(&cx, &confirm, CallInput::Digits("2".into()), &facts);
    assert!(
        said(&o).contains("请在提示音后说出安装地址"),
        "{}",
        said(&o)
    );
    assert_eq!(recording_next(&o).node, Node::OrderAddressRecord);
}

#[test]
fn a_move_says_where_it_leaves_from_and_records_where_it_goes() {
    let cat = catalog();
    let cx = ctx(&cat);
    let facts = with_account();
    let o = run(
        &cx,
        &order_confirmed("move"),
        CallInput::Digits("1".into()),
        &facts,
    );
    assert!(
        said(&o).contains("您登记的地址是：上海市浦东新区世纪大道100号。"),
        "{}",
        said(&o)
    );
    assert!(said(&o).contains("请在提示音后说出新地址"), "{}", said(&o));
    let record = recording_next(&o);
    assert_eq!(
        (record.node, record.pick.as_deref()),
        (Node::OrderAddressRecord, Some("move"))
    );
    let spoken = CallInput::Recording {
        url: "https://api.twilio.com/rec/RE1".into(),
        sid: Some("RE1".into()),
        duration_secs: 12,
    };
    match step(&cx, &record, &spoken, &facts) {
        Err(Need::OpenTicket(req)) => {
            assert_eq!(req.kind, TicketKind::Move);
            assert_eq!(req.line_number.as_deref(), Some("+8613800000001"));
            assert_eq!(req.address, None);
            assert_eq!(req.recording.map(|r| r.duration_secs), Some(12));
        }
        other => panic!("{other:?}"),
    }
}
