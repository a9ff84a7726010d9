//! Escalations on SQLite and PostgreSQL: what raises them (a complaint by phone, a breached
//! ticket), ownership under concurrent claims, the rules of reply and close, and the agent
//! accounts and sessions the console signs in with.

use crate::support::app::{Backend, HOUR, START_MS, TestApp, both};
use crate::support::demo::{ALICE, HOTLINE, UNKNOWN};
use crate::support::fixtures;
use crate::support::openapi;
use crate::support::phone::heard;
use hotline::agents::auth::{self, SignIn};
use hotline::agents::{Agent, AgentUpdate, MAX_FAILED_LOGINS, NewAgent, Role};
use hotline::clock::Clock;
use hotline::escalations::service::ActError;
use hotline::escalations::{
    EscAction, EscError, EscFilter, EscalationKind, EscalationState, NewEscalation, ReplyVia,
};
use hotline::lockout::Verdict;
use hotline::prompts::Locale;
use hotline::repo::StoreError;
use hotline::tickets::{NewTicket, Ticket, TicketKind, TicketState};

async fn agent(app: &TestApp, login: &str, role: Role) -> Agent {
    app.state
        .steps
        .store
        .create_agent(
            &NewAgent {
                name: login.to_uppercase(),
                password_hash: hotline::customers::pin::hash_secret(
                    crate::support::console::PASSWORD,
                )
                .expect("hash"),
                ..fixtures::agent(login, role)
            },
            START_MS,
        )
        .await
        .expect("agent")
}

/// A fault reported on Alice's line at `START_MS` (with her number to call back, if asked).
async fn fault_on_alice(app: &TestApp, description: &str, callback: bool) -> Ticket {
    app.state
        .desk
        .open(
            NewTicket {
                line_number: Some(ALICE.into()),
                description: description.into(),
                callback_number: callback.then(|| ALICE.into()),
                ..fixtures::ticket(TicketKind::Fault)
            },
            START_MS,
        )
        .await
        .expect("open")
}

async fn raise(app: &TestApp, source: &str) -> i64 {
    app.state
        .steps
        .store
        .raise_escalation(&NewEscalation::new(
            EscalationKind::Dissatisfied,
            source.into(),
            "answered dissatisfied".into(),
            app.clock.now_ms(),
        ))
        .await
        .expect("store")
        .expect("new")
        .id
}

both!(
    a_complaint_recorded_by_phone_escalates_with_its_links,
    |app: TestApp| async move {
        let mut call = app.sim.start_call(ALICE, HOTLINE).await.expect("call");
        call.press("5").await.expect("complaints");
        call.record(45).await.expect("message");
        let store = &app.state.store;
        let list = store
            .escalations(&EscFilter {
                limit: 10,
                now: app.clock.now_ms(),
                ..EscFilter::default()
            })
            .await
            .expect("list");
        assert_eq!(list.len(), 1, "{list:?}");
        let e = &list[0];
        let alice = store.account_by_line(ALICE).await.expect("store");
        let ticket = store
            .ticket_by_id(e.ticket_id.expect("ticket linked"))
            .await
            .expect("store")
            .expect("ticket");
        assert_eq!(ticket.kind, TicketKind::Complaint);
        assert_eq!(e.kind, EscalationKind::Complaint);
        assert_eq!(e.state, EscalationState::Open);
        assert_eq!(e.account_id, alice.map(|a| a.id));
        assert_eq!(e.call_sid.as_deref(), Some(call.sid()));
        assert_eq!((e.priority, e.due_at), (2, START_MS + 24 * HOUR));
        assert!(e.summary.contains("45 s"), "{}", e.summary);
        let history = store.escalation_history(e.id).await.expect("history");
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].kind, "opened");
        // The call it came from is there to read.
        let rec = store.call(call.sid()).await.expect("store").expect("call");
        assert!(rec.steps.iter().any(|s| s.node == "complaint"), "{rec:?}");
    }
);

