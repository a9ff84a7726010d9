//! The ticket API end to end: real HTTP against a running `hotline` on SQLite and on
//! PostgreSQL, with the demo customers and a clock the test moves.

use crate::support::app::{API_TOKEN, Backend, HOUR, START_MS, TestApp, both};
use crate::support::demo::{ALICE, LINA, LINA_ACCOUNT, LINA_LEASED, ZHANG, ZHANG_ACCOUNT};
use crate::support::openapi;
use serde_json::{Value, json};

fn at(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("time in range")
        .to_rfc3339()
}

/// Opens a ticket and checks it was created.
async fn open(app: &TestApp, body: Value) -> Value {
    let (status, t) = app.api_post("/api/v1/tickets", &body).await;
    assert_eq!(status, 201, "{body} → {t}");
    t
}

async fn fault(app: &TestApp, account_no: &str, line: &str) -> Value {
    open(
        app,
        json!({"kind": "fault", "account_no": account_no, "line_number": line,
               "category": "no_dial_tone", "actor": "crm"}),
    )
    .await
}

fn number(t: &Value) -> String {
    t["number"].as_str().expect("ticket number").to_string()
}

/// POSTs an action and checks it was accepted.
async fn act(app: &TestApp, no: &str, action: &str, body: Value) -> Value {
    let (status, t) = app
        .api_post(&format!("/api/v1/tickets/{no}/{action}"), &body)
        .await;
    assert_eq!(status, 200, "{action} {body} → {t}");
    t
}

async fn get_ticket(app: &TestApp, no: &str) -> Value {
    let (status, t) = app.api_get(&format!("/api/v1/tickets/{no}")).await;
    assert_eq!(status, 200, "{t}");
    t
}

