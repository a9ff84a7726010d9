//! End-to-end: live transfer to agents by phone, through the carrier simulator, on SQLite and
//! PostgreSQL. Callers queue for agents while they are open and the wait is short, or are
//! offered a callback (an escalation, once per call) instead; agents hear who is calling before
//! they take them. START_MS is 08:00 on Monday 2026-06-01 in Shanghai: agents (08:00–20:00)
//! have just opened.

use crate::support::app::{Backend, HOUR, START_MS, TestApp, both, both_with, shanghai};
use crate::support::demo::{ALICE, HOTLINE, UNKNOWN, ZHANG};
use crate::support::phone::{form, heard};
use hotline::clock::Clock;
use hotline::escalations::{EscFilter, Escalation, EscalationKind, NewEscalation};
use hotline::prompts::Locale;
use hotline::telephony::twilio::simulator::Call;

/// The number agents call to take callers (its voice URL is `/twilio/agent`).
const AGENT_LINE: &str = "+8610010";
const AGENT_PHONE: &str = "+8613700000009";

async fn escalation_of(app: &TestApp, call: &Call) -> Escalation {
    app.state
        .steps
        .store
        .escalation_by_source(&format!("call:{}", call.sid()))
        .await
        .expect("store")
        .expect("a callback request for the call")
}

async fn callback_requests(app: &TestApp) -> Vec<Escalation> {
    let filter = EscFilter {
        kind: Some(EscalationKind::TransferCallback),
        now: app.clock.now_ms(),
        limit: 50,
        ..EscFilter::default()
    };
    app.state
        .steps
        .store
        .escalations(&filter)
        .await
        .expect("store")
}

async fn account_id(app: &TestApp, account_no: &str) -> i64 {
    app.state
        .steps
        .store
        .account_by_no(account_no)
        .await
        .expect("store")
        .expect("account")
        .id
}

/// Alice reports a fault on her line, then asks for a person from the menu after it.
async fn alice_reports_then_asks_for_a_person(app: &TestApp) -> Call {
    let mut call = app.sim.start_call(ALICE, HOTLINE).await.expect("call");
    call.press("2").await.expect("faults");
    call.press("1").await.expect("report");
    call.press("2").await.expect("noise");
    call.press("1").await.expect("confirm callback number");
    assert!(
        heard(&call).contains("Your fault report number is"),
        "{}",
        heard(&call)
    );
    call.press("0").await.expect("a person");
    call
}

both!(
    a_caller_queues_during_hours_and_the_agent_hears_who_it_is,
    |app: TestApp| async move {
        let mut call = alice_reports_then_asks_for_a_person(&app).await;
        assert_eq!(call.queue(), Some("agents"), "{}", heard(&call));
        let text = heard(&call);
        assert!(text.contains("Connecting you to an agent."), "{text}");
        // The wait URL was requested at once and speaks the place and the wait, once.
        assert!(
            text.contains("You are number 1 in line. The expected wait is about 2 minutes."),
            "{text}"
        );
        assert_eq!(text.matches("number 1 in line").count(), 1, "{text}");
        assert_eq!(text.matches("about 2 minutes").count(), 1, "{text}");
        assert!(text.contains("To be called back instead"), "{text}");
        assert_eq!(
            call.played(),
            [hotline::config::AgentsConfig::default().hold_music]
        );
        // Later Twilio reports a place and the queue's average wait.
        call.wait_in_queue(2, 600, 120).await.expect("wait");
        assert_eq!(
            call.heard()[0],
            "You are number 2 in line. The expected wait is about 8 minutes."
        );
        let store = &app.state.store;
        let waiting = store
            .queue_call(call.sid())
            .await
            .expect("store")
            .expect("recorded");
        assert_eq!(waiting.position, 2);
        assert_eq!(waiting.expected_secs, 480);
        assert_eq!(waiting.locale, "en-US");
        assert_eq!(waiting.account_id, Some(account_id(&app, "20000002").await));

        // An agent calls the agent line from their phone and hears about Alice first.
        app.create_agent("li.ming", AGENT_PHONE, Locale::EnUs).await;
        let agent = app
            .sim
            .start_call_at("/twilio/agent", AGENT_PHONE, AGENT_LINE)
            .await
            .expect("agent call");
        let whisper = heard(&agent);
        assert!(
            whisper.contains("Caller Alice Smith, account 2 0 0 0 0 0 0 2."),
            "{whisper}"
        );
        assert!(
            whisper.contains("In the menu: fault report, then asked for a person."),
            "{whisper}"
        );
        let ticket = store
            .active_ticket_on_line(ALICE, hotline::tickets::TicketKind::Fault)
            .await
            .expect("store")
            .expect("the fault just reported");
        let spoken: Vec<String> = ticket.number.chars().map(String::from).collect();
        assert!(
            whisper.contains(&format!(
                "Open fault report {}, open, promised",
                spoken.join(" ")
            )),
            "{whisper}"
        );
        assert_eq!(agent.transferred_to(), Some("agents"));
        assert_eq!(agent.dequeued_heard(), ["Connecting you to an agent now."]);
        let offered = store
            .queue_call(call.sid())
            .await
            .expect("store")
            .expect("queued");
        assert_eq!(offered.offered_to.as_deref(), Some(agent.sid()));

        // Nobody else waits: a second agent call hears so, and silence ends it.
        let mut again = app
            .sim
            .start_call_at("/twilio/agent", AGENT_PHONE, AGENT_LINE)
            .await
            .expect("agent call");
        assert!(
            heard(&again).contains("No callers are waiting. To check again, press 1."),
            "{}",
            heard(&again)
        );
        again.silence().await.expect("silence");
        assert!(again.has_ended());

        // The agent took the call; when it is over the caller's call ends.
        call.leave_queue("bridged").await.expect("bridged");
        assert!(call.has_ended());
        let left = store
            .queue_call(call.sid())
            .await
            .expect("store")
            .expect("queued");
        assert_eq!(left.result.as_deref(), Some("bridged"));
        assert!(
            callback_requests(&app).await.is_empty(),
            "a caller who was served asks for no callback"
        );
    }
);