both!(
    a_breached_ticket_escalates_once_and_urgently,
    |app: TestApp| async move {
        let desk = &app.state.desk;
        let t = fault_on_alice(&app, "no dial tone", true).await;
        let deadline = t.deadline_at.expect("a deadline");
        let store = &app.state.store;
        let none = store
            .escalation_by_source(&format!("ticket:{}:breached", t.id))
            .await
            .expect("store");
        assert!(none.is_none(), "not before the deadline");
        app.clock.set_ms(deadline + 1);
        // The background sweeper and this sweep may both mark it: one escalation either way.
        desk.sweep().await.expect("sweep");
        desk.sweep().await.expect("sweep again");
        let list = store
            .escalations(&EscFilter {
                ticket_id: Some(t.id),
                limit: 10,
                now: app.clock.now_ms(),
                ..EscFilter::default()
            })
            .await
            .expect("list");
        assert_eq!(list.len(), 1, "{list:?}");
        let e = &list[0];
        assert_eq!(e.kind, EscalationKind::Breached);
        assert_eq!(e.priority, 1);
        assert_eq!(e.due_at, e.created_at + 2 * HOUR);
        assert!(e.created_at > deadline);
        assert_eq!(e.callback_number.as_deref(), Some(ALICE));
    }
);

both!(
    two_agents_claim_at_once_and_one_owns_it,
    |app: TestApp| async move {
        let li = agent(&app, "li", Role::Agent).await;
        let wang = agent(&app, "wang", Role::Agent).await;
        let boss = agent(&app, "zhang", Role::Supervisor).await;
        let id = raise(&app, "test:1").await;
        let esc = &app.state.escalations;
        let (a, b) = tokio::join!(
            esc.act(id, &li, &EscAction::Claim),
            esc.act(id, &wang, &EscAction::Claim)
        );
        let (winner, loser, lost) = match (a, b) {
            (Ok(e), Err(err)) => (e, &wang, err),
            (Err(err), Ok(e)) => (e, &li, err),
            other => panic!("exactly one claim must win: {other:?}"),
        };
        let owner = winner.owner.clone().expect("owner");
        assert_ne!(owner, loser.login);
        assert!(
            matches!(&lost, ActError::Refused(EscError::AlreadyClaimed { owner: o, .. }) if *o == owner),
            "{lost}"
        );
        // The loser cannot work it.
        let reply = EscAction::Reply {
            text: "We refunded the charge".into(),
            via: ReplyVia::Phone,
        };
        let err = esc.act(id, loser, &reply).await.expect_err("not the owner");
        assert!(
            err.to_string().contains(&format!("owned by {owner}")),
            "{err}"
        );
        // A supervisor reassigns it to the loser, with a reason.
        let to_loser = EscAction::Reassign {
            to: loser.login.clone(),
            reason: "owner is off sick".into(),
        };
        let err = esc
            .act(id, loser, &to_loser)
            .await
            .expect_err("agents cannot");
        assert!(matches!(err, ActError::Refused(EscError::NotSupervisor)));
        let unknown = EscAction::Reassign {
            to: "nobody".into(),
            reason: "r".into(),
        };
        assert!(matches!(
            esc.act(id, &boss, &unknown).await,
            Err(ActError::NoSuchAgent(_))
        ));
        let e = esc.act(id, &boss, &to_loser).await.expect("reassign");
        assert_eq!(e.owner.as_deref(), Some(loser.login.as_str()));
        // Closing before a reply is refused and changes nothing.
        let close = EscAction::Close { note: "".into() };
        let err = esc.act(id, loser, &close).await.expect_err("no reply yet");
        assert!(
            err.to_string().contains("reply given to the customer"),
            "{err}"
        );
        let e = esc.act(id, loser, &reply).await.expect("reply");
        assert_eq!(e.state, EscalationState::Replied);
        let e = esc.act(id, loser, &close).await.expect("close");
        assert_eq!(e.state, EscalationState::Closed);
        let kinds: Vec<String> = app
            .state
            .steps
            .store
            .escalation_history(id)
            .await
            .expect("history")
            .into_iter()
            .map(|h| format!("{}:{}", h.kind, h.actor))
            .collect();
        assert_eq!(
            kinds,
            [
                "opened:system".to_string(),
                format!("claimed:{owner}"),
                "reassigned:zhang".into(),
                format!("replied:{}", loser.login),
                format!("closed:{}", loser.login),
            ]
        );
    }
);