fn history_kinds(t: &Value) -> Vec<String> {
    t["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn list(app: &TestApp, query: &str) -> (Vec<String>, Value) {
    let (status, page) = app.api_get(&format!("/api/v1/tickets?{query}")).await;
    assert_eq!(status, 200, "{query} → {page}");
    let numbers = page["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .map(number)
        .collect();
    (numbers, page["next_before"].clone())
}

/// Asserts a refusal: its status, a part of its message and the field it names.
fn refused(got: (u16, Value), status: u16, message: &str, field: Option<&str>) {
    let (s, body) = got;
    assert_eq!(s, status, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.contains(message), "{error:?} lacks {message:?}");
    if let Some(f) = field {
        assert_eq!(body["field"], f, "{body}");
    }
}

both!(
    a_fault_goes_through_its_whole_life_cycle,
    |app: TestApp| async move {
        let t = fault(&app, ZHANG_ACCOUNT, ZHANG).await;
        assert_eq!(t["kind"], "fault");
        assert_eq!(t["state"], "open");
        assert_eq!(t["channel"], "api");
        assert_eq!(t["account_no"], ZHANG_ACCOUNT);
        assert_eq!(t["line_number"], ZHANG);
        assert_eq!(t["line_kind"], "phone");
        assert_eq!(t["customer_class"], "residential");
        assert_eq!(t["category"], "no_dial_tone");
        assert_eq!(t["opened_at"], at(START_MS));
        // A residential phone-line fault: 72 hours.
        assert_eq!(t["deadline_at"], at(START_MS + 72 * HOUR));
        assert_eq!(t["breached"], false);
        assert!(
            t["breached_at"].is_null() && t["resolution"].is_null(),
            "{t}"
        );
        assert!(t.get("history").is_none(), "history only on GET: {t}");
        let no = number(&t);
        assert!(hotline::tickets::is_valid_number(&no), "{no}");

        app.clock.advance_ms(60_000);
        let t = act(
            &app,
            &no,
            "assign",
            json!({"assignee": "tech-7", "note": "nearest crew", "actor": "dispatcher"}),
        )
        .await;
        assert_eq!(
            (&t["state"], &t["assignee"]),
            (&json!("assigned"), &json!("tech-7"))
        );

        // `start` needs nothing: the body may be left out entirely.
        app.clock.advance_ms(60_000);
        let res = app
            .http
            .post(format!("{}/api/v1/tickets/{no}/start", app.base))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status().as_u16(), 200);
        let t: Value = res.json().await.expect("json");
        openapi::assert_documented("POST", &format!("/api/v1/tickets/{no}/start"), 200, &t);
        assert_eq!(t["state"], "in_progress");

        app.clock.advance_ms(60_000);
        let t = act(
            &app,
            &no,
            "note",
            json!({"note": "cable cut at the cabinet", "actor": "tech-7"}),
        )
        .await;
        assert_eq!(t["state"], "in_progress", "a note does not move the ticket");
        let visit = "2026-06-02T09:30:00+08:00";
        let t = act(
            &app,
            &no,
            "appointment",
            json!({"at": visit, "actor": "tech-7"}),
        )
        .await;
        assert_eq!(t["appointment_at"], at(START_MS + 25 * HOUR + 30 * 60_000));

        app.clock.advance_ms(HOUR);
        let t = act(
            &app,
            &no,
            "resolve",
            json!({"code": "cable_repaired", "note": "spliced", "actor": "tech-7"}),
        )
        .await;
        assert_eq!(t["state"], "resolved");
        assert_eq!(
            t["resolution"],
            json!({"code": "cable_repaired", "note": "spliced"})
        );
        assert_eq!(t["resolved_at"], at(START_MS + 3 * 60_000 + HOUR));
        assert_eq!(t["breached"], false);

        let t = act(&app, &no, "close", json!({})).await;
        assert_eq!(t["state"], "closed");
        assert_eq!(t["closed_at"], at(START_MS + 3 * 60_000 + HOUR));

        // The whole history, in order, with who did what.
        let t = get_ticket(&app, &no).await;
        let h = t["history"].as_array().expect("history");
        let rows: Vec<(&str, &str, &str, &str)> = h
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap_or(""),
                    e["actor"].as_str().unwrap_or(""),
                    e["from_state"].as_str().unwrap_or("-"),
                    e["to_state"].as_str().unwrap_or("-"),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("opened", "crm", "-", "open"),
                ("assigned", "dispatcher", "open", "assigned"),
                ("started", "api", "assigned", "in_progress"),
                ("noted", "tech-7", "-", "-"),
                ("appointment_set", "tech-7", "-", "-"),
                ("resolved", "tech-7", "in_progress", "resolved"),
                ("closed", "api", "resolved", "closed"),
            ]
        );
        let ids: Vec<i64> = h.iter().map(|e| e["id"].as_i64().expect("id")).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert_eq!(h[0]["at"], at(START_MS));
        assert_eq!(h[1]["at"], at(START_MS + 60_000));
        assert_eq!(h[1]["detail"]["assignee"], "tech-7");
        assert_eq!(h[1]["detail"]["note"], "nearest crew");
        assert_eq!(h[3]["detail"]["note"], "cable cut at the cabinet");
        assert_eq!(h[5]["detail"]["code"], "cable_repaired");

        // A closed ticket is final.
        refused(
            app.api_post(
                &format!("/api/v1/tickets/{no}/reopen"),
                &json!({"reason": "again"}),
            )
            .await,
            409,
            &format!(
                "ticket {no} is closed; it cannot be reopened (it may go to: nothing: it is final)"
            ),
            None,
        );
        // Refusals leave no trace.
        assert_eq!(history_kinds(&get_ticket(&app, &no).await).len(), 7);
    }
);

both!(
    transitions_the_state_does_not_allow_are_refused,
    |app: TestApp| async move {
        let open_one = fault(&app, ZHANG_ACCOUNT, ZHANG).await;
        let no = number(&open_one);
        refused(
            app.api_post(&format!("/api/v1/tickets/{no}/close"), &json!({}))
                .await,
            409,
            &format!(
                "ticket {no} is open; it cannot be closed (it may go to: assigned, in_progress, resolved, cancelled)"
            ),
            None,
        );
        let t = get_ticket(&app, &no).await;
        assert_eq!(t["state"], "open");
        assert_eq!(history_kinds(&t), ["opened"]);

        // Cancelled is final.
        let t = act(
            &app,
            &no,
            "cancel",
            json!({"reason": "duplicate", "actor": "crm"}),
        )
        .await;
        assert_eq!(t["state"], "cancelled");
        refused(
            app.api_post(
                &format!("/api/v1/tickets/{no}/resolve"),
                &json!({"code": "fixed"}),
            )
            .await,
            409,
            &format!(
                "ticket {no} is cancelled; it cannot be resolved (it may go to: nothing: it is final)"
            ),
            None,
        );

        // Started once only.
        let other = number(&fault(&app, LINA_ACCOUNT, LINA).await);
        act(&app, &other, "start", json!({})).await;
        refused(
            app.api_post(&format!("/api/v1/tickets/{other}/start"), &json!({}))
                .await,
            409,
            "is in_progress; it cannot be started",
            None,
        );

        // A resolved ticket may be reopened: the resolution is cleared and work goes on.
        let t = act(&app, &other, "resolve", json!({"code": "reset_port"})).await;
        assert_eq!(t["resolution"], json!({"code": "reset_port", "note": ""}));
        let t = act(
            &app,
            &other,
            "reopen",
            json!({"reason": "still no dial tone", "actor": "crm"}),
        )
        .await;
        assert_eq!(t["state"], "reopened");
        assert!(
            t["resolution"].is_null() && t["resolved_at"].is_null(),
            "{t}"
        );
        let t = act(&app, &other, "assign", json!({"assignee": "tech-9"})).await;
        assert_eq!(t["state"], "assigned");
        let t = get_ticket(&app, &other).await;
        assert_eq!(
            history_kinds(&t),
            ["opened", "started", "resolved", "reopened", "assigned"]
        );
        assert_eq!(t["history"][3]["detail"]["reason"], "still no dial tone");
        assert_eq!(t["history"][3]["actor"], "crm");
    }
);