both!(
    after_hours_a_caller_chooses_a_callback_once,
    |app: TestApp| async move {
        app.clock.set_ms(shanghai(2026, 6, 1, 21, 0));
        let mut call = app.sim.start_call(ZHANG, HOTLINE).await.expect("call");
        call.press("1").await.expect("mandarin");
        call.press("0").await.expect("a person");
        let offer = heard(&call);
        assert!(offer.contains("人工服务将于明天8点恢复"), "{offer}");
        assert!(
            offer.contains("如需我们回电至1 3 8，0 0 0 0，0 0 0 1，请按1。"),
            "{offer}"
        );
        assert!(
            !offer.contains("排队顺序"),
            "after hours nobody has a place in line to keep: {offer}"
        );
        assert!(!offer.contains("继续等待请按2"), "{offer}");
        assert_eq!(call.queue(), None, "not queued while agents are closed");
        call.press("1").await.expect("callback");
        assert!(
            heard(&call).contains("我们将在明天9点前回电至1 3 8，0 0 0 0，0 0 0 1"),
            "{}",
            heard(&call)
        );
        assert!(call.has_ended());

        let e = escalation_of(&app, &call).await;
        assert_eq!(e.kind, EscalationKind::TransferCallback);
        assert_eq!(e.priority, 1);
        assert_eq!(e.callback_number.as_deref(), Some(ZHANG));
        assert_eq!(e.due_at, shanghai(2026, 6, 2, 8, 0) + HOUR);
        assert_eq!(e.call_sid.as_deref(), Some(call.sid()));
        assert_eq!(e.account_id, Some(account_id(&app, "10000001").await));
        assert_eq!(e.queued_at, shanghai(2026, 6, 1, 21, 0));
        assert!(e.summary.contains("agents were closed"), "{}", e.summary);

        // Twilio retries the last step: the same answer, and still one request.
        let replay = call.replay_last().await.expect("replay");
        assert!(replay.contains("明天9点前"), "{replay}");
        assert_eq!(callback_requests(&app).await.len(), 1);
    }
);

both_with!(
    a_long_wait_offers_a_callback_or_holding,
    |c: &mut hotline::config::Config| c.agents.max_wait_secs = 60,
    |app: TestApp| async move {
        let mut call = app.sim.start_call(ALICE, HOTLINE).await.expect("call");
        call.press("0").await.expect("a person");
        let offer = heard(&call);
        assert!(
            offer.contains("All our agents are busy. The expected wait is about 2 minutes."),
            "{offer}"
        );
        assert!(offer.contains("To hold anyway, press 2"), "{offer}");
        assert_eq!(call.queue(), None);
        call.press("2").await.expect("hold anyway");
        assert_eq!(call.queue(), Some("agents"), "{}", heard(&call));

        // Another caller gets the same offer and takes the callback.
        let mut other = app.sim.start_call(ZHANG, HOTLINE).await.expect("call");
        other.press("1").await.expect("mandarin");
        other.press("0").await.expect("a person");
        assert!(heard(&other).contains("坐席全忙"), "{}", heard(&other));
        other.press("1").await.expect("callback");
        let e = escalation_of(&app, &other).await;
        assert_eq!(
            e.due_at,
            START_MS + HOUR,
            "agents are open: within the hour"
        );
        assert!(e.summary.contains("expected wait"), "{}", e.summary);
    }
);

