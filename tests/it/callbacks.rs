//! End-to-end: satisfaction callbacks and campaigns through a local server that plays
//! Twilio's Calls API (form bodies, basic auth, its JSON and error codes) and the calls it
//! places, on SQLite and PostgreSQL. The dialer runs when the test says, at the fake clock's
//! time; nothing sleeps.

use crate::support::app::{Backend, HOUR, MINUTE, START_MS, TestApp, both, both_with};
use crate::support::callbacks::{dial, resolved, running};
use crate::support::demo::ALICE;
use crate::support::fixtures::{callback, campaign};
use hotline::callbacks::{
    AttemptState, Callback, CallbackState, Campaign, CampaignState, NewCallback, NewCampaign,
};
use hotline::clock::Clock;
use hotline::customers::LineKind;
use hotline::prompts::Locale;
use hotline::surveys::script::Purpose;
use hotline::telephony::AnsweredBy;
use hotline::telephony::twilio::fake_api::{Action, Behaviour};
use hotline::tickets::{Action as TicketAction, Ticket, TicketKind};

/// The standing satisfaction campaign: two hours after a resolution.
async fn standing_campaign(app: &TestApp) -> Campaign {
    let c = NewCampaign {
        standing: true,
        delay_minutes: 120,
        ..campaign("after repairs", Purpose::Satisfaction)
    };
    running(app, c).await
}

/// A fault on Alice's phone line, resolved an hour after it was reported.
async fn resolved_fault(app: &TestApp) -> Ticket {
    resolved(app, TicketKind::Fault, LineKind::Phone).await
}

async fn only_callback(app: &TestApp, campaign: &Campaign) -> Callback {
    let all = app
        .state
        .steps
        .store
        .campaign_callbacks(campaign.id, 0, 10)
        .await
        .expect("callbacks");
    assert_eq!(all.len(), 1, "{all:?}");
    all[0].clone()
}