both!(
    deadlines_come_from_the_service_levels,
    |app: TestApp| async move {
        // The test clock starts on Monday 2026-06-01 at 08:00 in Shanghai (00:00 UTC).
        // A leased-line fault: 4 hours, sooner than the business same-day promise.
        let t = fault(&app, LINA_ACCOUNT, LINA_LEASED).await;
        assert_eq!(t["line_kind"], "leased");
        assert_eq!(t["customer_class"], "business");
        assert_eq!(t["deadline_at"], at(START_MS + 4 * HOUR));

        // A business phone-line fault reported before 16:00: by the end of the day (Shanghai).
        let t = fault(&app, LINA_ACCOUNT, "+86 21 6666 0003").await;
        assert_eq!(
            t["line_number"], LINA,
            "written with spaces, stored as E.164"
        );
        assert_eq!(t["deadline_at"], at(START_MS + 16 * HOUR));

        // An installation of broadband for a residential customer: 15 working days, past the
        // Dragon Boat Festival (19 June), so by the end of 23 June.
        let t = open(
            &app,
            json!({"kind": "installation", "account_no": ZHANG_ACCOUNT, "line_kind": "broadband",
                   "description": "fibre to the flat", "callback_number": "+86 138-0000-0001"}),
        )
        .await;
        assert_eq!(t["line_kind"], "broadband");
        assert!(t["line_number"].is_null(), "{t}");
        assert_eq!(t["callback_number"], ZHANG);
        assert_eq!(t["description"], "fibre to the flat");
        assert_eq!(t["deadline_at"], "2026-06-23T16:00:00+00:00");

        // An installation on a line defaults to the line's kind; a change: 24 hours.
        let t = open(
            &app,
            json!({"kind": "installation", "account_no": LINA_ACCOUNT, "line_number": "BB30000003"}),
        )
        .await;
        assert_eq!(t["line_kind"], "broadband");
        let t = open(
            &app,
            json!({"kind": "change", "account_no": ZHANG_ACCOUNT, "line_number": ZHANG,
                   "category": "plan"}),
        )
        .await;
        assert_eq!(t["deadline_at"], at(START_MS + 24 * HOUR));

        // A complaint may come without an account; the standard policy promises no deadline.
        let t = open(
            &app,
            json!({"kind": "complaint", "description": "rude agent", "actor": "web-form"}),
        )
        .await;
        assert!(
            t["account_no"].is_null() && t["customer_class"].is_null(),
            "{t}"
        );
        assert!(t["deadline_at"].is_null(), "{t}");
        assert_eq!(t["breached"], false);
        let h = get_ticket(&app, &number(&t)).await;
        assert_eq!(h["history"][0]["actor"], "web-form");
        assert_eq!(h["history"][0]["detail"]["channel"], "api");
    }
);

