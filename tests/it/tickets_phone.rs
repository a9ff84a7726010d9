//! End-to-end: faults, orders, complaints, ticket status and information by phone, through
//! the carrier simulator, on SQLite and PostgreSQL, with deadlines checked against the
//! service-level policy at chosen local times (the test moves the clock).

use crate::support::app::{Backend, START_MS, TestApp, both, shanghai};
use crate::support::demo::{
    ALICE, ALICE_ACCOUNT, HOTLINE, LINA, LINA_ADDRESS, LINA_LEASED, UNKNOWN, ZHANG, ZHANG_ADDRESS,
};
use crate::support::fixtures;
use crate::support::phone::heard;
use hotline::telephony::twilio::simulator::Call;
use hotline::tickets::{Ticket, TicketKind, TicketState};

fn spoken(number: &str) -> String {
    number
        .chars()
        .map(String::from)
        .collect::<Vec<_>>()
        .join(" ")
}

async fn running_fault(app: &TestApp, line: &str) -> Option<Ticket> {
    app.state
        .steps
        .store
        .active_ticket_on_line(line, TicketKind::Fault)
        .await
        .expect("store")
}

/// Lina (business, three lines) reports a fault on line `key` (1 phone, 2 broadband,
/// 3 leased) at the current clock, confirming her calling number.
async fn lina_reports(app: &TestApp, key: &str) -> Call {
    let mut call = app.sim.start_call(LINA, HOTLINE).await.expect("call");
    call.press("2").await.expect("faults");
    call.press("1").await.expect("report");
    let lines = heard(&call);
    assert!(lines.contains("尾号0 0 0 3的电话线路请按1"), "{lines}");
    assert!(lines.contains("尾号0 0 0 3的专线请按3"), "{lines}");
    call.press(key).await.expect("line");
    call.press("1").await.expect("no dial tone");
    assert!(heard(&call).contains("确认请按1"), "{}", heard(&call));
    call.press("1").await.expect("confirm callback");
    call
}