both!(
    the_queue_lists_in_order_and_counts_flags,
    |app: TestApp| async move {
        let store = &app.state.store;
        let li = agent(&app, "li", Role::Agent).await;
        let first = raise(&app, "test:first").await;
        app.clock.advance_ms(60_000);
        let urgent = store
            .raise_escalation(&NewEscalation::new(
                EscalationKind::Breached,
                "test:urgent".into(),
                "late".into(),
                app.clock.now_ms(),
            ))
            .await
            .expect("store")
            .expect("new")
            .id;
        // A cause escalates once.
        assert!(
            store
                .raise_escalation(&NewEscalation::new(
                    EscalationKind::Breached,
                    "test:urgent".into(),
                    "again".into(),
                    app.clock.now_ms(),
                ))
                .await
                .expect("store")
                .is_none()
        );
        let mine = raise(&app, "test:mine").await;
        app.state
            .escalations
            .act(mine, &li, &EscAction::Claim)
            .await
            .expect("claim");
        let all = |owner: Option<&str>, overdue: bool| EscFilter {
            owner: owner.map(str::to_string),
            overdue,
            limit: 50,
            now: app.clock.now_ms(),
            ..EscFilter::default()
        };
        let ids: Vec<i64> = store
            .escalations(&all(None, false))
            .await
            .expect("list")
            .iter()
            .map(|e| e.id)
            .collect();
        // Open by priority, then claimed.
        assert_eq!(ids, [urgent, first, mine]);
        let unowned = store
            .escalations(&all(Some(""), false))
            .await
            .expect("list");
        assert_eq!(unowned.len(), 2);
        let lis = store
            .escalations(&all(Some("li"), false))
            .await
            .expect("list");
        assert_eq!(lis.iter().map(|e| e.id).collect::<Vec<_>>(), [mine]);
        // Three hours on, the breach (due in 2 h) is overdue and both open ones unclaimed.
        app.clock.advance_ms(3 * HOUR);
        let now = app.clock.now_ms();
        let overdue = store.escalations(&all(None, true)).await.expect("list");
        assert_eq!(overdue.iter().map(|e| e.id).collect::<Vec<_>>(), [urgent]);
        let counts = store.escalation_counts(now, "li").await.expect("counts");
        assert_eq!(
            (
                counts.open,
                counts.claimed,
                counts.unclaimed,
                counts.overdue,
                counts.mine
            ),
            (2, 1, 2, 1, 1)
        );
    }
);

both!(
    agent_logins_lock_and_sessions_end,
    |app: TestApp| async move {
        let store = &app.state.store;
        let li = agent(&app, "li", Role::Agent).await;
        let dup = store
            .create_agent(
                &NewAgent {
                    name: "Other".into(),
                    locale: Locale::ZhCn,
                    ..fixtures::agent("li", Role::Agent)
                },
                START_MS,
            )
            .await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
        let now = START_MS;
        let sign_in = |password: &'static str, at: i64| {
            let store = store.clone();
            async move {
                let a = store.agent_by_login("li").await.expect("store");
                auth::sign_in(
                    a.as_ref(),
                    password,
                    || store.login_guess(li.id, MAX_FAILED_LOGINS, auth::lock_until(at), at),
                    |n| store.login_right(li.id, n),
                )
                .await
                .expect("store")
            }
        };
        for i in 1..=5 {
            assert_eq!(
                sign_in("wrong password!", now).await,
                SignIn::Refused(Verdict::Wrong),
                "{i}"
            );
        }
        assert_eq!(
            sign_in("correct horse battery", now).await,
            SignIn::Refused(Verdict::Locked)
        );
        let later = now + 16 * 60_000;
        assert_eq!(sign_in("correct horse battery", later).await, SignIn::Ok);
        assert_eq!(
            store
                .agent(li.id)
                .await
                .expect("store")
                .map(|a| a.failed_logins),
            Some(0)
        );

        let (token, session) = auth::new_session(li.id, later, 60 * 60_000);
        store.create_session(&session).await.expect("session");
        let found = store
            .session(&auth::token_hash(&token), later + 1)
            .await
            .expect("store");
        assert_eq!(
            found.map(|(s, a)| (s.csrf, a.login)),
            Some((session.csrf.clone(), "li".into()))
        );
        assert!(
            store
                .session(&auth::token_hash(&token), session.expires_at)
                .await
                .expect("store")
                .is_none(),
            "expired"
        );
        // Deactivation ends every session.
        store
            .update_agent(
                li.id,
                &AgentUpdate {
                    active: Some(false),
                    ..AgentUpdate::default()
                },
                later,
            )
            .await
            .expect("deactivate");
        assert!(
            store
                .session(&auth::token_hash(&token), later + 1)
                .await
                .expect("store")
                .is_none()
        );
        assert_eq!(
            sign_in("correct horse battery", later).await,
            SignIn::Inactive
        );
    }
);