both!(
    pressing_1_while_waiting_leaves_with_the_place_kept,
    |app: TestApp| async move {
        let mut call = app.sim.start_call(ZHANG, HOTLINE).await.expect("call");
        call.press("1").await.expect("mandarin");
        call.press("0").await.expect("a person");
        assert_eq!(call.queue(), Some("agents"));
        let entered = app.clock.now_ms();

        // The wait document's answer to 1 is <Leave/>.
        let (status, _, body) = app
            .sim
            .signed_post(
                "/twilio/queue/wait?l=zh&g=1",
                &form(&[("CallSid", call.sid()), ("From", ZHANG), ("Digits", "1")]),
            )
            .await
            .expect("post");
        assert_eq!(status, 200);
        hotline::telephony::twilio::validate::validate(&body).expect("valid TwiML");
        assert!(body.contains("<Leave/>"), "{body}");

        app.clock.advance_ms(5 * 60_000);
        call.wait_in_queue(1, 0, 300).await.expect("still waiting");
        assert!(
            heard(&call).contains("如需改为由我们回电，请按1"),
            "{}",
            heard(&call)
        );
        call.press("1").await.expect("leave for a callback");
        assert!(
            heard(&call).contains("回电至1 3 8，0 0 0 0，0 0 0 1"),
            "{}",
            heard(&call)
        );
        assert!(call.has_ended());
        let e = escalation_of(&app, &call).await;
        assert_eq!(e.queued_at, entered, "the caller keeps their place in line");
        assert_eq!(e.due_at, entered + 5 * 60_000 + HOUR);
        assert!(
            e.summary.contains("left the agent queue after 5 min"),
            "{}",
            e.summary
        );
        let left = app
            .state
            .steps
            .store
            .queue_call(call.sid())
            .await
            .expect("store")
            .expect("queued");
        assert_eq!(left.result.as_deref(), Some("leave"));
        assert!(left.left_at.is_some());
    }
);

both!(
    a_failed_queue_offers_a_callback,
    |app: TestApp| async move {
        let mut call = app.sim.start_call(ALICE, HOTLINE).await.expect("call");
        call.press("0").await.expect("a person");
        call.leave_queue("queue-full").await.expect("queue full");
        let text = heard(&call);
        assert!(text.contains("we could not keep you on hold"), "{text}");
        assert!(
            text.contains(
                "To be called back at 1 3 8, 0 0 0 0, 0 0 0 2, keeping your place in line"
            ),
            "{text}"
        );
        call.press("1").await.expect("callback");
        let e = escalation_of(&app, &call).await;
        assert_eq!(e.callback_number.as_deref(), Some(ALICE));
    }
);

both!(
    unsigned_requests_to_the_agent_webhooks_are_refused,
    |app: TestApp| async move {
        let sid = "CA00000000000000000000000000000077";
        let params = form(&[
            ("CallSid", sid),
            ("From", AGENT_PHONE),
            ("To", AGENT_LINE),
            ("QueuePosition", "1"),
            ("Digits", "1"),
        ]);
        for path in [
            "/twilio/queue/wait?l=zh",
            "/twilio/queue/wait?l=zh&g=1",
            "/twilio/queue/bridge?l=zh",
            "/twilio/agent",
            "/twilio/whisper?call=CA00000000000000000000000000000001",
            "/twilio/connect?e=1",
        ] {
            let (status, _, _) = app.sim.unsigned_post(path, &params).await.expect("post");
            assert_eq!(status, 403, "{path}");
            let (status, _, _) = app
                .sim
                .post_with_signature(path, &params, "bm90IGEgc2lnbmF0dXJl")
                .await
                .expect("post");
            assert_eq!(status, 403, "{path}");
        }
        let store = &app.state.store;
        assert!(store.queue_call(sid).await.expect("store").is_none());
        assert!(store.queue_waiting(0).await.expect("store").is_empty());
    }
);