both!(
    a_residential_fault_gets_72_hours_and_a_second_report_is_not_a_duplicate,
    |app: TestApp| async move {
        let mut call = app.sim.start_call(ALICE, HOTLINE).await.expect("call");
        call.press("2").await.expect("faults");
        assert!(heard(&call).contains("To report a fault, press 1"));
        call.press("1").await.expect("report");
        // One line: no line question.
        assert!(
            heard(&call).contains("no dial tone, press 1"),
            "{}",
            heard(&call)
        );
        call.press("3").await.expect("broadband down");
        assert!(
            heard(&call).contains("we will call 1 3 8, 0 0 0 0, 0 0 0 2"),
            "{}",
            heard(&call)
        );
        call.press("1").await.expect("confirm");
        let t = running_fault(&app, ALICE).await.expect("a ticket is open");
        assert_eq!(t.deadline_at, Some(START_MS + 72 * 3_600_000));
        assert_eq!(t.category.as_deref(), Some("broadband"));
        assert_eq!(t.callback_number.as_deref(), Some(ALICE));
        assert_eq!(
            t.customer_class,
            Some(hotline::customers::CustomerClass::Residential)
        );
        let said = heard(&call);
        assert!(
            said.contains(&format!("fault report number is {}", spoken(&t.number))),
            "{said}"
        );
        // Opened Monday 08:00 in Shanghai: 72 hours is Thursday 08:00.
        assert!(
            said.contains("We will repair it by 8 AM on June 4th"),
            "{said}"
        );
        call.hang_up().await.expect("hang up");

        // She calls again: the running ticket is read out instead of a second one.
        let mut again = app.sim.start_call(ALICE, HOTLINE).await.expect("call");
        again.press("2").await.expect("faults");
        again.press("1").await.expect("report");
        let said = heard(&again);
        assert!(
            said.contains(&format!(
                "Ticket {}, a fault report, is open",
                spoken(&t.number)
            )),
            "{said}"
        );
        assert!(
            said.contains("It is promised by 8 AM on June 4th"),
            "{said}"
        );
        again.press("1").await.expect("still broken");
        assert!(
            heard(&again).contains("the fault persists"),
            "{}",
            heard(&again)
        );
        again.hang_up().await.expect("hang up");

        let (status, body) = app.api_get(&format!("/api/v1/tickets/{}", t.number)).await;
        if status == 200 {
            let kinds: Vec<&str> = body["history"]
                .as_array()
                .map(|h| h.iter().filter_map(|e| e["kind"].as_str()).collect())
                .unwrap_or_default();
            assert_eq!(kinds, ["opened", "persists"], "{body}");
        }
        let history = app
            .state
            .steps
            .store
            .ticket_history(t.id)
            .await
            .expect("history");
        let kinds: Vec<&str> = history.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["opened", "persists"]);
        assert_eq!(history[1].actor, "caller");
        let page = app
            .state
            .steps
            .store
            .list_tickets(&hotline::tickets::TicketFilter {
                line_number: Some(ALICE.into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("list");
        assert_eq!(page.tickets.len(), 1, "no duplicate was opened");
    }
);

both!(
    business_faults_follow_the_policy_around_16_00_weekends_and_adjusted_days,
    |app: TestApp| async move {
        // (report time, line key, line number, expected deadline, what the caller hears)
        let cases = [
            // Leased line: 4 hours.
            (
                shanghai(2026, 6, 1, 15, 0),
                "3",
                LINA_LEASED,
                shanghai(2026, 6, 1, 19, 0),
                "今天19点前",
            ),
            // Business, before 16:00 on a working day: the same day.
            (
                shanghai(2026, 6, 2, 15, 59),
                "1",
                LINA,
                shanghai(2026, 6, 3, 0, 0),
                "今天之内",
            ),
            // At 16:00: noon the next working day.
            (
                shanghai(2026, 6, 3, 16, 0),
                "1",
                LINA,
                shanghai(2026, 6, 4, 12, 0),
                "明天12点前",
            ),
            // Friday evening: Monday noon.
            (
                shanghai(2026, 6, 5, 17, 0),
                "1",
                LINA,
                shanghai(2026, 6, 8, 12, 0),
                "6月8日12点前",
            ),
            // Friday before an adjusted working Saturday (2026-05-09): that Saturday.
            (
                shanghai(2026, 5, 8, 17, 0),
                "1",
                LINA,
                shanghai(2026, 5, 9, 12, 0),
                "明天12点前",
            ),
        ];
        for (at, key, line, deadline, words) in cases {
            app.clock.set_ms(at);
            let call = lina_reports(&app, key).await;
            let t = running_fault(&app, line).await.expect("opened");
            assert_eq!(t.deadline_at, Some(deadline), "reported at {at} on {line}");
            assert!(heard(&call).contains(words), "{}: {}", words, heard(&call));
            assert!(heard(&call).contains(&spoken(&t.number)));
            // Resolve it so the next case opens a fresh ticket on the line.
            app.state
                .steps
                .desk
                .change(
                    &t.number,
                    &hotline::tickets::Action::Resolve {
                        code: "fixed".into(),
                        note: String::new(),
                    },
                    "tech",
                    None,
                )
                .await
                .expect("resolve");
        }
    }
);

both!(
    a_retried_webhook_opens_one_ticket,
    |app: TestApp| async move {
        let mut call = app.sim.start_call(ALICE, HOTLINE).await.expect("call");
        call.press("2").await.expect("faults");
        call.press("1").await.expect("report");
        call.press("1").await.expect("type");
        call.press("1").await.expect("confirm");
        let first = running_fault(&app, ALICE).await.expect("opened");
        let replayed = call.replay_last().await.expect("retry");
        assert!(
            replayed.contains(&spoken(&first.number)),
            "the retry hears the same number"
        );
        let page = app
            .state
            .steps
            .store
            .list_tickets(&hotline::tickets::TicketFilter {
                account_no: Some("20000002".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("list");
        assert_eq!(page.tickets.len(), 1);
        let history = app
            .state
            .steps
            .store
            .ticket_history(first.id)
            .await
            .expect("history");
        assert_eq!(history.len(), 1, "opened once");
    }
);

both!(
    any_caller_hears_a_ticket_state_by_number,
    |app: TestApp| async move {
        let mut call = app.sim.start_call(ALICE, HOTLINE).await.expect("call");
        call.press("2").await.expect("faults");
        call.press("1").await.expect("report");
        call.press("2").await.expect("noise");
        call.press("1").await.expect("confirm");
        let t = running_fault(&app, ALICE).await.expect("opened");
        app.state
            .steps
            .desk
            .change(
                &t.number,
                &hotline::tickets::Action::Assign {
                    assignee: "tech-7".into(),
                    note: None,
                },
                "dispatch",
                None,
            )
            .await
            .expect("assign");

        let mut other = app.sim.start_call(UNKNOWN, HOTLINE).await.expect("call");
        other.press("1").await.expect("mandarin");
        other.press("2").await.expect("faults");
        other.press("2").await.expect("status");
        // A mistyped number (wrong check digit) and an unknown one are both refused.
        let mut typo = t.number.clone().into_bytes();
        typo[3] = if typo[3] == b'9' { b'0' } else { typo[3] + 1 };
        let typo = String::from_utf8(typo).expect("ascii");
        other.press(&format!("{typo}#")).await.expect("typo");
        assert!(heard(&other).contains("没有找到工单"), "{}", heard(&other));
        other
            .press(&format!("{}#", t.number))
            .await
            .expect("number");
        let said = heard(&other);
        assert!(
            said.contains(&format!("工单{}，障碍申告，已派单", spoken(&t.number))),
            "{said}"
        );
        assert!(said.contains("承诺处理时限为"), "{said}");
        assert!(!said.contains("Alice"), "nothing about the customer");

        // Past the deadline, the caller hears it is late.
        app.clock.advance_ms(73 * 3_600_000);
        other.press("1").await.expect("again");
        assert!(heard(&other).contains("已经超时"), "{}", heard(&other));
    }
);

both!(
    a_caller_from_another_phone_identifies_before_reporting,
    |app: TestApp| async move {
        let mut call = app.sim.start_call(UNKNOWN, HOTLINE).await.expect("call");
        call.press("1").await.expect("mandarin");
        call.press("2").await.expect("faults");
        call.press("1").await.expect("report");
        assert!(
            heard(&call).contains("账户号码") || heard(&call).contains("账号"),
            "{}",
            heard(&call)
        );
        call.press("30000003#").await.expect("account");
        call.press("2468#").await.expect("pin");
        assert!(
            heard(&call).contains("请问是哪一条线路"),
            "{}",
            heard(&call)
        );
        // A key beyond the lines is refused and the lines are offered again.
        call.press("7").await.expect("bad line");
        assert!(
            heard(&call).contains("尾号0 0 0 3的专线请按3"),
            "{}",
            heard(&call)
        );
        call.press("2").await.expect("broadband line");
        call.press("3").await.expect("broadband down");
        // The calling number is confirmed; she gives another instead.
        call.press("2").await.expect("another number");
        call.press("13912345678#").await.expect("callback number");
        let t = running_fault(&app, "BB30000003").await.expect("opened");
        assert_eq!(t.callback_number.as_deref(), Some("13912345678"));
        assert_eq!(t.line_kind, Some(hotline::customers::LineKind::Broadband));
    }
);

both!(
    an_installation_order_gets_15_working_days,
    |app: TestApp| async move {
        // Friday 2026-09-18 10:00: 15 working days skip the National Day week and count the
        // adjusted Sunday 2026-09-20 and Saturday 2026-10-10.
        app.clock.set_ms(shanghai(2026, 9, 18, 10, 0));
        let mut call = app.sim.start_call(ZHANG, HOTLINE).await.expect("call");
        call.press("1").await.expect("mandarin");
        call.press("4").await.expect("orders");
        assert!(heard(&call).contains("新装请按1"), "{}", heard(&call));
        call.press("1").await.expect("install");
        call.press("2").await.expect("broadband");
        call.press("1").await.expect("confirm");
        // The address on file is read back for confirmation before the order opens.
        let said = heard(&call);
        assert!(
            said.contains(&format!("安装地址：{ZHANG_ADDRESS}。地址正确请按1")),
            "{said}"
        );
        call.press("1").await.expect("the address is right");
        let page = app
            .state
            .steps
            .store
            .list_tickets(&hotline::tickets::TicketFilter {
                account_no: Some("10000001".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("list");
        let t = page.tickets.first().expect("an order");
        assert_eq!(t.kind, TicketKind::Installation);
        assert_eq!(t.line_kind, Some(hotline::customers::LineKind::Broadband));
        assert_eq!(t.line_number, None);
        assert_eq!(t.address.as_deref(), Some(ZHANG_ADDRESS));
        assert_eq!(t.recording, None);
        // Working days after 09-18: 09-20 (adjusted), 21, 22, 23, 24, 28, 29, 30, 10-08, 09,
        // 10 (adjusted), 12, 13, 14, 15: the end of 10-15.
        assert_eq!(t.deadline_at, Some(shanghai(2026, 10, 16, 0, 0)));
        assert!(heard(&call).contains("10月15日之内"), "{}", heard(&call));
        assert!(heard(&call).contains(&spoken(&t.number)));
    }
);

/// `app` again, on its backend, asking Twilio for transcripts of recordings.
async fn transcribing(app: TestApp) -> TestApp {
    let backend = app.backend;
    drop(app);
    TestApp::spawn_with(backend, |c| c.complaints.transcribe = true)
        .await
        .expect("app")
}

/// The newest ticket `filter` finds.
async fn newest(app: &TestApp, filter: hotline::tickets::TicketFilter) -> Ticket {
    let filter = hotline::tickets::TicketFilter {
        limit: 10,
        ..filter
    };
    let page = app.state.store.list_tickets(&filter).await.expect("list");
    page.tickets.first().cloned().expect("a ticket")
}

/// The newest ticket on Lina's phone line.
async fn lina_order(app: &TestApp) -> Ticket {
    let filter = hotline::tickets::TicketFilter {
        line_number: Some(LINA.into()),
        ..Default::default()
    };
    newest(app, filter).await
}

both!(
    a_move_order_records_the_new_address,
    |app: TestApp| async move {
        let mut call = app.sim.start_call(LINA, HOTLINE).await.expect("call");
        call.press("4").await.expect("orders");
        call.press("2").await.expect("move");
        call.press("1").await.expect("phone line");
        call.press("1").await.expect("confirm");
        // Where the line leaves from is read back; the new address is asked after the tone.
        let said = heard(&call);
        assert!(
            said.contains(&format!("您登记的地址是：{LINA_ADDRESS}。")),
            "{said}"
        );
        assert!(said.contains("请在提示音后说出新地址"), "{said}");
        assert!(call.is_recording(), "{said}");
        // Silence is asked again; then the address is spoken.
        call.record(0).await.expect("silence");
        assert!(heard(&call).contains("没有听到地址"), "{}", heard(&call));
        assert!(call.is_recording());
        call.record(14).await.expect("the new address");
        let said = heard(&call);
        assert!(said.contains("您说的地址已经录下"), "{said}");
        let t = lina_order(&app).await;
        assert_eq!(t.kind, TicketKind::Move);
        assert_eq!(t.state, TicketState::Open);
        assert!(said.contains(&spoken(&t.number)), "{said}");
        let rec = t
            .recording
            .expect("the spoken address is kept on the order");
        assert_eq!(rec.duration_secs, 14);
        assert_eq!(t.address, None);
    }
);

both!(
    an_installation_elsewhere_records_the_address,
    |app: TestApp| async move {
        let app = transcribing(app).await;
        let mut call = app.sim.start_call(ALICE, HOTLINE).await.expect("call");
        call.press("4").await.expect("orders");
        call.press("1").await.expect("install");
        call.press("2").await.expect("broadband");
        call.press("1").await.expect("confirm the callback number");
        let said = heard(&call);
        assert!(
            said.contains("We will install at: Room 802, 18 Fuxing Road"),
            "{said}"
        );
        call.press("2").await.expect("another address");
        assert!(
            heard(&call).contains("please say the address for the installation"),
            "{}",
            heard(&call)
        );
        call.record(9).await.expect("the address");
        let said = heard(&call);
        assert!(said.contains("We have recorded the address"), "{said}");
        let filter = hotline::tickets::TicketFilter {
            account_no: Some(ALICE_ACCOUNT.into()),
            ..Default::default()
        };
        let t = &newest(&app, filter).await;
        assert_eq!(t.kind, TicketKind::Installation);
        assert_eq!(t.address, None, "the address on file was not confirmed");
        assert_eq!(t.recording.as_ref().map(|r| r.duration_secs), Some(9));
        // The carrier's transcript of the address lands on the same order.
        let text = "Flat 3, 25 Julu Road";
        assert_eq!(call.transcribe(text).await.expect("sent"), 200);
        let t = app.state.store.ticket(&t.number).await.expect("store");
        assert_eq!(t.and_then(|t| t.transcript).as_deref(), Some(text));
    }
);

both!(
    an_installation_without_an_address_on_file_still_opens_after_silence,
    |app: TestApp| async move {
        // An account imported without an address.
        let acc = fixtures::account("55550001", &["+8613855550001"]);
        app.state
            .store
            .put_account(&acc, START_MS)
            .await
            .expect("account");
        let mut call = app
            .sim
            .start_call("+8613855550001", HOTLINE)
            .await
            .expect("call");
        call.press("2").await.expect("english");
        call.press("4").await.expect("orders");
        call.press("1").await.expect("install");
        call.press("1").await.expect("phone line");
        call.press("1").await.expect("confirm the callback number");
        // Nothing on file to read back: straight to the tone.
        let said = heard(&call);
        assert!(!said.contains("We will install at"), "{said}");
        assert!(call.is_recording(), "{said}");
        for _ in 0..3 {
            call.record(0).await.expect("silence");
        }
        // What was ordered is known: the order opens and an agent will call for the address.
        let said = heard(&call);
        assert!(said.contains("Your order number is"), "{said}");
        assert!(
            said.contains("An agent will call you back to take the address"),
            "{said}"
        );
        let filter = hotline::tickets::TicketFilter {
            account_no: Some("55550001".into()),
            ..Default::default()
        };
        let t = &newest(&app, filter).await;
        assert_eq!((t.address.as_deref(), t.recording.as_ref()), (None, None));
    }
);

both!(
    a_complaint_is_recorded_with_its_transcript,
    |app: TestApp| async move {
        let mut call = app.sim.start_call(UNKNOWN, HOTLINE).await.expect("call");
        call.press("2").await.expect("english");
        call.press("5").await.expect("complaints");
        assert!(call.is_recording(), "{}", heard(&call));
        assert!(heard(&call).contains("up to 2 minutes"), "{}", heard(&call));
        // Silence first: nothing recorded, asked again.
        call.record(0).await.expect("silence");
        assert!(
            heard(&call).contains("we did not hear a message"),
            "{}",
            heard(&call)
        );
        assert!(call.is_recording());
        call.record(45).await.expect("message");
        let said = heard(&call);
        assert!(said.contains("Your complaint number is"), "{said}");
        let page = app
            .state
            .steps
            .store
            .list_tickets(&hotline::tickets::TicketFilter {
                kind: Some(TicketKind::Complaint),
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("list");
        let t = page.tickets.first().expect("a complaint");
        assert!(said.contains(&spoken(&t.number)), "{said}");
        let rec = t.recording.clone().expect("recording kept");
        assert_eq!(rec.duration_secs, 45);
        assert!(rec.url.contains("/Recordings/RE"));
        assert_eq!(t.account_id, None, "an unidentified caller");
        assert_eq!(t.callback_number.as_deref(), Some(UNKNOWN));
        assert_eq!(
            t.deadline_at, None,
            "complaints have no deadline by default"
        );
    }
);

both!(
    overlong_complaints_are_cut_and_transcripts_are_stored_once,
    |app: TestApp| async move {
        let app = transcribing(app).await;
        let mut call = app.sim.start_call(ZHANG, HOTLINE).await.expect("call");
        call.press("1").await.expect("mandarin");
        call.press("5").await.expect("complaints");
        call.record(500).await.expect("a long message");
        assert!(heard(&call).contains("已达到2分钟上限"), "{}", heard(&call));
        let page = app
            .state
            .steps
            .store
            .list_tickets(&hotline::tickets::TicketFilter {
                kind: Some(TicketKind::Complaint),
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("list");
        let t = page.tickets.first().expect("a complaint").clone();
        assert_eq!(t.recording.as_ref().map(|r| r.duration_secs), Some(120));
        assert!(t.account_id.is_some(), "identified by the calling number");
        assert_eq!(
            call.transcribe("The technician never came.")
                .await
                .expect("sent"),
            200
        );
        let t = app
            .state
            .steps
            .store
            .ticket(&t.number)
            .await
            .expect("store")
            .expect("ticket");
        assert_eq!(t.transcript.as_deref(), Some("The technician never came."));
        let history = app
            .state
            .steps
            .store
            .ticket_history(t.id)
            .await
            .expect("history");
        assert_eq!(
            history.iter().filter(|e| e.kind == "transcribed").count(),
            1
        );
    }
);

both!(
    service_information_is_read_from_the_catalog,
    |app: TestApp| async move {
        let mut call = app.sim.start_call(ALICE, HOTLINE).await.expect("call");
        call.press("3").await.expect("information");
        assert!(
            heard(&call).contains("For our prices, press 1"),
            "{}",
            heard(&call)
        );
        assert!(call.accepts_speech());
        call.say("what are your opening hours", 0.8)
            .await
            .expect("hours");
        assert!(heard(&call).contains("24 hours a day"), "{}", heard(&call));
        call.press("1").await.expect("prices");
        assert!(heard(&call).contains("25 yuan a month"), "{}", heard(&call));
        call.press("*").await.expect("menu");
        assert!(
            heard(&call).contains("For your bill, press 1"),
            "{}",
            heard(&call)
        );
    }
);

both!(
    the_running_service_marks_a_breach_when_the_deadline_passes,
    |app: TestApp| async move {
        // A leased-line fault: 4 hours.
        app.clock.set_ms(shanghai(2026, 6, 1, 9, 0));
        let _call = lina_reports(&app, "3").await;
        let t = running_fault(&app, LINA_LEASED).await.expect("opened");
        let deadline = t.deadline_at.expect("a deadline");
        assert_eq!(deadline, shanghai(2026, 6, 1, 13, 0));
        // Nothing happens before the deadline.
        app.clock.set_ms(deadline);
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let t = app
            .state
            .steps
            .store
            .ticket(&t.number)
            .await
            .expect("store")
            .expect("t");
        assert_eq!(t.breached_at, None);
        // Just past it, the background sweeper marks it, dated at the deadline itself.
        app.clock.advance_ms(1);
        let mut marked = None;
        for _ in 0..50 {
            let now = app
                .state
                .steps
                .store
                .ticket(&t.number)
                .await
                .expect("store");
            if let Some(b) = now.and_then(|t| t.breached_at) {
                marked = Some(b);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(
            marked,
            Some(deadline),
            "marked within seconds, at the deadline"
        );
        let history = app
            .state
            .steps
            .store
            .ticket_history(t.id)
            .await
            .expect("history");
        let last = history.last().expect("events");
        assert_eq!(
            (last.kind.as_str(), last.actor.as_str()),
            ("breached", "system")
        );
        assert_eq!(history.iter().filter(|e| e.kind == "breached").count(), 1);
    }
);

both!(
    a_residential_customer_gets_72_hours_on_broadband_and_4_on_a_leased_line,
    |app: TestApp| async move {
        use crate::support::fixtures::{account, line};
        use hotline::customers::{AccountWrite, LineKind};
        app.state
            .steps
            .store
            .put_account(
                &AccountWrite {
                    name: "Wang Fang".into(),
                    language: Some(hotline::prompts::Locale::EnUs),
                    lines: vec![
                        line("+8613800000044", LineKind::Phone),
                        line("BB40000004", LineKind::Broadband),
                        line("LL40000004", LineKind::Leased),
                    ],
                    ..account("40000004", &[])
                },
                START_MS,
            )
            .await
            .expect("account");
        // Tuesday 15:30: the business same-day rule does not apply to her.
        let at = shanghai(2026, 6, 2, 15, 30);
        for (key, number, hours, words) in [
            ("2", "BB40000004", 72, "by 3:30 PM on June 5th"),
            ("3", "LL40000004", 4, "by 7:30 PM today"),
        ] {
            app.clock.set_ms(at);
            let mut call = app
                .sim
                .start_call("+8613800000044", HOTLINE)
                .await
                .expect("call");
            call.press("2").await.expect("faults");
            call.press("1").await.expect("report");
            assert!(
                heard(&call).contains("For the broadband line ending in 0 0 0 4, press 2"),
                "{}",
                heard(&call)
            );
            call.press(key).await.expect("line");
            call.press("4").await.expect("other");
            call.press("1").await.expect("confirm");
            let t = running_fault(&app, number).await.expect("opened");
            assert_eq!(t.deadline_at, Some(at + hours * 3_600_000), "{number}");
            assert!(heard(&call).contains(words), "{words}: {}", heard(&call));
            assert_eq!(t.category.as_deref(), Some("other"));
        }
    }
);