both!(
    back_office_systems_raise_and_read_escalations,
    |app: TestApp| async move {
        let url = format!("{}/api/v1/escalations", app.base);
        let post = |key: Option<&'static str>, body: serde_json::Value| {
            let mut req = app
                .http
                .post(&url)
                .bearer_auth(crate::support::app::API_TOKEN);
            if let Some(k) = key {
                req = req.header("Idempotency-Key", k);
            }
            async move {
                let res = req.json(&body).send().await.expect("request");
                let status = res.status().as_u16();
                let answer = res.json::<serde_json::Value>().await.expect("json");
                openapi::assert_documented("POST", "/api/v1/escalations", status, &answer);
                (status, answer)
            }
        };
        let body = serde_json::json!({
            "kind": "appointment",
            "summary": "customer wants the visit moved to Friday",
            "callback_number": "+86 138 0000 0002",
        });
        let (status, first) = post(Some("crm-42"), body.clone()).await;
        assert_eq!(status, 201, "{first}");
        assert_eq!(first["kind"], "appointment");
        assert_eq!(first["priority"], 1);
        assert_eq!(first["callback_number"], ALICE);
        let (status, again) = post(Some("crm-42"), body.clone()).await;
        assert_eq!((status, &again["id"]), (200, &first["id"]), "{again}");

        let (status, err) = post(None, serde_json::json!({"kind": "urgent", "summary": "x"})).await;
        assert_eq!(status, 422, "{err}");
        assert_eq!(err["field"], "kind");
        let (status, err) = post(None, serde_json::json!({"kind": "complaint"})).await;
        assert_eq!((status, err["field"].as_str()), (422, Some("summary")));
        let (status, err) = post(
            None,
            serde_json::json!({"kind": "complaint", "summary": "x", "ticket": "12345678"}),
        )
        .await;
        assert_eq!((status, err["field"].as_str()), (422, Some("ticket")));

        let (status, list) = app.api_get("/api/v1/escalations?state=open").await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["escalations"].as_array().map(Vec::len), Some(1));
        assert_eq!(list["counts"]["open"], 1);
        let (status, err) = app.api_get("/api/v1/escalations?state=done").await;
        assert_eq!((status, err["field"].as_str()), (400, Some("state")));

        let id = first["id"].as_i64().expect("id");
        let (status, one) = app.api_get(&format!("/api/v1/escalations/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!(one["history"][0]["kind"], "opened");
        assert_eq!(app.api_get("/api/v1/escalations/abc").await.0, 400);
        assert_eq!(app.api_get("/api/v1/escalations/999999").await.0, 404);
        let anonymous = app.http.get(&url).send().await.expect("request");
        assert_eq!(anonymous.status().as_u16(), 401);
    }
);

/// The agent's own phone, which click-to-call rings first.
const AGENT_PHONE: &str = "+8613900000009";