both_with!(
    dial_mode_whispers_the_caller_to_the_answering_agent,
    |c: &mut hotline::config::Config| {
        c.agents.transfer = hotline::agents::TransferMode::Dial;
        c.agent_number = Some("+8610010000".into());
    },
    |app: TestApp| async move {
        let mut call = app.sim.start_call(ZHANG, HOTLINE).await.expect("call");
        call.press("1").await.expect("mandarin");
        call.press("1").await.expect("bill");
        call.press("0").await.expect("a person");
        assert_eq!(call.transferred_to(), Some("+8610010000"));
        let whisper = call.agent_heard().join(" ");
        assert!(
            whisper.contains("来电客户张伟，账号1 0 0 0 0 0 0 1。"),
            "in the default language, the agent being unknown: {whisper}"
        );
        assert!(whisper.contains("查询账单，然后要求转人工"), "{whisper}");
        assert!(call.has_ended(), "answered, then goodbye");

        // The whisper URL itself answers only what an agent's leg may hear.
        let (status, _, body) = app
            .sim
            .signed_post(
                &format!("/twilio/whisper?call={}", call.sid()),
                &form(&[
                    ("CallSid", "CA00000000000000000000000000000088"),
                    ("To", "+8610010000"),
                ]),
            )
            .await
            .expect("post");
        assert_eq!(status, 200);
        hotline::telephony::twilio::validate::validate(&body).expect("valid TwiML");
        assert!(
            body.contains("来电客户张伟") && !body.contains("<Dial"),
            "{body}"
        );
    }
);

both!(
    a_stranger_on_the_agent_line_is_refused,
    |app: TestApp| async move {
        // Someone waits, but only agents may take them.
        let mut waiting = app.sim.start_call(ALICE, HOTLINE).await.expect("call");
        waiting.press("0").await.expect("a person");
        let stranger = app
            .sim
            .start_call_at("/twilio/agent", UNKNOWN, AGENT_LINE)
            .await
            .expect("call");
        assert!(
            heard(&stranger).contains("此线路仅供客服人员使用"),
            "{}",
            heard(&stranger)
        );
        assert!(stranger.has_ended());
        assert_eq!(stranger.transferred_to(), None);
        let q = app
            .state
            .steps
            .store
            .queue_call(waiting.sid())
            .await
            .expect("store")
            .expect("queued");
        assert_eq!(q.offered_to, None, "nobody was offered to the stranger");
    }
);

both_with!(
    click_to_call_whispers_the_case_then_dials_the_customer,
    |c: &mut hotline::config::Config| c.callbacks.from_number = Some(HOTLINE.into()),
    |app: TestApp| async move {
        app.create_agent("li.ming", AGENT_PHONE, Locale::EnUs).await;
        let store = &app.state.store;
        let mut e = NewEscalation::new(
            EscalationKind::TransferCallback,
            "call:CA00000000000000000000000000000099".into(),
            "Callback instead of holding (agents were closed).".into(),
            START_MS,
        );
        e.account_id = Some(account_id(&app, "20000002").await);
        e.callback_number = Some(ALICE.into());
        let e = store
            .raise_escalation(&e)
            .await
            .expect("store")
            .expect("raised");
        let agent = app
            .sim
            .start_call_at(
                &hotline::telephony::twilio::paths::relative(&hotline::telephony::NextStep::new(
                    hotline::telephony::Hook::Connect,
                    format!("e={}", e.id),
                )),
                HOTLINE,
                AGENT_PHONE,
            )
            .await
            .expect("agent answers");
        let text = heard(&agent);
        assert!(
            text.contains(
                "Callback case, callback request: Alice Smith. Callback instead of holding"
            ),
            "{text}"
        );
        assert_eq!(agent.transferred_to(), Some(ALICE));
        assert_eq!(agent.dial_caller_id(), Some(HOTLINE));

        // A case without a number says so and hangs up.
        let mut none = NewEscalation::new(
            EscalationKind::Complaint,
            "ticket:1:complaint".into(),
            "complaint recorded by phone".into(),
            START_MS,
        );
        none.callback_number = None;
        let none = store
            .raise_escalation(&none)
            .await
            .expect("store")
            .expect("raised");
        let agent = app
            .sim
            .start_call_at(
                &format!("/twilio/connect?e={}", none.id),
                HOTLINE,
                AGENT_PHONE,
            )
            .await
            .expect("agent answers");
        assert!(
            heard(&agent).contains("This case has no number to call back"),
            "{}",
            heard(&agent)
        );
        assert_eq!(agent.transferred_to(), None);
        assert!(agent.has_ended());
    }
);