both!(
    a_missed_deadline_shows_as_breached,
    |app: TestApp| async move {
        let late = fault(&app, ZHANG_ACCOUNT, ZHANG).await;
        let late_no = number(&late);
        let deadline = START_MS + 72 * HOUR;
        let on_time_no = number(&fault(&app, LINA_ACCOUNT, LINA).await);
        let cancelled_no = number(&fault(&app, "20000002", ALICE).await);
        act(
            &app,
            &cancelled_no,
            "cancel",
            json!({"reason": "duplicate"}),
        )
        .await;
        app.clock.advance_ms(HOUR);
        act(&app, &on_time_no, "resolve", json!({"code": "fixed"})).await;
        // Let the background sweeper settle into its sleep before the clock jumps.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;

        app.clock.advance_ms(deadline - START_MS); // one hour past the deadline
        // Breached as soon as the deadline has passed, whether or not it has been marked.
        let t = get_ticket(&app, &late_no).await;
        assert_eq!(t["breached"], true, "{t}");
        assert_eq!(t["breached_at"], at(deadline));
        if history_kinds(&t).contains(&"breached".to_string()) {
            eprintln!("(the background sweeper marked the breach before the test looked)");
        } else {
            assert_eq!(t["state"], "open");
        }

        app.state.desk.sweep().await.expect("sweep");
        let t = get_ticket(&app, &late_no).await;
        assert_eq!(t["breached"], true);
        assert_eq!(t["breached_at"], at(deadline));
        assert_eq!(t["state"], "open", "a breach does not move the ticket");
        let h = t["history"].as_array().expect("history");
        let breaches: Vec<&Value> = h.iter().filter(|e| e["kind"] == "breached").collect();
        assert_eq!(breaches.len(), 1, "{h:?}");
        assert_eq!(breaches[0]["actor"], "system");
        assert_eq!(h.last(), Some(breaches[0]), "the newest entry");

        // Resolved before its deadline, or cancelled: not breached.
        for no in [&on_time_no, &cancelled_no] {
            let t = get_ticket(&app, no).await;
            assert_eq!(t["breached"], false, "{t}");
            assert!(t["breached_at"].is_null(), "{t}");
            assert!(!history_kinds(&t).contains(&"breached".to_string()));
        }

        // Resolving late keeps the breach.
        let t = act(&app, &late_no, "resolve", json!({"code": "fixed"})).await;
        assert_eq!(
            (&t["breached"], &t["breached_at"]),
            (&json!(true), &json!(at(deadline)))
        );

        let (breached, _) = list(&app, "breached=true").await;
        assert_eq!(breached, [late_no.as_str()]);
        let (kept, _) = list(&app, "breached=false").await;
        assert_eq!(kept, [cancelled_no.clone(), on_time_no.clone()]);
    }
);

both!(
    breached_from_the_instant_the_deadline_passes,
    |app: TestApp| async move {
        let no = number(&fault(&app, LINA_ACCOUNT, LINA_LEASED).await);
        let deadline = START_MS + 4 * HOUR;
        app.clock.advance_ms(4 * HOUR);
        let t = get_ticket(&app, &no).await;
        assert_eq!(t["breached"], false, "due, but not past due: {t}");
        app.clock.advance_ms(1);
        let t = get_ticket(&app, &no).await;
        assert_eq!(t["breached"], true, "{t}");
        assert_eq!(t["breached_at"], at(deadline));
        let (breached, _) = list(&app, "breached=true").await;
        assert_eq!(breached, [no]);
    }
);