#[tokio::test]
async fn an_agent_calls_the_customer_back_from_the_console() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.callbacks.from_number = Some(HOTLINE.into());
    })
    .await
    .expect("app");
    let store = &app.state.store;
    let li = crate::support::console::add_agent(&app, "li", Role::Agent).await;
    store
        .update_agent(
            li.id,
            &AgentUpdate {
                phone: Some(Some(AGENT_PHONE.into())),
                ..AgentUpdate::default()
            },
            START_MS,
        )
        .await
        .expect("phone");
    let mut e = NewEscalation::new(
        EscalationKind::TransferCallback,
        "call:CA0000000000000000000000000000test".into(),
        "asked for a callback".into(),
        START_MS,
    );
    e.callback_number = Some(ALICE.into());
    let id = store
        .raise_escalation(&e)
        .await
        .expect("store")
        .expect("new")
        .id;
    app.twilio.on(
        AGENT_PHONE,
        hotline::telephony::twilio::fake_api::Behaviour::answer(vec![]),
    );
    let console = crate::support::console::sign_in(&app, "li").await;
    // Not before claiming it: the case is nobody's yet.
    let refused = console
        .post(&format!("/console/escalations/{id}/call"), &[])
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(app.twilio.placed_to(AGENT_PHONE), 0, "nobody was rung");
    console
        .post(&format!("/console/escalations/{id}/claim"), &[])
        .await;
    let called = console
        .post(&format!("/console/escalations/{id}/call"), &[])
        .await;
    assert!(called.status < 400, "{} {}", called.status, called.body);
    app.twilio.wait_idle().await;
    // Twilio rang the agent from the hotline's number, and the agent heard which case it is.
    let calls = app.twilio.calls();
    let leg = calls
        .iter()
        .find(|c| c.to == AGENT_PHONE)
        .expect("the agent's leg");
    assert_eq!(leg.from, HOTLINE);
    let heard = leg.heard.join(" ");
    assert!(!heard.is_empty(), "the agent hears the case first");
    let create = app
        .twilio
        .create_requests()
        .into_iter()
        .find(|r| r.param("To") == Some(AGENT_PHONE))
        .expect("create request");
    assert!(
        create
            .param("Url")
            .is_some_and(|u| u.ends_with(&format!("/twilio/connect?e={id}"))),
        "{create:?}"
    );
    let history = store.escalation_history(id).await.expect("history");
    let call = history
        .iter()
        .find(|h| h.kind == "call")
        .expect("the call is recorded");
    assert_eq!(call.actor, "li");
    assert!(
        call.detail.contains("+86*********02"),
        "masked: {}",
        call.detail
    );
}

both!(
    a_complaint_closes_with_its_case_and_the_caller_hears_it_was_answered,
    |app: TestApp| async move {
        let li = agent(&app, "li", Role::Agent).await;
        let mut call = app.sim.start_call(UNKNOWN, HOTLINE).await.expect("call");
        call.press("1").await.expect("mandarin");
        call.press("5").await.expect("complaints");
        call.record(45).await.expect("message");
        // The caller is told when to expect the reply: the case's due time, a day on.
        let said = heard(&call);
        assert!(said.contains("我们会在明天8点前调查并答复您。"), "{said}");
        call.hang_up().await.expect("hang up");

        let store = &app.state.store;
        let esc = &app.state.escalations;
        let e = store
            .escalations(&EscFilter {
                limit: 10,
                now: app.clock.now_ms(),
                ..EscFilter::default()
            })
            .await
            .expect("list")
            .remove(0);
        let ticket_id = e.ticket_id.expect("the complaint ticket");
        let ticket = |id| async move {
            (store.ticket_by_id(id).await)
                .expect("store")
                .expect("ticket")
        };
        // Whoever claims the case works the complaint.
        esc.act(e.id, &li, &EscAction::Claim).await.expect("claim");
        assert_eq!(ticket(ticket_id).await.assignee.as_deref(), Some("li"));
        let reply = EscAction::Reply {
            text: "refunded the overcharge".into(),
            via: ReplyVia::Phone,
        };
        esc.act(e.id, &li, &reply).await.expect("reply");
        let t = ticket(ticket_id).await;
        assert_eq!(
            t.state,
            TicketState::Assigned,
            "not resolved before the close"
        );
        let closed = esc
            .act(
                e.id,
                &li,
                &EscAction::Close {
                    note: String::new(),
                },
            )
            .await
            .expect("close");
        assert_eq!(closed.state, EscalationState::Closed);
        let t = ticket(ticket_id).await;
        assert_eq!(t.state, TicketState::Resolved, "{t:?}");
        assert_eq!(t.resolution_code.as_deref(), Some("replied"));
        assert_eq!(
            t.resolution_note.as_deref(),
            Some("refunded the overcharge")
        );

        // Asked by phone, the complaint was answered (not "accepted" for ever).
        let mut again = app.sim.start_call(UNKNOWN, HOTLINE).await.expect("call");
        again.press("1").await.expect("mandarin");
        again.press("2").await.expect("faults");
        again.press("2").await.expect("status");
        again
            .press(&format!("{}#", t.number))
            .await
            .expect("number");
        let said = heard(&again);
        assert!(said.contains("投诉，已答复"), "{said}");
    }
);