async fn ledger_kinds(app: &TestApp, id: i64) -> Vec<String> {
    app.state
        .steps
        .store
        .ledger(id)
        .await
        .expect("ledger")
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

both!(
    a_resolved_fault_is_called_back_two_hours_later_and_the_answers_are_stored,
    |app: TestApp| async move {
        let campaign = standing_campaign(&app).await;
        let ticket = resolved_fault(&app).await;
        // The service follows the feed in the background too: however often it is read,
        // one callback is owed.
        app.state.feed.catch_up().await.expect("feed");
        app.state.feed.catch_up().await.expect("again");
        let cb = only_callback(&app, &campaign).await;
        assert_eq!(cb.due_at, ticket.resolved_at.expect("resolved") + 2 * HOUR);
        assert_eq!(cb.to_number, ALICE);
        assert_eq!(cb.locale, Locale::EnUs);

        // Not before it is due.
        assert_eq!(dial(&app).await.claimed, 0);
        assert_eq!(app.twilio.placed_to(ALICE), 0);

        app.twilio.on(
            ALICE,
            Behaviour::answer(vec![
                Action::Press("1".into()),
                Action::Press("1".into()),
                Action::Record(0),
            ]),
        );
        app.clock.set_ms(cb.due_at);
        let round = dial(&app).await;
        assert_eq!((round.claimed, round.placed), (1, 1));
        assert_eq!(app.twilio.placed_to(ALICE), 1);
        let call = app.twilio.calls().pop().expect("a call");
        let heard = call.heard.join(" ");
        assert!(heard.contains("About your June 1st repair"), "{heard}");
        assert!(heard.contains("Thank you for your feedback"), "{heard}");

        let cb = app
            .state
            .steps
            .store
            .callback(cb.id)
            .await
            .expect("store")
            .expect("cb");
        assert_eq!(cb.state, CallbackState::Done);
        assert_eq!(cb.outcome.as_deref(), Some("reached"));
        assert_eq!(cb.attempts, 1);
        assert_eq!(
            ledger_kinds(&app, cb.id).await,
            ["queued", "dialing", "placed", "ended", "done"]
        );
        let answers = app.state.store.answers(cb.id).await.expect("answers");
        let got: Vec<(&str, &str)> = answers
            .iter()
            .map(|a| (a.question.as_str(), a.answer.as_str()))
            .collect();
        assert_eq!(got, [("satisfaction", "very"), ("fixed", "yes")]);
        // The call is in the history like any other, with its steps.
        let rec = app
            .state
            .steps
            .store
            .call(&call.sid)
            .await
            .expect("store")
            .expect("call");
        assert_eq!(rec.direction, "outbound-api");
        assert_eq!(rec.status, "completed");
        assert!(rec.steps.len() >= 3, "{:?}", rec.steps);
        // Nothing more is owed.
        assert_eq!(dial(&app).await.claimed, 0);
        assert_eq!(app.twilio.placed_to(ALICE), 1);
    }
);

both!(
    a_ticket_reopened_before_the_call_cancels_it,
    |app: TestApp| async move {
        let campaign = standing_campaign(&app).await;
        let ticket = resolved_fault(&app).await;
        app.state.feed.catch_up().await.expect("feed");
        app.state
            .steps
            .desk
            .change(
                &ticket.number,
                &TicketAction::Reopen {
                    reason: "still noisy".into(),
                },
                "crm",
                None,
            )
            .await
            .expect("reopen");
        app.state.feed.catch_up().await.expect("feed");
        let cb = only_callback(&app, &campaign).await;
        assert_eq!(cb.state, CallbackState::Cancelled);
        let ledger = app.state.store.ledger(cb.id).await.expect("ledger");
        assert!(ledger[1].detail.contains("was reopened"), "{ledger:?}");
        app.clock.advance_ms(3 * HOUR);
        assert_eq!(dial(&app).await.claimed, 0);
        assert_eq!(app.twilio.placed_to(ALICE), 0);
    }
);

both!(
    no_answer_is_retried_per_the_policy_and_then_reached,
    |app: TestApp| async move {
        let campaign = standing_campaign(&app).await;
        resolved_fault(&app).await;
        app.state.feed.catch_up().await.expect("feed");
        let cb = only_callback(&app, &campaign).await;
        app.twilio.on(ALICE, Behaviour::NoAnswer);
        app.clock.set_ms(cb.due_at);
        dial(&app).await;
        let after = app
            .state
            .steps
            .store
            .callback(cb.id)
            .await
            .expect("store")
            .expect("cb");
        assert_eq!(after.state, CallbackState::Pending);
        assert_eq!(after.attempts, 1);
        assert_eq!(after.due_at, cb.due_at + HOUR, "no answer: an hour later");
        // Not before then.
        app.clock.advance_ms(HOUR - 1);
        assert_eq!(dial(&app).await.claimed, 0);
        app.twilio.on(
            ALICE,
            Behaviour::answer(vec![Action::Press("2".into()), Action::Press("1".into())]),
        );
        app.clock.advance_ms(1);
        dial(&app).await;
        let done = app
            .state
            .steps
            .store
            .callback(cb.id)
            .await
            .expect("store")
            .expect("cb");
        assert_eq!((done.state, done.attempts), (CallbackState::Done, 2));
        assert_eq!(app.twilio.placed_to(ALICE), 2);
        let attempts = app
            .state
            .steps
            .store
            .attempts(cb.id)
            .await
            .expect("attempts");
        let outcomes: Vec<_> = attempts.iter().map(|a| a.outcome.as_deref()).collect();
        assert_eq!(outcomes, [Some("no_answer"), Some("answered")]);
    }
);

both!(
    a_dissatisfied_customer_leaves_follow_ups_and_a_comment,
    |app: TestApp| async move {
        let campaign = standing_campaign(&app).await;
        resolved_fault(&app).await;
        app.state.feed.catch_up().await.expect("feed");
        let cb = only_callback(&app, &campaign).await;
        app.twilio.on(
            ALICE,
            Behaviour::answer(vec![
                Action::Press("3".into()),
                Action::Press("2".into()),
                Action::Record(12),
            ]),
        );
        app.clock.set_ms(cb.due_at);
        dial(&app).await;
        let followups = app
            .state
            .steps
            .store
            .followups(10)
            .await
            .expect("follow-ups");
        let kinds: Vec<&str> = followups.iter().map(|f| f.kind.as_str()).collect();
        assert_eq!(kinds, ["satisfaction:dissatisfied", "fixed:no"]);
        assert!(
            followups
                .iter()
                .all(|f| f.ticket_id.is_some() && f.callback_id == cb.id)
        );
        let answers = app.state.store.answers(cb.id).await.expect("answers");
        let got: Vec<&str> = answers.iter().map(|a| a.question.as_str()).collect();
        assert_eq!(got, ["satisfaction", "fixed", "comment"]);
        // The follow-ups are one customer matter: the first opens a case for people, linked to
        // the customer, the ticket, the survey call and the answer; the second joins it and
        // makes it as urgent as "not fixed" is.
        let attempts = app
            .state
            .steps
            .store
            .attempts(cb.id)
            .await
            .expect("attempts");
        let call = attempts[0].provider_call_id.clone();
        let mut cases = Vec::new();
        for answer in ["satisfaction:dissatisfied", "fixed:no"] {
            let e = app
                .state
                .steps
                .store
                .escalation_by_source(&format!("followup:{}:{answer}", cb.id))
                .await
                .expect("store")
                .expect("escalated");
            assert_eq!(e.kind.as_str(), "dissatisfied");
            assert_eq!((e.priority, e.due_at - e.created_at), (1, 4 * HOUR));
            assert_eq!(e.answer.as_deref(), Some("satisfaction:dissatisfied"));
            assert_eq!((e.callback_id, e.ticket_id), (Some(cb.id), cb.ticket_id));
            assert_eq!(e.account_id, cb.account_id);
            assert_eq!(e.callback_number.as_deref(), Some(ALICE));
            assert_eq!(e.call_sid, call);
            cases.push(e.id);
        }
        assert_eq!(cases[0], cases[1], "one case for the customer's matter");
        let history = app
            .state
            .store
            .escalation_history(cases[0])
            .await
            .expect("history");
        let joined = history.iter().find(|h| h.kind == "joined").expect("joined");
        assert!(joined.detail.starts_with("not_fixed: "), "{joined:?}");

        // The callback's page links its ticket and its case, and says why it was called.
        crate::support::console::add_agent(&app, "amy", hotline::agents::Role::Agent).await;
        let c = crate::support::console::sign_in(&app, "amy").await;
        let page = c.get(&format!("/console/callbacks/{}", cb.id)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let ticket = (app.state.store.ticket_by_id(cb.ticket_id.expect("ticket")))
            .await
            .expect("store")
            .expect("ticket");
        for link in [
            format!("href=\"/console/tickets/{}\"", ticket.number),
            format!("href=\"/console/escalations/{}\"", cases[0]),
        ] {
            assert!(page.body.contains(&link), "{link}: {}", page.body);
        }
        assert!(page.body.contains("id=\"cb-state\">done<"), "{}", page.body);
        assert!(page.body.contains("id=\"cb-why\">Done ("), "{}", page.body);
        assert!(answers[2].answer.contains("/Recordings/RE"), "{answers:?}");
    }
);

both!(
    a_customer_never_reached_goes_to_people,
    |app: TestApp| async move {
        let campaign = standing_campaign(&app).await;
        resolved_fault(&app).await;
        app.state.feed.catch_up().await.expect("feed");
        let cb = only_callback(&app, &campaign).await;
        app.twilio.on(ALICE, Behaviour::NoAnswer);
        let store = &app.state.store;
        let mut now = store.callback(cb.id).await.expect("store").expect("cb");
        for _ in 0..20 {
            if now.state == CallbackState::Done {
                break;
            }
            app.clock.set_ms(now.due_at.max(app.clock.now_ms()));
            dial(&app).await;
            now = store.callback(cb.id).await.expect("store").expect("cb");
        }
        assert_eq!(now.state, CallbackState::Done, "{now:?}");
        let e = store
            .escalation_by_source(&format!("followup:{}:exhausted", cb.id))
            .await
            .expect("store")
            .expect("escalated");
        assert_eq!(e.kind.as_str(), "unreached");
        assert_eq!((e.priority, e.due_at - e.created_at), (3, 48 * HOUR));
        assert_eq!((e.ticket_id, e.answer.as_deref()), (cb.ticket_id, None));
        assert!(e.summary.contains("could not reach"), "{}", e.summary);
    }
);

both!(nine_means_do_not_call_again, |app: TestApp| async move {
    let campaign = standing_campaign(&app).await;
    resolved_fault(&app).await;
    app.state.feed.catch_up().await.expect("feed");
    let cb = only_callback(&app, &campaign).await;
    app.twilio
        .on(ALICE, Behaviour::answer(vec![Action::Press("9".into())]));
    app.clock.set_ms(cb.due_at);
    dial(&app).await;
    let heard = app.twilio.calls().pop().expect("call").heard.join(" ");
    assert!(
        heard.contains("We will not call you for surveys again"),
        "{heard}"
    );
    assert!(
        app.state
            .steps
            .store
            .is_opted_out(ALICE)
            .await
            .expect("store")
    );
    assert!(
        ledger_kinds(&app, cb.id)
            .await
            .contains(&"opted_out".to_string())
    );

    // A later callback to the same number is not dialed, and says why.
    let later = callback(campaign.id, "list:1", ALICE, app.clock.now_ms());
    let ids = app
        .state
        .steps
        .store
        .queue_callbacks(&[later], app.clock.now_ms())
        .await
        .expect("queue");
    let id = ids[0].expect("queued");
    dial(&app).await;
    let cb2 = app
        .state
        .steps
        .store
        .callback(id)
        .await
        .expect("store")
        .expect("cb");
    assert_eq!(cb2.outcome.as_deref(), Some("opted_out"));
    let ledger = app.state.store.ledger(id).await.expect("ledger");
    assert!(
        ledger
            .last()
            .expect("ledger")
            .detail
            .contains("not to be called"),
        "{ledger:?}"
    );
    assert_eq!(app.twilio.placed_to(ALICE), 1);
});

both!(
    carrier_refusals_end_or_delay_the_callback_as_they_should,
    |app: TestApp| async move {
        let campaign = standing_campaign(&app).await;
        resolved_fault(&app).await;
        app.state.feed.catch_up().await.expect("feed");
        let cb = only_callback(&app, &campaign).await;
        app.clock.set_ms(cb.due_at);
        // Too many requests: not an attempt, tried again a minute later.
        app.twilio.on(
            ALICE,
            Behaviour::RestError {
                status: 429,
                code: 20429,
                message: "Too many requests".into(),
                retry_after_secs: Some(30),
            },
        );
        dial(&app).await;
        let after = app
            .state
            .steps
            .store
            .callback(cb.id)
            .await
            .expect("store")
            .expect("cb");
        assert_eq!((after.state, after.attempts), (CallbackState::Pending, 0));
        assert_eq!(after.due_at, cb.due_at + 60_000);
        // An invalid number: done for good, and the ledger says why.
        app.twilio.on(
            ALICE,
            Behaviour::rest_error(400, 21211, "The 'To' number is not a valid phone number."),
        );
        app.clock.advance_ms(60_000);
        dial(&app).await;
        let done = app
            .state
            .steps
            .store
            .callback(cb.id)
            .await
            .expect("store")
            .expect("cb");
        assert_eq!(done.outcome.as_deref(), Some("rejected"));
        let ledger = app.state.store.ledger(cb.id).await.expect("ledger");
        assert!(
            ledger.iter().any(|e| e.detail.contains("21211")),
            "{ledger:#?}"
        );
    }
);

both!(
    an_unclear_request_is_reconciled_before_anyone_is_dialed_again,
    |app: TestApp| async move {
        let campaign = standing_campaign(&app).await;
        resolved_fault(&app).await;
        app.state.feed.catch_up().await.expect("feed");
        let cb = only_callback(&app, &campaign).await;
        app.clock.set_ms(cb.due_at);
        // The carrier places the call, but its answer never arrives, and neither do its status
        // reports (lost on the way): only asking the carrier can settle it.
        app.twilio.on(
            ALICE,
            Behaviour::PlaceThenDrop(Box::new(Behaviour::NoAnswer)),
        );
        app.twilio.callbacks_twice(false);
        app.twilio.lose_status_callbacks(ALICE);
        let round = app.state.callbacks.round().await.expect("round");
        assert_eq!(round.placed, 1);
        let attempts = app
            .state
            .steps
            .store
            .attempts(cb.id)
            .await
            .expect("attempts");
        assert_eq!(attempts[0].state, hotline::callbacks::AttemptState::Unclear);
        // Rounds while it is unclear dial nobody.
        for _ in 0..3 {
            app.clock.advance_ms(30_000);
            app.state.callbacks.round().await.expect("round");
        }
        app.twilio.wait_idle().await;
        assert_eq!(app.twilio.placed_to(ALICE), 1);
        // Past the grace period the reconciler finds the call and settles it as the no-answer
        // it was, without dialing anyone again.
        app.clock.advance_ms(60_000);
        dial(&app).await;
        let attempts = app
            .state
            .steps
            .store
            .attempts(cb.id)
            .await
            .expect("attempts");
        assert_eq!(attempts.len(), 1, "{attempts:#?}");
        assert_eq!(attempts[0].outcome.as_deref(), Some("no_answer"));
        assert!(attempts[0].provider_call_id.is_some());
    }
);

both!(
    a_request_that_never_reached_the_carrier_is_dialed_again_once,
    |app: TestApp| async move {
        let campaign = standing_campaign(&app).await;
        resolved_fault(&app).await;
        app.state.feed.catch_up().await.expect("feed");
        let cb = only_callback(&app, &campaign).await;
        app.clock.set_ms(cb.due_at);
        app.twilio.on(ALICE, Behaviour::Hang);
        dial(&app).await;
        assert_eq!(app.twilio.placed_to(ALICE), 0);
        // Reconciled after the grace period: the carrier has no such call.
        app.twilio.on(
            ALICE,
            Behaviour::answer(vec![Action::Press("1".into()), Action::Press("1".into())]),
        );
        app.clock.advance_ms(61_000);
        dial(&app).await;
        app.clock.advance_ms(61_000);
        dial(&app).await;
        let done = app
            .state
            .steps
            .store
            .callback(cb.id)
            .await
            .expect("store")
            .expect("cb");
        assert_eq!(
            done.outcome.as_deref(),
            Some("reached"),
            "{:#?}",
            app.state.store.ledger(cb.id).await
        );
        assert_eq!(done.attempts, 1, "the attempt never placed does not count");
        assert_eq!(app.twilio.placed_to(ALICE), 1);
        let kinds = ledger_kinds(&app, cb.id).await;
        assert!(kinds.contains(&"unclear".to_string()), "{kinds:?}");
    }
);

both!(
    repeated_and_reversed_status_reports_leave_the_ledger_right,
    |app: TestApp| async move {
        let campaign = standing_campaign(&app).await;
        resolved_fault(&app).await;
        app.state.feed.catch_up().await.expect("feed");
        let cb = only_callback(&app, &campaign).await;
        app.clock.set_ms(cb.due_at);
        app.twilio.callbacks_twice(true);
        app.twilio.callbacks_reversed(true);
        app.twilio.on(ALICE, Behaviour::Busy);
        dial(&app).await;
        let kinds = ledger_kinds(&app, cb.id).await;
        assert_eq!(kinds, ["queued", "dialing", "placed", "ended", "retry"]);
        let after = app
            .state
            .steps
            .store
            .callback(cb.id)
            .await
            .expect("store")
            .expect("cb");
        assert_eq!(after.attempts, 1);
        assert_eq!(
            after.due_at,
            cb.due_at + 15 * 60_000,
            "busy: 15 minutes later"
        );
    }
);

both!(
    calls_wait_for_the_window_in_the_customers_zone,
    |app: TestApp| async move {
        let campaign = standing_campaign(&app).await;
        let store = &app.state.store;
        // 21:30 in Shanghai on a Wednesday: after the 09:00–20:00 window.
        let now = START_MS + 2 * 24 * HOUR + 13 * HOUR + 30 * 60_000;
        app.clock.set_ms(now);
        let ids = store
            .queue_callbacks(&[callback(campaign.id, "list:late", ALICE, now)], now)
            .await
            .expect("queue");
        let id = ids[0].expect("queued");
        dial(&app).await;
        assert_eq!(app.twilio.placed_to(ALICE), 0);
        let cb = store.callback(id).await.expect("store").expect("cb");
        // 09:00 the next morning in Shanghai is 01:00 UTC.
        assert_eq!(cb.due_at, START_MS + 3 * 24 * HOUR + HOUR);
        let ledger = store.ledger(id).await.expect("ledger");
        assert!(
            ledger[1].detail.contains("outside the calling window"),
            "{ledger:?}"
        );
        app.clock.set_ms(cb.due_at);
        dial(&app).await;
        assert_eq!(app.twilio.placed_to(ALICE), 1);
    }
);

both!(the_pace_holds_in_every_second, |app: TestApp| async move {
    let campaign = standing_campaign(&app).await;
    let store = &app.state.store;
    let now = START_MS + 2 * HOUR;
    app.clock.set_ms(now);
    let list: Vec<NewCallback> = (0..6)
        .map(|i| NewCallback {
            locale: Locale::ZhCn,
            ..callback(
                campaign.id,
                format!("list:{i}"),
                format!("+86139000000{i:02}"),
                now,
            )
        })
        .collect();
    store.queue_callbacks(&list, now).await.expect("queue");
    app.twilio.set_default(Behaviour::Busy);
    let mut placed_at = Vec::new();
    for step in 0..60 {
        let round = dial(&app).await;
        for _ in 0..round.placed {
            placed_at.push(app.clock.now_ms());
        }
        if step % 3 == 2 {
            app.clock.advance_ms(500);
        }
    }
    assert!(placed_at.len() >= 6, "{placed_at:?}");
    // One call a second: no second holds two.
    for w in placed_at.windows(2) {
        assert!(w[1] - w[0] >= 1000, "{placed_at:?}");
    }
});

both!(
    an_answering_machine_hears_a_short_message_and_is_tried_again_later,
    |app: TestApp| async move {
        let campaign = standing_campaign(&app).await;
        resolved_fault(&app).await;
        app.state.feed.catch_up().await.expect("feed");
        let cb = only_callback(&app, &campaign).await;
        app.twilio.on(
            ALICE,
            Behaviour::Answer {
                by: AnsweredBy::Machine,
                script: vec![],
            },
        );
        app.clock.set_ms(cb.due_at);
        dial(&app).await;
        let create = app
            .twilio
            .create_requests()
            .pop()
            .expect("a create request");
        assert_eq!(create.param("MachineDetection"), Some("Enable"));
        let heard = app.twilio.calls().pop().expect("call").heard.join(" ");
        assert!(heard.contains("We will call again later"), "{heard}");
        let after = app
            .state
            .steps
            .store
            .callback(cb.id)
            .await
            .expect("store")
            .expect("cb");
        assert_eq!(after.state, CallbackState::Pending);
        assert_eq!(
            after.due_at,
            cb.due_at + 2 * HOUR,
            "machine: two hours later"
        );
        let attempts = app
            .state
            .steps
            .store
            .attempts(cb.id)
            .await
            .expect("attempts");
        assert_eq!(attempts[0].outcome.as_deref(), Some("machine"));
        assert!(
            app.state
                .steps
                .store
                .answers(cb.id)
                .await
                .expect("answers")
                .is_empty()
        );
    }
);

both!(
    nobody_is_called_after_the_campaign_ends,
    |app: TestApp| async move {
        let store = &app.state.store;
        let ends = START_MS + 3 * HOUR;
        let c = NewCampaign {
            ends_at: Some(ends),
            ..campaign("short", Purpose::SampleSurvey)
        };
        let c = running(&app, c).await;
        let ids = store
            .queue_callbacks(
                &[callback(c.id, "list:1", ALICE, START_MS + 2 * HOUR)],
                START_MS,
            )
            .await
            .expect("queue");
        // No answer at 10:00; the retry an hour later would be at the end: not made.
        app.twilio.on(ALICE, Behaviour::NoAnswer);
        app.clock.set_ms(START_MS + 2 * HOUR);
        dial(&app).await;
        let cb = store
            .callback(ids[0].expect("id"))
            .await
            .expect("store")
            .expect("cb");
        assert_eq!(cb.outcome.as_deref(), Some("past_end"), "{cb:?}");
        app.clock.set_ms(ends + HOUR);
        dial(&app).await;
        assert_eq!(app.twilio.placed_to(ALICE), 1);
    }
);

both!(
    the_window_is_kept_in_the_customers_own_zone_across_a_clock_change,
    |app: TestApp| async move {
        let campaign = standing_campaign(&app).await;
        let store = &app.state.store;
        // Sunday 2027-03-14, 08:30 in Los Angeles (clocks went forward at 02:00): before
        // the 09:00 window. 08:30 PDT is 15:30 UTC.
        let now = 1_805_038_200_000;
        app.clock.set_ms(now);
        let ids = store
            .queue_callbacks(
                &[NewCallback {
                    timezone: "America/Los_Angeles".into(),
                    ..callback(campaign.id, "list:la", "+13105550100", now)
                }],
                now,
            )
            .await
            .expect("queue");
        dial(&app).await;
        let cb = store
            .callback(ids[0].expect("id"))
            .await
            .expect("store")
            .expect("cb");
        // 09:00 PDT is 16:00 UTC, half an hour later.
        assert_eq!(cb.due_at, now + 30 * 60_000);
        assert_eq!(app.twilio.placed_to("+13105550100"), 0);
    }
);

both!(
    an_agreed_visit_is_confirmed_the_day_before_and_a_change_goes_to_people,
    |app: TestApp| async move {
        let store = &app.state.store;
        let c = running(&app, campaign("visits", Purpose::Appointment)).await;
        let t = resolved_fault(&app).await;
        // The ticket is reopened and a technician's visit agreed for Thursday 14:30 Shanghai.
        let desk = &app.state.desk;
        desk.change(
            &t.number,
            &TicketAction::Reopen {
                reason: "again".into(),
            },
            "crm",
            None,
        )
        .await
        .expect("reopen");
        let visit = START_MS + 3 * 24 * HOUR + 6 * HOUR + 30 * 60_000;
        desk.change(
            &t.number,
            &TicketAction::Appointment { at: visit },
            "crm",
            None,
        )
        .await
        .expect("appointment");
        app.state.feed.catch_up().await.expect("feed");
        let cb = only_callback(&app, &c).await;
        assert_eq!(cb.due_at, visit - 24 * HOUR);
        app.twilio
            .on(ALICE, Behaviour::answer(vec![Action::Press("2".into())]));
        app.clock.set_ms(cb.due_at);
        dial(&app).await;
        let heard = app.twilio.calls().pop().expect("a call").heard.join(" ");
        assert!(heard.contains("on June 4th at 2:30 PM"), "{heard}");
        let followups = store.followups(10).await.expect("follow-ups");
        assert_eq!(
            followups
                .iter()
                .map(|f| f.kind.as_str())
                .collect::<Vec<_>>(),
            ["confirm:change"]
        );
    }
);

both!(
    a_reader_late_on_the_ticket_feed_queues_nothing_stale_and_cancels_nothing_new,
    |app: TestApp| async move {
        let campaign = standing_campaign(&app).await;
        let t = resolved_fault(&app).await;
        let desk = &app.state.desk;
        desk.change(
            &t.number,
            &TicketAction::Reopen {
                reason: "again".into(),
            },
            "crm",
            None,
        )
        .await
        .expect("reopen");
        app.clock.advance_ms(HOUR);
        let resolve = TicketAction::Resolve {
            code: "fixed".into(),
            note: "for good".into(),
        };
        desk.change(&t.number, &resolve, "tech-7", None)
            .await
            .expect("resolve again");
        app.state.feed.catch_up().await.expect("feed");
        let store = &app.state.store;
        let owed = |all: Vec<Callback>| -> Vec<(String, CallbackState)> {
            all.into_iter().map(|c| (c.source, c.state)).collect()
        };
        let before = owed(
            store
                .campaign_callbacks(campaign.id, 0, 10)
                .await
                .expect("list"),
        );
        // Another instance reads the whole feed again, from the start, in any order it likes.
        store
            .set_feed_cursor("satisfaction-callbacks", 0)
            .await
            .expect("rewind");
        app.state.feed.catch_up().await.expect("feed again");
        let after = owed(
            store
                .campaign_callbacks(campaign.id, 0, 10)
                .await
                .expect("list"),
        );
        assert_eq!(before, after);
        // One callback, for the resolution that stands.
        let pending: Vec<_> = after
            .iter()
            .filter(|(_, s)| *s == CallbackState::Pending)
            .collect();
        assert_eq!(pending.len(), 1, "{after:?}");
    }
);

both!(
    campaign_state_changes_at_once_each_get_what_they_asked_or_a_conflict,
    |app: TestApp| async move {
        let c = running(&app, campaign("at once", Purpose::Satisfaction)).await;
        let targets = [CampaignState::Paused, CampaignState::Finished];
        let mut changes = Vec::new();
        for i in 0..20 {
            let (store, to) = (app.state.store.clone(), targets[i % 2]);
            changes.push((
                to,
                tokio::spawn(async move { store.set_campaign_state(c.id, to, START_MS).await }),
            ));
        }
        let mut done = 0;
        for (to, change) in changes {
            match change.await.expect("joined") {
                Ok(after) => {
                    assert_eq!(after.state, to, "answered as changed, but it is not");
                    done += 1;
                }
                Err(hotline::repo::StoreError::Conflict(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert!(done >= 1, "at least one change is made");
    }
);

/// The attempts of callback `id`.
async fn attempts_of(app: &TestApp, id: i64) -> Vec<hotline::callbacks::Attempt> {
    app.state.store.attempts(id).await.expect("attempts")
}

both_with!(
    a_call_whose_end_was_never_reported_is_looked_up_after_the_configured_delay,
    |c: &mut hotline::config::Config| c.callbacks.status_lookup_minutes = 5,
    |app: TestApp| async move {
        let campaign = standing_campaign(&app).await;
        resolved_fault(&app).await;
        app.state.feed.catch_up().await.expect("feed");
        let cb = only_callback(&app, &campaign).await;
        app.clock.set_ms(cb.due_at);
        // Nobody answers, and the reports of it are lost, as when they arrive while no
        // instance is up.
        app.twilio.on(ALICE, Behaviour::NoAnswer);
        app.twilio.lose_status_callbacks(ALICE);
        assert_eq!(dial(&app).await.placed, 1);
        let placed = attempts_of(&app, cb.id).await;
        assert_eq!(placed[0].state, AttemptState::Placed, "{placed:#?}");

        // Short of the 5 minutes (the default would wait 15): not looked up.
        app.clock.advance_ms(5 * MINUTE - 1_000);
        assert_eq!(dial(&app).await.reconciled, 0);
        assert_eq!(
            attempts_of(&app, cb.id).await[0].state,
            AttemptState::Placed
        );

        // Past 5 minutes: looked up, and settled as the no-answer it was.
        app.clock.advance_ms(2_000);
        assert_eq!(dial(&app).await.reconciled, 1);
        let ended = attempts_of(&app, cb.id).await;
        assert_eq!(ended[0].state, AttemptState::Ended, "{ended:#?}");
        assert_eq!(ended[0].outcome.as_deref(), Some("no_answer"));
        let after = app
            .state
            .store
            .callback(cb.id)
            .await
            .expect("store")
            .expect("cb");
        // No answer: tried again an hour later.
        assert_eq!(after.state, CallbackState::Pending);
        assert_eq!(after.due_at, app.clock.now_ms() + HOUR);
        assert_eq!(app.twilio.placed_to(ALICE), 1);
    }
);

both!(
    a_calls_api_5xx_is_checked_with_the_carrier_before_the_customer_is_dialed_again,
    |app: TestApp| async move {
        let campaign = standing_campaign(&app).await;
        resolved_fault(&app).await;
        app.state.feed.catch_up().await.expect("feed");
        let cb = only_callback(&app, &campaign).await;
        app.clock.set_ms(cb.due_at);
        app.twilio.on(
            ALICE,
            Behaviour::rest_error(500, 20500, "An internal server error has occurred"),
        );
        dial(&app).await;
        let unclear = attempts_of(&app, cb.id).await;
        assert_eq!(unclear[0].state, AttemptState::Unclear, "{unclear:#?}");
        // Within the minute's grace nobody is dialed, even with the carrier well again.
        app.twilio.on(ALICE, Behaviour::NoAnswer);
        app.clock.advance_ms(30_000);
        assert_eq!(dial(&app).await.placed, 0);
        // Then the carrier is asked and has no call: the attempt was never placed, does not
        // count, and the customer is due again a minute later.
        app.clock.advance_ms(31_000);
        let round = dial(&app).await;
        assert_eq!((round.reconciled, round.placed), (1, 0), "{round:?}");
        app.clock.advance_ms(60_000);
        assert_eq!(dial(&app).await.placed, 1);
        let attempts = attempts_of(&app, cb.id).await;
        assert_eq!(attempts.len(), 2, "{attempts:#?}");
        assert_eq!(attempts[0].outcome.as_deref(), Some("carrier_busy"));
        assert!(
            ledger_kinds(&app, cb.id)
                .await
                .contains(&"unclear".to_string())
        );
        assert_eq!(app.twilio.placed_to(ALICE), 1);
    }
);