both!(
    bad_input_is_refused_with_a_clear_message,
    |app: TestApp| async move {
        let no = number(&fault(&app, ZHANG_ACCOUNT, ZHANG).await);
        let tickets = "/api/v1/tickets";

        // Ticket numbers: well-formed but unknown, and malformed.
        let unknown = if no == "12345674" {
            "99999997"
        } else {
            "12345674"
        };
        refused(
            app.api_get(&format!("{tickets}/{unknown}")).await,
            404,
            &format!("ticket {unknown} not found"),
            None,
        );
        refused(
            app.api_post(&format!("{tickets}/{unknown}/note"), &json!({"note": "x"}))
                .await,
            404,
            &format!("ticket {unknown} not found"),
            None,
        );
        for bad in ["12345678", "1234567", "abc", "012345674"] {
            refused(
                app.api_get(&format!("{tickets}/{bad}")).await,
                400,
                "not a ticket number (8 digits with a check digit)",
                Some("number"),
            );
            refused(
                app.api_post(&format!("{tickets}/{bad}/start"), &json!({}))
                    .await,
                400,
                "not a ticket number",
                Some("number"),
            );
        }

        // Opening: accounts, lines, kinds.
        let open_refused = |body: Value| {
            let app = &app;
            async move { app.api_post(tickets, &body).await }
        };
        refused(
            open_refused(
                json!({"kind": "fault", "account_no": ZHANG_ACCOUNT, "line_number": ALICE}),
            )
            .await,
            422,
            &format!("{ALICE} is not a line of account {ZHANG_ACCOUNT} (its lines are {ZHANG})"),
            Some("line_number"),
        );
        refused(
            open_refused(json!({"kind": "fault", "account_no": "99999999"})).await,
            422,
            "no account 99999999",
            Some("account_no"),
        );
        refused(
            open_refused(json!({"kind": "fault", "account_no": "12ab"})).await,
            422,
            "must be 4 to 20 digits",
            Some("account_no"),
        );
        refused(
            open_refused(json!({"kind": "fax", "account_no": ZHANG_ACCOUNT})).await,
            422,
            "unknown kind \"fax\"; use one of fault, installation, move, change, complaint",
            Some("kind"),
        );
        refused(
            open_refused(json!({"account_no": ZHANG_ACCOUNT})).await,
            422,
            "required: one of fault, installation",
            Some("kind"),
        );
        refused(
            open_refused(json!({"kind": "fault"})).await,
            422,
            "required for a fault ticket (only a complaint may come without an account)",
            Some("account_no"),
        );
        refused(
            open_refused(json!({"kind": "complaint", "line_number": ZHANG})).await,
            422,
            "give account_no too",
            Some("line_number"),
        );
        refused(
            open_refused(
                json!({"kind": "fault", "account_no": LINA_ACCOUNT, "line_number": LINA_LEASED,
                                "line_kind": "phone"}),
            )
            .await,
            422,
            "line SH-LL-30000003 is a leased line",
            Some("line_kind"),
        );
        refused(
            open_refused(
                json!({"kind": "installation", "account_no": ZHANG_ACCOUNT, "line_kind": "fax"}),
            )
            .await,
            422,
            "unknown line kind \"fax\"; use phone, broadband or leased",
            Some("line_kind"),
        );
        refused(
            open_refused(
                json!({"kind": "fault", "account_no": ZHANG_ACCOUNT, "callback_number": "12"}),
            )
            .await,
            422,
            "must be a phone number",
            Some("callback_number"),
        );
        refused(
            open_refused(json!({"kind": "fault", "account_no": ZHANG_ACCOUNT, "actor": "system"}))
                .await,
            422,
            "the service's own actor",
            Some("actor"),
        );
        refused(
            open_refused(
                json!({"kind": "fault", "account_no": ZHANG_ACCOUNT, "actor": "x".repeat(65)}),
            )
            .await,
            422,
            "at most 64 characters",
            Some("actor"),
        );

        // Wrong JSON: types, unknown fields, not JSON at all.
        refused(
            open_refused(json!({"kind": 5, "account_no": ZHANG_ACCOUNT})).await,
            400,
            "kind: invalid type: integer `5`, expected a string",
            None,
        );
        refused(
            open_refused(json!({"kind": "fault", "account_no": ZHANG_ACCOUNT, "deadline_at": 1}))
                .await,
            400,
            "unknown field `deadline_at`",
            None,
        );
        refused(
            open_refused(json!(["fault"])).await,
            400,
            "the body must be a JSON object",
            None,
        );
        let res = app
            .http
            .post(format!("{}{tickets}", app.base))
            .bearer_auth(API_TOKEN)
            .header("content-type", "application/json")
            .body("{\"kind\": \"fault\",")
            .send()
            .await
            .expect("request");
        assert_eq!(res.status().as_u16(), 400, "not JSON");
        let body: Value = res.json().await.expect("json");
        assert!(
            body["error"]
                .as_str()
                .unwrap_or_default()
                .contains("Failed to parse the request body as JSON"),
            "{body}"
        );
        let res = app
            .http
            .post(format!("{}{tickets}", app.base))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status().as_u16(), 422, "a bare POST asks for the kind");
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["field"], "kind");
        let res = app
            .http
            .post(format!("{}{tickets}", app.base))
            .bearer_auth(API_TOKEN)
            .body("kind=fault")
            .send()
            .await
            .expect("request");
        assert_eq!(res.status().as_u16(), 415);
        let res = app
            .http
            .post(format!("{}{tickets}/{no}/note", app.base))
            .bearer_auth(API_TOKEN)
            .body("hello")
            .send()
            .await
            .expect("request");
        assert_eq!(res.status().as_u16(), 415, "a body without a content type");

        // Actions: missing and malformed fields.
        let action = |name: &str, body: Value| {
            let (app, path) = (&app, format!("{tickets}/{no}/{name}"));
            async move { app.api_post(&path, &body).await }
        };
        refused(
            action("resolve", json!({"code": 7})).await,
            400,
            "code: invalid type: integer `7`, expected a string",
            None,
        );
        refused(
            action("resolve", json!({"note": "done"})).await,
            422,
            "required",
            Some("code"),
        );
        refused(
            action("resolve", json!({"code": "x".repeat(65)})).await,
            422,
            "at most 64 characters",
            Some("code"),
        );
        refused(
            action("note", json!({"note": "  "})).await,
            422,
            "required",
            Some("note"),
        );
        refused(
            action("note", json!({})).await,
            422,
            "required",
            Some("note"),
        );
        refused(
            action("assign", json!({"note": "x"})).await,
            422,
            "required",
            Some("assignee"),
        );
        refused(
            action("cancel", json!({})).await,
            422,
            "required",
            Some("reason"),
        );
        refused(
            action("reopen", json!({"reason": ""})).await,
            422,
            "required",
            Some("reason"),
        );
        refused(
            action("appointment", json!({"at": "tomorrow morning"})).await,
            422,
            "is not a time in RFC 3339",
            Some("at"),
        );
        refused(
            action("start", json!({"note": "go", "asignee": "typo"})).await,
            400,
            "unknown field `asignee`",
            None,
        );
        refused(
            action("escalate", json!({})).await,
            404,
            "no ticket action \"escalate\"; POST one of assign, start, note, appointment, resolve, close, cancel, reopen",
            None,
        );
        let t = get_ticket(&app, &no).await;
        assert_eq!(
            history_kinds(&t),
            ["opened"],
            "nothing refused was recorded"
        );

        // Listing: unknown values name the allowed ones.
        refused(
            app.api_get(&format!("{tickets}?state=done")).await,
            400,
            "unknown state \"done\"; use one of open, assigned, in_progress, resolved, closed, cancelled, reopened",
            Some("state"),
        );
        refused(
            app.api_get(&format!("{tickets}?kind=fax")).await,
            400,
            "unknown kind \"fax\"; use one of fault, installation, move, change, complaint",
            Some("kind"),
        );
        refused(
            app.api_get(&format!("{tickets}?breached=yes")).await,
            400,
            "use true or false",
            Some("breached"),
        );
        for limit in ["0", "1001", "ten"] {
            refused(
                app.api_get(&format!("{tickets}?limit={limit}")).await,
                400,
                "must be an integer from 1 to 1000",
                Some("limit"),
            );
        }
        refused(
            app.api_get(&format!("{tickets}?before=x")).await,
            400,
            "next_before",
            Some("before"),
        );
        refused(
            app.api_get(&format!("{tickets}?status=open")).await,
            400,
            "unknown field `status`",
            None,
        );

        // No token, wrong token.
        for req in [
            app.http.get(format!("{}{tickets}/{no}", app.base)),
            app.http.get(format!("{}{tickets}", app.base)),
            app.http
                .post(format!("{}{tickets}/{no}/close", app.base))
                .json(&json!({})),
            app.http
                .post(format!("{}{tickets}", app.base))
                .json(&json!({"kind": "complaint"})),
        ] {
            let res = req.send().await.expect("request");
            assert_eq!(res.status().as_u16(), 401);
            let body: Value = res.json().await.expect("json");
            assert_eq!(
                body["error"],
                "missing header Authorization: Bearer <token>"
            );
        }
        let res = app
            .http
            .get(format!("{}{tickets}/{no}", app.base))
            .bearer_auth("guess")
            .send()
            .await
            .expect("request");
        assert_eq!(res.status().as_u16(), 401);
        assert_eq!(
            list(&app, "").await.0,
            [no],
            "nothing was opened by a refusal"
        );
    }
);