both!(
    a_faults_case_closes_when_the_fault_is_resolved_and_the_customer_was_told,
    |app: TestApp| async move {
        let li = agent(&app, "li", Role::Agent).await;
        let desk = &app.state.desk;
        let store = &app.state.store;
        let esc = &app.state.escalations;
        let t = fault_on_alice(&app, "no dial tone", false).await;
        app.clock.set_ms(t.deadline_at.expect("deadline") + 1);
        desk.sweep().await.expect("sweep");
        let e = store
            .escalation_by_source(&format!("ticket:{}:breached", t.id))
            .await
            .expect("store")
            .expect("breach escalated");
        esc.act(e.id, &li, &EscAction::Claim).await.expect("claim");
        let reply = EscAction::Reply {
            text: "a technician comes tomorrow".into(),
            via: ReplyVia::Phone,
        };
        esc.act(e.id, &li, &reply).await.expect("reply");
        // Told, but the fault is still there: the case stays open.
        let refused = esc
            .act(
                e.id,
                &li,
                &EscAction::Close {
                    note: String::new(),
                },
            )
            .await
            .expect_err("not while the fault is worked");
        assert!(
            matches!(&refused, ActError::Refused(EscError::TicketActive { number, .. }) if *number == t.number),
            "{refused:?}"
        );
        let resolve = hotline::tickets::Action::Resolve {
            code: "repaired".into(),
            note: "line card replaced".into(),
        };
        desk.change(&t.number, &resolve, "tech-7", None)
            .await
            .expect("resolve");
        let e = store.escalation(e.id).await.expect("store").expect("case");
        assert_eq!(e.state, EscalationState::Closed, "{e:?}");
        let history = store.escalation_history(e.id).await.expect("history");
        let last = history.last().expect("events");
        assert_eq!(
            (last.kind.as_str(), last.actor.as_str()),
            ("closed", "system")
        );
        assert!(last.detail.contains(&t.number), "{last:?}");
    }
);

both!(
    causes_of_one_matter_join_its_open_case_even_when_raised_at_once,
    |app: TestApp| async move {
        let store = &app.state.store;
        let t = fault_on_alice(&app, "slow broadband", false).await;
        let cause = |kind: EscalationKind, answer: &str| {
            let mut e = NewEscalation::new(
                kind,
                format!("followup:77:{answer}"),
                format!("callback 77: {answer}"),
                START_MS + HOUR,
            );
            e.ticket_id = Some(t.id);
            e
        };
        // One survey answer says both "dissatisfied" and "not fixed", raised at once.
        let dissatisfied = cause(EscalationKind::Dissatisfied, "satisfaction:dissatisfied");
        let not_fixed = cause(EscalationKind::NotFixed, "fixed:no");
        let (a, b) = tokio::join!(
            store.raise_escalation(&dissatisfied),
            store.raise_escalation(&not_fixed)
        );
        let (a, b) = (a.expect("store"), b.expect("store"));
        let (a, b) = (a.expect("raised or joined"), b.expect("raised or joined"));
        assert_eq!(a.id, b.id, "one case for one matter");
        let cases = store
            .escalations(&EscFilter {
                ticket_id: Some(t.id),
                limit: 10,
                now: START_MS,
                ..EscFilter::default()
            })
            .await
            .expect("list");
        assert_eq!(cases.len(), 1, "{cases:?}");
        let case = &cases[0];
        // The more urgent of the two: "not fixed" is priority 1, due in 4 hours.
        assert_eq!((case.priority, case.due_at), (1, START_MS + 5 * HOUR));
        let history = store.escalation_history(case.id).await.expect("history");
        let kinds: Vec<&str> = history.iter().map(|h| h.kind.as_str()).collect();
        assert_eq!(kinds, ["opened", "joined"], "{history:?}");
        // The same cause again (a retried write) changes nothing.
        let again = store.raise_escalation(&not_fixed).await.expect("store");
        assert!(again.is_none(), "{again:?}");
        assert_eq!(
            store
                .escalation_history(case.id)
                .await
                .expect("history")
                .len(),
            2
        );
    }
);