both!(
    lists_page_newest_first_and_filter,
    |app: TestApp| async move {
        let mut opened = Vec::new();
        // One running fault per line: the others on the same lines are orders.
        for (i, kind) in ["fault", "fault", "change", "change", "move"]
            .iter()
            .enumerate()
        {
            let (account, line) = if i % 2 == 0 {
                (ZHANG_ACCOUNT, ZHANG)
            } else {
                (LINA_ACCOUNT, LINA_LEASED)
            };
            let body = json!({"kind": kind, "account_no": account, "line_number": line});
            opened.push(number(&open(&app, body).await));
            app.clock.advance_ms(1000);
        }
        opened.push(number(
            &open(&app, json!({"kind": "complaint", "description": "billing"})).await,
        ));
        let newest_first: Vec<String> = opened.iter().rev().cloned().collect();

        let (all, next) = list(&app, "").await;
        assert_eq!(all, newest_first);
        assert!(next.is_null());

        // Pages of two, following next_before.
        let mut seen = Vec::new();
        let mut query = "limit=2".to_string();
        let mut pages = 0;
        loop {
            let (page, next) = list(&app, &query).await;
            pages += 1;
            assert!(page.len() <= 2);
            seen.extend(page);
            match next.as_i64() {
                Some(before) => query = format!("limit=2&before={before}"),
                None => break,
            }
            assert!(pages < 10, "paging does not end");
        }
        assert_eq!(seen, newest_first);
        assert_eq!(pages, 3);

        // Filters.
        let (zhang, _) = list(&app, &format!("account_no={ZHANG_ACCOUNT}")).await;
        assert_eq!(
            zhang,
            [opened[4].clone(), opened[2].clone(), opened[0].clone()]
        );
        let (leased, _) = list(&app, &format!("line_number={LINA_LEASED}")).await;
        assert_eq!(leased, [opened[3].clone(), opened[1].clone()]);
        let (leased_faults, _) = list(&app, &format!("line_number={LINA_LEASED}&kind=fault")).await;
        assert_eq!(leased_faults, [opened[1].clone()]);
        let (phone, _) = list(&app, "line_number=%2B86%20138%200000%200001").await;
        assert_eq!(phone.len(), 3, "a phone number written with spaces");
        let (complaints, _) = list(&app, "kind=complaint").await;
        assert_eq!(complaints, [opened[5].as_str()]);
        act(&app, &opened[1], "assign", json!({"assignee": "tech-7"})).await;
        let (mine, _) = list(&app, "assignee=tech-7").await;
        assert_eq!(mine, [opened[1].as_str()]);
        let (assigned, _) = list(&app, "state=assigned").await;
        assert_eq!(assigned, [opened[1].as_str()]);
        let (none, next) = list(&app, "state=closed&kind=&breached=").await;
        assert!(none.is_empty() && next.is_null());

        // Listed tickets are the same view as one read alone, without the history.
        let (status, page) = app
            .api_get(&format!(
                "/api/v1/tickets?account_no={LINA_ACCOUNT}&limit=1"
            ))
            .await;
        assert_eq!(status, 200);
        let first = &page["tickets"][0];
        assert_eq!(first["account_no"], LINA_ACCOUNT);
        assert_eq!(first["number"], json!(opened[3]));
        assert!(first.get("history").is_none());
        assert!(page["next_before"].is_i64(), "{page}");
        let alone = get_ticket(&app, &opened[3]).await;
        assert_eq!(alone["deadline_at"], first["deadline_at"]);
    }
);

both!(
    a_retried_open_with_the_same_key_opens_one_ticket_and_a_second_fault_is_refused,
    |app: TestApp| async move {
        let body = json!({"kind": "fault", "account_no": "10000001",
                          "line_number": "+8613800000001", "category": "noise"});
        let send = |key: &'static str| {
            let (http, base, body) = (app.http.clone(), app.base.clone(), body.clone());
            async move {
                let res = http
                    .post(format!("{base}/api/v1/tickets"))
                    .bearer_auth(API_TOKEN)
                    .header("idempotency-key", key)
                    .json(&body)
                    .send()
                    .await
                    .expect("request");
                let status = res.status().as_u16();
                let answer = res.json::<Value>().await.unwrap_or(Value::Null);
                openapi::assert_documented("POST", "/api/v1/tickets", status, &answer);
                (status, answer)
            }
        };
        let (s1, first) = send("crm-req-1").await;
        assert_eq!(s1, 201, "{first}");
        let (s2, again) = send("crm-req-1").await;
        assert_eq!(s2, 201, "{again}");
        assert_eq!(
            number(&again),
            number(&first),
            "the same ticket, not a second"
        );
        // Another request for the same line while the fault runs: named, not duplicated.
        let (s3, dup) = send("crm-req-2").await;
        assert_eq!(s3, 409, "{dup}");
        let msg = dup["error"].as_str().unwrap_or_default();
        assert!(msg.contains(&number(&first)), "{msg}");
        let (list, _) = list(&app, "account_no=10000001").await;
        assert_eq!(list.len(), 1);
        let bad = app
            .http
            .post(format!("{}/api/v1/tickets", app.base))
            .bearer_auth(API_TOKEN)
            .header("idempotency-key", "x".repeat(65))
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(bad.status().as_u16(), 400);
        let answer = bad.json::<Value>().await.unwrap_or(Value::Null);
        openapi::assert_documented("POST", "/api/v1/tickets", 400, &answer);
    }
);

both!(
    text_the_store_cannot_hold_is_refused_naming_the_field,
    |app: TestApp| async move {
        let refused = |status: u16, e: &Value, field: &str| {
            assert_eq!((status, e["field"].as_str()), (422, Some(field)), "{e}");
            assert!(e["error"].as_str().unwrap_or("").contains("U+0000"), "{e}");
        };
        // A ticket's description, and a note on an action.
        let (status, e) = app
            .api_post(
                "/api/v1/tickets",
                &json!({"kind": "fault", "account_no": ZHANG_ACCOUNT, "line_number": ZHANG,
                    "category": "no_dial_tone", "description": "no tone\u{0}", "actor": "crm"}),
            )
            .await;
        refused(status, &e, "description");
        let no = number(&fault(&app, ZHANG_ACCOUNT, ZHANG).await);
        let (status, e) = app
            .api_post(
                &format!("/api/v1/tickets/{no}/note"),
                &json!({"note": "\u{0}", "actor": "crm"}),
            )
            .await;
        refused(status, &e, "note");
        // An account's name and a line's label.
        let (status, e) = app
            .api_put(
                "/api/v1/accounts/20000001",
                &json!({"name": "Li\u{0}", "lines": []}),
            )
            .await;
        refused(status, &e, "name");
        let (status, e) = app
            .api_put(
                "/api/v1/accounts/20000001",
                &json!({"name": "Li", "lines": [{"number": "+8613700000001", "kind": "phone",
                                                 "label": "home\u{0}"}]}),
            )
            .await;
        refused(status, &e, "lines[0].label");
        // A webhook endpoint's description.
        let (status, e) = app
            .api_post(
                "/api/v1/webhooks",
                &json!({"url": "http://127.0.0.1:9/x", "events": ["ticket.opened"],
                    "description": "crm\u{0}"}),
            )
            .await;
        refused(status, &e, "description");
        // A ticket number in the path and a filter in the query.
        let (status, e) = app.api_get("/api/v1/tickets/T%00").await;
        refused(status, &e, "number");
        let (status, e) = app.api_get("/api/v1/tickets?assignee=a%00").await;
        refused(status, &e, "assignee");
        // Nothing was written, and text with tabs and newlines is still taken.
        let (status, e) = app.api_get("/api/v1/accounts/20000001").await;
        assert_eq!(status, 404, "{e}");
        let (status, e) = app
            .api_put(
                "/api/v1/accounts/20000001",
                &json!({"name": "Li\tWei", "lines": []}),
            )
            .await;
        assert_eq!(status, 201, "{e}");
    }
);

both!(
    an_installation_is_done_at_the_address_the_account_gives_unless_told_otherwise,
    |app: TestApp| async move {
        let path = "/api/v1/accounts/55550002";
        let (s, acc) = app
            .api_put(
                path,
                &json!({"name": "王芳", "address": "  北京市朝阳区建国路88号  ",
                        "lines": [{"number": "+8613855550002", "kind": "phone"}]}),
            )
            .await;
        assert_eq!(s, 201, "{acc}");
        assert_eq!(acc["address"], "北京市朝阳区建国路88号");
        // Absent keeps the stored address.
        let (s, acc) = app
            .api_put(
                path,
                &json!({"name": "王芳", "lines": [{"number": "+8613855550002", "kind": "phone"}]}),
            )
            .await;
        assert_eq!(
            (s, &acc["address"]),
            (200, &json!("北京市朝阳区建国路88号"))
        );
        refused(
            app.api_put(path, &json!({"name": "王芳", "address": "a\nb"}))
                .await,
            422,
            "one line",
            Some("address"),
        );

        let install = json!({"kind": "installation", "account_no": "55550002",
                             "line_kind": "broadband", "actor": "crm"});
        let t = open(&app, install.clone()).await;
        assert_eq!(t["address"], "北京市朝阳区建国路88号", "{t}");
        let mut elsewhere = install.clone();
        elsewhere["address"] = json!("北京市海淀区中关村大街1号");
        assert_eq!(
            open(&app, elsewhere).await["address"],
            "北京市海淀区中关村大街1号"
        );
        refused(
            app.api_post(
                "/api/v1/tickets",
                &json!({"kind": "fault", "account_no": "55550002", "line_number": "+8613855550002",
                        "address": "北京市朝阳区建国路88号", "actor": "crm"}),
            )
            .await,
            422,
            "installation or a move",
            Some("address"),
        );

        // "" removes it: a later installation has no address to go to.
        let (s, acc) = app
            .api_put(path, &json!({"name": "王芳", "address": ""}))
            .await;
        assert_eq!((s, &acc["address"]), (200, &Value::Null));
        assert_eq!(open(&app, install).await["address"], Value::Null);
    }
);
