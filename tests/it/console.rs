//! The agent console over real HTTP, on SQLite and PostgreSQL: sign-in and sessions, CSRF,
//! roles, the queue and escalation pages with their forms, tickets, and bad input.

use crate::support::app::{Backend, MINUTE, START_MS, TestApp, both};
use crate::support::console::*;
use hotline::agents::Role;
use hotline::escalations::EscalationState;

async fn history_len(app: &TestApp, id: i64) -> usize {
    app.state
        .steps
        .store
        .escalation_history(id)
        .await
        .expect("history")
        .len()
}

async fn escalation(app: &TestApp, id: i64) -> hotline::escalations::Escalation {
    app.state
        .steps
        .store
        .escalation(id)
        .await
        .expect("read")
        .expect("escalation")
}

both!(sign_in_and_out, |app: TestApp| async move {
    add_agent(&app, "sup", Role::Supervisor).await;
    // Without a session, the console sends you to sign in.
    let anon = client()
        .get(format!("{}/console", app.base))
        .send()
        .await
        .expect("get");
    assert_eq!(anon.status().as_u16(), 303);
    assert_eq!(anon.headers()["location"], "/console/login");

    let c = sign_in(&app, "sup").await;
    let q = c.get("/console").await;
    assert_eq!(q.status, 200);
    assert!(q.body.contains("Queue"), "the agent's locale is English");
    assert_eq!(
        q.headers["content-security-policy"],
        "default-src 'self'; frame-ancestors 'none'"
    );
    assert_eq!(q.headers["x-content-type-options"], "nosniff");
    assert_eq!(q.headers["referrer-policy"], "same-origin");
    assert_eq!(q.headers["cache-control"], "no-store");

    let out = c.post("/console/logout", &[]).await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert!(
        out.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    // The old cookie no longer works.
    let after = c.get("/console").await;
    assert_eq!(after.status, 303);
    assert_eq!(after.location.as_deref(), Some("/console/login?expired=1"));
    let page = client()
        .get(format!("{}/console/login?expired=1&lang=en", app.base))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(
        page.contains("Your session has ended, sign in again."),
        "{page}"
    );
    let zh = client()
        .get(format!("{}/console/login?expired=1", app.base))
        .header("accept-language", "zh-CN,zh;q=0.9,en;q=0.8")
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(zh.contains("您的会话已结束"), "{zh}");
});

both!(sessions_slide_and_expire, |app: TestApp| async move {
    add_agent(&app, "amy", Role::Agent).await;
    let idle = app.state.cfg.console.idle_minutes * MINUTE;
    let c = sign_in(&app, "amy").await;
    // Used within the idle time, the session is renewed.
    app.clock.advance_ms(idle - 5 * MINUTE);
    assert_eq!(c.get("/console").await.status, 200);
    app.clock.advance_ms(idle - 5 * MINUTE);
    assert_eq!(c.get("/console").await.status, 200, "renewed by use");
    // The counts poll does not keep an idle session alive.
    app.clock.advance_ms(idle - 5 * MINUTE);
    let counts = c.get("/console/counts").await;
    assert_eq!(counts.status, 200);
    let v: serde_json::Value = serde_json::from_str(&counts.body).expect("json");
    assert!(v["open"].is_number(), "{v}");
    app.clock.advance_ms(10 * MINUTE);
    let r = c.get("/console").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location.as_deref(), Some("/console/login?expired=1"));
    assert_eq!(c.get("/console/counts").await.status, 401);
});

both!(sessions_end_after_max_hours, |app: TestApp| async move {
    add_agent(&app, "amy", Role::Agent).await;
    let c = sign_in(&app, "amy").await;
    let max = app.state.cfg.console.max_hours * 60 * MINUTE;
    let mut used = 0;
    while used + 20 * MINUTE < max {
        app.clock.advance_ms(20 * MINUTE);
        used += 20 * MINUTE;
        assert_eq!(c.get("/console").await.status, 200, "in use at {used}");
    }
    app.clock.advance_ms(20 * MINUTE);
    let r = c.get("/console").await;
    assert_eq!(
        r.location.as_deref(),
        Some("/console/login?expired=1"),
        "never past max_hours, however busy"
    );
});

both!(wrong_passwords_lock_the_login, |app: TestApp| async move {
    add_agent(&app, "amy", Role::Agent).await;
    let (unknown, _) = try_sign_in(&app, "nobody", "whatever password").await;
    assert_eq!(unknown.status, 401);
    assert!(
        unknown.body.contains("Wrong login or password")
            || unknown.body.contains("登录名或密码错误")
    );
    for i in 0..5 {
        let (res, c) = try_sign_in(&app, "amy", "wrong password!").await;
        assert!(c.is_none());
        assert_eq!(res.status, 401, "attempt {i}");
        assert!(
            res.body.contains("Wrong login or password") || res.body.contains("登录名或密码错误"),
            "the same answer as an unknown login"
        );
    }
    // The sixth, with the right password, is still refused, in the words an unknown login
    // gets: a lock must not confirm that a login exists.
    let (res, c) = try_sign_in(&app, "amy", PASSWORD).await;
    assert!(c.is_none(), "locked");
    assert_eq!(res.status, 401);
    assert_eq!(notice(&res.body), notice(&unknown.body));
    assert!(
        notice(&res.body).contains("15"),
        "says how long a lock lasts"
    );
    // After the lock, the right password works.
    app.clock.advance_ms(16 * MINUTE);
    let (res, c) = try_sign_in(&app, "amy", PASSWORD).await;
    assert!(c.is_some(), "{} {}", res.status, res.body);
});

/// The sign-in page's error notice.
fn notice(body: &str) -> &str {
    body.split("role=\"alert\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or("")
}

both!(
    passwords_sent_at_once_are_checked_five_at_most,
    |app: TestApp| async move {
        let amy = add_agent(&app, "amy", Role::Agent).await;
        let app = std::sync::Arc::new(app);
        let wrong: Vec<_> = (0..29)
            .map(|i| {
                let app = app.clone();
                tokio::spawn(async move {
                    try_sign_in(&app, "amy", &format!("wrong password {i}")).await
                })
            })
            .collect();
        // The right password arrives while those are checked, once five are counted.
        let store = app.state.store.clone();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            // A poll that finds the pool busy with the sign-ins simply polls again.
            if let Ok(Some(a)) = store.agent(amy.id).await
                && a.locked_until.is_some()
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let (right, c) = try_sign_in(&app, "amy", PASSWORD).await;
        for w in wrong {
            let (res, c) = w.await.expect("task");
            assert!(c.is_none());
            assert_eq!(res.status, 401);
        }
        assert!(
            c.is_none(),
            "the right password is refused once the lock is set"
        );
        assert_eq!(right.status, 401);
        let a = store.agent(amy.id).await.expect("store").expect("amy");
        assert_eq!(a.failed_logins, 5, "five passwords checked, no more");
        assert!(a.locked_until.is_some_and(|u| u > app.clock_now()), "{a:?}");
    }
);

both!(inactive_agents_cannot_sign_in, |app: TestApp| async move {
    let sup = add_agent(&app, "sup", Role::Supervisor).await;
    let amy = add_agent(&app, "amy", Role::Agent).await;
    let s = sign_in(&app, "sup").await;
    let a = sign_in(&app, "amy").await;
    let r = s
        .post(
            &format!("/console/agents/{}/active", amy.id),
            &[("active", "0")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        a.get("/console").await.status,
        303,
        "deactivation ends sessions"
    );
    let (res, c) = try_sign_in(&app, "amy", PASSWORD).await;
    assert!(c.is_none());
    assert_eq!(res.status, 403);
    assert!(res.body.contains("deactivated") || res.body.contains("停用"));
    // A supervisor cannot deactivate themself.
    let r = s
        .post(
            &format!("/console/agents/{}/active", sup.id),
            &[("active", "0")],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
});

both!(forged_posts_are_refused, |app: TestApp| async move {
    add_agent(&app, "amy", Role::Agent).await;
    let id = raise(&app, "test:forged", "a complaint").await;
    let c = sign_in(&app, "amy").await;
    let path = format!("/console/escalations/{id}/claim");
    // A wrong token.
    let r = c
        .post_raw(&path, &[("csrf", "forged")], &[("origin", &app.base)])
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Nothing was changed"), "{}", r.body);
    // No token at all.
    let r = c.post_raw(&path, &[], &[]).await;
    assert_eq!(r.status, 403);
    // The right token from a foreign origin.
    let r = c
        .post_raw(
            &path,
            &[("csrf", &c.csrf)],
            &[("origin", "http://evil.example")],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = c
        .post_raw(
            &path,
            &[("csrf", &c.csrf)],
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(r.status, 403);
    let e = escalation(&app, id).await;
    assert_eq!(e.state, EscalationState::Open, "nothing changed");
    assert_eq!(e.owner, None);
    assert_eq!(history_len(&app, id).await, 1);
    // The sign-in form needs its double-submit cookie.
    let r = client()
        .post(format!("{}/console/login", app.base))
        .form(&[("login", "amy"), ("password", PASSWORD), ("csrf", "x")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 403);
    // And with everything right, it works.
    let r = c.post(&path, &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
});

both!(agents_cannot_manage_agents, |app: TestApp| async move {
    add_agent(&app, "amy", Role::Agent).await;
    let c = sign_in(&app, "amy").await;
    assert_eq!(c.get("/console/agents").await.status, 403);
    assert!(
        !c.get("/console").await.body.contains("/console/agents\""),
        "no link"
    );
    let r = c
        .post(
            "/console/agents",
            &[
                ("login", "mallory"),
                ("name", "Mallory"),
                ("role", "supervisor"),
                ("password", "long enough password"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    let none = app
        .state
        .steps
        .store
        .agent_by_login("mallory")
        .await
        .expect("read");
    assert!(none.is_none());
});

both!(supervisors_manage_agents, |app: TestApp| async move {
    add_agent(&app, "sup", Role::Supervisor).await;
    let s = sign_in(&app, "sup").await;
    let r = s
        .post(
            "/console/agents",
            &[
                ("login", "li.ming"),
                ("name", "李明"),
                ("role", "agent"),
                ("phone", "+86 138 0000 0009"),
                ("password", "a long new password"),
                ("locale", "zh-CN"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = s.get("/console/agents").await;
    assert!(page.body.contains("李明"));
    let li = app
        .state
        .steps
        .store
        .agent_by_login("li.ming")
        .await
        .expect("read")
        .expect("added");
    assert_eq!(li.phone.as_deref(), Some("+8613800000009"));
    // The new agent signs in, in Chinese.
    let (res, c) = try_sign_in(&app, "li.ming", "a long new password").await;
    let c = c.unwrap_or_else(|| panic!("{}", res.body));
    assert!(c.get("/console").await.body.contains("待办队列"));
    // A taken login, a bad one, a long name, a short password: refused, nothing added.
    for (fields, status) in [
        (
            vec![
                ("login", "li.ming"),
                ("name", "X"),
                ("password", "a long new password"),
            ],
            409,
        ),
        (
            vec![
                ("login", "Li Ming"),
                ("name", "X"),
                ("password", "a long new password"),
            ],
            400,
        ),
        (
            vec![
                ("login", "long.name"),
                ("name", &"x".repeat(81)),
                ("password", "a long new password"),
            ],
            400,
        ),
        (
            vec![("login", "short.pw"), ("name", "X"), ("password", "short")],
            400,
        ),
        (
            vec![("login", "no.name"), ("password", "a long new password")],
            400,
        ),
        (
            vec![
                ("login", "bad.role"),
                ("name", "X"),
                ("role", "root"),
                ("password", "a long new password"),
            ],
            400,
        ),
    ] {
        let r = s.post("/console/agents", &fields).await;
        assert_eq!(r.status, status, "{fields:?}: {}", r.body);
    }
    assert_eq!(app.state.store.agents().await.expect("agents").len(), 2);
    // A new password ends the agent's sessions.
    let r = s
        .post(
            &format!("/console/agents/{}/password", li.id),
            &[("password", "another long password")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(c.get("/console").await.status, 303);
    assert!(
        try_sign_in(&app, "li.ming", "another long password")
            .await
            .1
            .is_some()
    );
    // Tampered ids.
    assert_eq!(
        s.post("/console/agents/abc/active", &[("active", "0")])
            .await
            .status,
        400
    );
    assert_eq!(
        s.post("/console/agents/999999/active", &[("active", "0")])
            .await
            .status,
        404
    );
});

both!(two_agents_claim_at_once, |app: TestApp| async move {
    add_agent(&app, "amy", Role::Agent).await;
    add_agent(&app, "bob", Role::Agent).await;
    let id = raise(&app, "test:race", "a complaint").await;
    let a = sign_in(&app, "amy").await;
    let b = sign_in(&app, "bob").await;
    let path = format!("/console/escalations/{id}/claim");
    let (ra, rb) = tokio::join!(a.post(&path, &[]), b.post(&path, &[]));
    let e = escalation(&app, id).await;
    let owner = e.owner.clone().expect("owned");
    let (winner, loser, lost) = if owner == "amy" {
        (&a, &b, &rb)
    } else {
        (&b, &a, &ra)
    };
    let won = if owner == "amy" { &ra } else { &rb };
    assert_eq!(won.status, 303, "{}", won.body);
    assert_eq!(lost.status, 409, "{}", lost.body);
    assert!(
        lost.body.contains(&format!("already claimed by {owner}")),
        "the loser sees who owns it: {}",
        lost.body
    );
    // The loser cannot reply; the owner can.
    let r = loser
        .post(
            &format!("/console/escalations/{id}/reply"),
            &[("text", "sorted"), ("via", "phone")],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains(&format!("owned by {owner}")), "{}", r.body);
    assert_eq!(escalation(&app, id).await.state, EscalationState::Claimed);
    let r = winner
        .post(
            &format!("/console/escalations/{id}/reply"),
            &[("text", "sorted"), ("via", "phone")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(escalation(&app, id).await.state, EscalationState::Replied);
});

both!(
    supervisor_reassigns_with_a_reason,
    |app: TestApp| async move {
        add_agent(&app, "sup", Role::Supervisor).await;
        add_agent(&app, "amy", Role::Agent).await;
        add_agent(&app, "bob", Role::Agent).await;
        let id = raise(&app, "test:reassign", "a complaint").await;
        let a = sign_in(&app, "amy").await;
        let s = sign_in(&app, "sup").await;
        assert_eq!(
            a.post(&format!("/console/escalations/{id}/claim"), &[])
                .await
                .status,
            303
        );
        let path = format!("/console/escalations/{id}/reassign");
        // An agent may not reassign; a supervisor needs a reason and a real agent.
        let r = a.post(&path, &[("to", "bob"), ("reason", "mine")]).await;
        assert_eq!(r.status, 403, "{}", r.body);
        let r = s.post(&path, &[("to", "bob")]).await;
        assert_eq!(r.status, 400, "{}", r.body);
        let r = s.post(&path, &[("to", "ghost"), ("reason", "x")]).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(escalation(&app, id).await.owner.as_deref(), Some("amy"));
        let r = s
            .post(&path, &[("to", "bob"), ("reason", "amy is on leave")])
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(escalation(&app, id).await.owner.as_deref(), Some("bob"));
        let page = s.get(&format!("/console/escalations/{id}")).await;
        assert!(
            page.body.contains("from amy to bob: amy is on leave"),
            "{}",
            page.body
        );
        // Amy no longer may work it.
        let r = a
            .post(
                &format!("/console/escalations/{id}/note"),
                &[("text", "still mine?")],
            )
            .await;
        assert_eq!(r.status, 403);
    }
);

both!(closing_needs_a_reply, |app: TestApp| async move {
    add_agent(&app, "amy", Role::Agent).await;
    let id = raise(&app, "test:close", "a complaint").await;
    let a = sign_in(&app, "amy").await;
    let base = format!("/console/escalations/{id}");
    assert_eq!(a.post(&format!("{base}/claim"), &[]).await.status, 303);
    let r = a.post(&format!("{base}/close"), &[("note", "done")]).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("cannot be closed before the reply"),
        "{}",
        r.body
    );
    assert_eq!(escalation(&app, id).await.state, EscalationState::Claimed);
    let r = a
        .post(&format!("{base}/note"), &[("text", "called, no answer")])
        .await;
    assert_eq!(r.status, 303);
    let r = a
        .post(
            &format!("{base}/reply"),
            &[("text", "refund of ¥20 agreed"), ("via", "sms")],
        )
        .await;
    assert_eq!(r.status, 303);
    let r = a.post(&format!("{base}/close"), &[("note", "")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let e = escalation(&app, id).await;
    assert_eq!(e.state, EscalationState::Closed);
    assert_eq!(e.reply.as_deref(), Some("refund of ¥20 agreed"));
    let page = a.get(&base).await;
    assert!(page.body.contains("called, no answer"));
    assert!(
        !page.body.contains("form-close"),
        "no forms on a closed escalation"
    );
});

both!(tampered_and_oversized_input, |app: TestApp| async move {
    add_agent(&app, "amy", Role::Agent).await;
    let id = raise(&app, "test:tamper", "a complaint").await;
    let a = sign_in(&app, "amy").await;
    let base = format!("/console/escalations/{id}");
    assert_eq!(a.post(&format!("{base}/claim"), &[]).await.status, 303);
    let before = history_len(&app, id).await;
    assert_eq!(a.get("/console/escalations/abc").await.status, 400);
    assert_eq!(a.get("/console/escalations/-1").await.status, 400);
    assert_eq!(a.get("/console/escalations/99999999").await.status, 404);
    assert_eq!(
        a.get("/console/escalations/99999999999999999999")
            .await
            .status,
        400
    );
    assert_eq!(
        a.post("/console/escalations/abc/note", &[("text", "x")])
            .await
            .status,
        400
    );
    assert_eq!(
        a.post("/console/escalations/99999999/note", &[("text", "x")])
            .await
            .status,
        404
    );
    assert_eq!(a.post(&format!("{base}/explode"), &[]).await.status, 404);
    assert_eq!(a.post(&format!("{base}/note"), &[]).await.status, 400);
    assert_eq!(
        a.post(&format!("{base}/note"), &[("text", "   ")])
            .await
            .status,
        400
    );
    let long = "长".repeat(4001);
    let r = a.post(&format!("{base}/note"), &[("text", &long)]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = a
        .post(
            &format!("{base}/reply"),
            &[("text", &long), ("via", "phone")],
        )
        .await;
    assert_eq!(r.status, 400);
    let r = a
        .post(
            &format!("{base}/reply"),
            &[("text", "ok"), ("via", "pigeon")],
        )
        .await;
    assert_eq!(r.status, 400);
    let r = a.post(&format!("{base}/close"), &[("note", &long)]).await;
    assert_eq!(r.status, 400);
    // Bigger than the body limit: refused before any handler.
    let huge = "x".repeat(70 * 1024);
    let r = a.post(&format!("{base}/note"), &[("text", &huge)]).await;
    assert_eq!(r.status, 413);
    assert_eq!(history_len(&app, id).await, before, "nothing changed");
    assert_eq!(escalation(&app, id).await.state, EscalationState::Claimed);
    // Filters.
    assert_eq!(a.get("/console?state=bogus").await.status, 400);
    assert_eq!(a.get("/console?owner=root").await.status, 400);
    assert_eq!(
        a.get("/console?state=claimed&owner=mine&overdue=1")
            .await
            .status,
        200
    );
    assert_eq!(a.get("/console/tickets/123").await.status, 400);
    assert_eq!(a.get("/console/tickets?state=lost").await.status, 400);
    assert_eq!(a.get("/console/callbacks/abc").await.status, 400);
    assert_eq!(a.get("/console/callbacks/424242").await.status, 404);
    assert_eq!(a.get("/console/callbacks?campaign=x").await.status, 400);
    let r = a.post("/console/locale", &[("locale", "fr-FR")]).await;
    assert_eq!(r.status, 400);
});

both!(queue_and_escalation_pages, |app: TestApp| async move {
    add_agent(&app, "amy", Role::Agent).await;
    let store = &app.state.store;
    // A customer whose name is markup: shown as text, never as elements.
    let e = complaint_from(&app, "<b>Zhang</b><script>alert(1)</script>").await;
    let a = sign_in(&app, "amy").await;
    let q = a.get("/console").await;
    assert!(
        q.body.contains("&lt;b&gt;Zhang&lt;/b&gt;&lt;script&gt;"),
        "{}",
        q.body
    );
    assert!(!q.body.contains("<b>Zhang"));
    assert!(!q.body.contains("<script>alert"));
    assert!(q.body.contains("id=\"count-open\""));
    // Fifteen minutes unclaimed: flagged.
    app.clock.advance_ms(16 * MINUTE);
    let q = a.get("/console?state=open").await;
    assert!(q.body.contains("flag warn"), "unclaimed flag");
    let page = a.get(&format!("/console/escalations/{}", e.id)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("pressed 2"), "{}", page.body);
    assert!(page.body.contains("pressed 5"));
    assert!(page.body.contains("<audio controls"), "the recording plays");
    // The caller was told when to expect the reply (the case's due time), said once.
    assert!(
        page.body.contains("reply to you by 8 AM tomorrow."),
        "{}",
        page.body
    );
    assert!(page.body.contains("/console/tickets/"));
    // Played through the service, with the account's credentials: the page's policy allows
    // media from this origin only, and who listened is kept.
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert_eq!(csp, "default-src 'self'; frame-ancestors 'none'");
    let number = store
        .ticket_by_id(e.ticket_id.expect("ticket"))
        .await
        .expect("read")
        .expect("ticket")
        .number;
    let src = format!("/console/tickets/{number}/recording");
    assert!(
        page.body.contains(&format!("src=\"{src}\"")),
        "{}",
        page.body
    );
    let audio = a.get(&src).await;
    assert_eq!(audio.status, 200, "{}", audio.body);
    assert_eq!(audio.headers["content-type"], "audio/x-wav");
    assert!(audio.body.starts_with("RIFF"), "a WAV file");
    let fetched: Vec<_> = (app.twilio.requests().into_iter())
        .filter(|r| r.path.contains("/Recordings/"))
        .collect();
    assert_eq!(
        fetched.len(),
        2,
        "the resource, then its media: {fetched:?}"
    );
    assert!(
        fetched.iter().all(|r| r.authorized && r.method == "GET"),
        "{fetched:?}"
    );
    let history = store.escalation_history(e.id).await.expect("history");
    assert!(
        history
            .iter()
            .any(|h| h.kind == "listened" && h.actor == "amy"),
        "{history:?}"
    );
    // In Chinese, the case the hotline raised is described in Chinese, in the queue and on
    // its page (the stored summary is English).
    let zh = a
        .post(
            "/console/locale",
            &[("locale", "zh-CN"), ("back", "/console")],
        )
        .await;
    assert!(zh.status < 400, "{zh:?}");
    let words = format!("客户投诉（工单 {number}）");
    let zh_page = a.get(&format!("/console/escalations/{}", e.id)).await;
    assert!(zh_page.body.contains(&words), "{}", zh_page.body);
    assert!(
        !zh_page.body.contains("recorded by phone"),
        "{}",
        zh_page.body
    );
    assert!(a.get("/console").await.body.contains(&words));
    let en = a
        .post(
            "/console/locale",
            &[("locale", "en-US"), ("back", "/console")],
        )
        .await;
    assert!(en.status < 400, "{en:?}");
    assert!(!page.body.contains("<script>alert"));
    // The ticket's page, assign and resolve.
    let ticket = store
        .ticket_by_id(e.ticket_id.expect("ticket"))
        .await
        .expect("read")
        .expect("ticket");
    let tp = format!("/console/tickets/{}", ticket.number);
    let t = a.get(&tp).await;
    assert_eq!(t.status, 200);
    let r = a
        .post(&format!("{tp}/assign"), &[("assignee", "ghost")])
        .await;
    assert_eq!(r.status, 400);
    let r = a
        .post(
            &format!("{tp}/assign"),
            &[("assignee", "amy"), ("note", "mine")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = a
        .post(&format!("{tp}/resolve"), &[("note", "no code")])
        .await;
    assert_eq!(r.status, 400);
    let r = a
        .post(
            &format!("{tp}/resolve"),
            &[("code", "apologised"), ("note", "called back")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = a.post(&format!("{tp}/resolve"), &[("code", "again")]).await;
    assert_eq!(r.status, 409, "{}", r.body);
    let t = store
        .ticket(&ticket.number)
        .await
        .expect("read")
        .expect("ticket");
    assert_eq!(t.assignee.as_deref(), Some("amy"));
    assert_eq!(t.resolution_code.as_deref(), Some("apologised"));
    // The history reads as words: named kinds and fields, local times, no JSON.
    let page = a.get(&tp).await;
    let history = page
        .body
        .split("class=\"history\"")
        .nth(1)
        .expect("history");
    for words in [
        "resolved",
        "Resolution code: apologised; Note: called back",
        "Assignee: amy; Note: mine",
        "Channel: phone; Kind: complaint",
    ] {
        assert!(history.contains(words), "{words}: {history}");
    }
    assert!(
        !history.contains("{&quot;") && !history.contains("_at"),
        "{history}"
    );
    let list = a.get("/console/tickets?kind=complaint").await;
    assert!(list.body.contains(&ticket.number));
    let found = a
        .get(&format!("/console/tickets?number={}", ticket.number))
        .await;
    assert!(found.body.contains(&ticket.number));
    assert_eq!(a.get("/console/callbacks").await.status, 200);
});

both!(language_switch, |app: TestApp| async move {
    add_agent(&app, "amy", Role::Agent).await;
    let a = sign_in(&app, "amy").await;
    assert!(a.get("/console").await.body.contains("Queue"));
    let r = a
        .post(
            "/console/locale",
            &[("locale", "zh-CN"), ("back", "/console/tickets")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location.as_deref(), Some("/console/tickets"));
    assert!(a.get("/console").await.body.contains("待办队列"));
    let r = a
        .post(
            "/console/locale",
            &[("locale", "en-US"), ("back", "https://evil.example/")],
        )
        .await;
    assert_eq!(r.location.as_deref(), Some("/console"), "no open redirect");
});

both!(
    call_the_customer_is_refused_with_a_reason,
    |app: TestApp| async move {
        add_agent(&app, "amy", Role::Agent).await;
        add_agent(&app, "bob", Role::Agent).await;
        let id = raise(&app, "test:call", "a complaint").await;
        let store = &app.state.store;
        let e = escalation(&app, id).await;
        // The demo customer's number, to call back.
        let mut with_number = hotline::escalations::NewEscalation::new(
            e.kind,
            "test:call:number".into(),
            "call me back".into(),
            e.created_at,
        );
        with_number.callback_number = Some("+8613800000001".into());
        let id = store
            .raise_escalation(&with_number)
            .await
            .expect("raise")
            .expect("new")
            .id;
        let a = sign_in(&app, "amy").await;
        let b = sign_in(&app, "bob").await;
        let base = format!("/console/escalations/{id}");
        assert!(a.get(&base).await.body.contains("form-call"));
        assert_eq!(a.post(&format!("{base}/claim"), &[]).await.status, 303);
        let before = history_len(&app, id).await;
        // Someone else's case, or no phone of one's own: refused, with why, nothing recorded.
        let r = b.post(&format!("{base}/call"), &[]).await;
        assert!(
            r.status == 403 || r.status == 409,
            "{} {}",
            r.status,
            r.body
        );
        let r = a.post(&format!("{base}/call"), &[]).await;
        assert_eq!(r.status, 409, "{}", r.body);
        assert!(r.body.contains("id=\"refusal\""), "{}", r.body);
        assert_eq!(history_len(&app, id).await, before);
    }
);

both!(
    a_form_with_a_control_character_is_refused_naming_the_field,
    |app: TestApp| async move {
        add_agent(&app, "sup", Role::Supervisor).await;
        let s = sign_in(&app, "sup").await;
        let r = s
            .post(
                "/console/agents",
                &[
                    ("login", "li.ming"),
                    ("name", "李\u{0}明"),
                    ("role", "agent"),
                    ("password", "a long new password"),
                ],
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains("name"), "{}", r.body);
        let added = app.state.store.agent_by_login("li.ming").await;
        assert!(added.expect("read").is_none());
    }
);

both!(
    supervisors_manage_campaigns_in_the_console,
    |app: TestApp| async move {
        add_agent(&app, "sup", Role::Supervisor).await;
        add_agent(&app, "amy", Role::Agent).await;
        let store = &app.state.store;
        let form = [
            ("name", "after repairs"),
            ("purpose", "satisfaction"),
            ("from_number", "+8610000"),
            ("calls_per_sec", "2"),
        ];
        // Agents see campaigns; only supervisors change them.
        let amy = sign_in(&app, "amy").await;
        assert_eq!(amy.post("/console/campaigns", &form).await.status, 403);
        let sup = sign_in(&app, "sup").await;
        let bad = sup
            .post(
                "/console/campaigns",
                &[("name", "x"), ("purpose", "raffle")],
            )
            .await;
        assert_eq!(bad.status, 400);
        assert!(bad.body.contains("purpose"), "{}", bad.body);
        let made = sup.post("/console/campaigns", &form).await;
        assert_eq!(made.status, 303, "{}", made.body);
        let c = store
            .campaigns()
            .await
            .expect("campaigns")
            .into_iter()
            .find(|c| c.name == "after repairs")
            .expect("created");
        assert_eq!(c.state.as_str(), "draft");
        let base = format!("/console/campaigns/{}", c.id);
        let page = sup
            .get(&format!("/console/callbacks?campaign={}", c.id))
            .await;
        assert!(page.body.contains("id=\"campaign-start\""), "{}", page.body);
        assert!(
            !page.body.contains("id=\"campaign-pause\""),
            "a draft cannot be paused"
        );
        assert_eq!(sup.post(&format!("{base}/start"), &[]).await.status, 303);
        assert_eq!(sup.post(&format!("{base}/start"), &[]).await.status, 409);

        // A pasted list: each row it could not queue is named with its line and why.
        let csv = "number,account_no\n+8613800000002,20000002\nnot a number,\n";
        let queued = sup.post(&format!("{base}/list"), &[("csv", csv)]).await;
        assert_eq!(queued.status, 200, "{}", queued.body);
        assert!(queued.body.contains("Queued: 1"), "{}", queued.body);
        let rejected = queued
            .body
            .split("id=\"rejected\"")
            .nth(1)
            .expect("rejected rows");
        assert!(rejected.contains("<td>3</td>"), "line 3: {rejected}");
        assert_eq!(
            store
                .list_callbacks(c.id, None, 0, 10)
                .await
                .expect("callbacks")
                .len(),
            1
        );

        for (action, state) in [
            ("pause", "paused"),
            ("resume", "running"),
            ("stop", "finished"),
        ] {
            let r = sup.post(&format!("{base}/{action}"), &[]).await;
            assert_eq!(r.status, 303, "{action}: {}", r.body);
            let now = store.campaign(c.id).await.expect("read").expect("campaign");
            assert_eq!(now.state.as_str(), state, "{action}");
        }
        let cb = &store
            .list_callbacks(c.id, None, 0, 10)
            .await
            .expect("callbacks")[0];
        assert_eq!(
            cb.state.as_str(),
            "cancelled",
            "stopping cancels what is pending"
        );
    }
);

both!(an_order_shows_where_it_is_done, |app: TestApp| async move {
    use crate::support::fixtures;
    use hotline::tickets::{Recording, TicketKind};
    let store = &app.state.store;
    let open = |nt| async move { store.open_ticket(&nt, START_MS).await.expect("open") };
    let on_file = open(hotline::tickets::NewTicket {
        address: Some("上海市浦东新区世纪大道100号5号楼1203室".into()),
        ..fixtures::ticket(TicketKind::Installation)
    })
    .await;
    let spoken = open(hotline::tickets::NewTicket {
        recording: Some(Recording {
            url: "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1".into(),
            sid: Some("RE1".into()),
            duration_secs: 14,
        }),
        ..fixtures::ticket(TicketKind::Move)
    })
    .await;
    let missing = open(fixtures::ticket(TicketKind::Installation)).await;
    let fault = open(fixtures::ticket(TicketKind::Fault)).await;
    add_agent(&app, "amy", Role::Agent).await;
    let a = sign_in(&app, "amy").await;
    let address = |body: &str| {
        let start = body.find("id=\"ticket-address\">")?;
        let rest = &body[start + "id=\"ticket-address\">".len()..];
        Some(rest[..rest.find('<')?].to_string())
    };
    let page = |t: &hotline::tickets::Ticket| format!("/console/tickets/{}", t.number);
    for (locale, words) in [
        (
            "en-US",
            [
                "spoken by the customer: see the recording",
                "not given: call the customer for it",
            ],
        ),
        ("zh-CN", ["客户在电话中口述，见录音", "未登记，需致电客户"]),
    ] {
        let r = a
            .post(
                "/console/locale",
                &[("locale", locale), ("back", "/console")],
            )
            .await;
        assert!(r.status < 400, "{r:?}");
        let body = a.get(&page(&on_file)).await.body;
        assert_eq!(
            address(&body).as_deref(),
            Some("上海市浦东新区世纪大道100号5号楼1203室"),
            "{body}"
        );
        let body = a.get(&page(&spoken)).await.body;
        assert_eq!(address(&body).as_deref(), Some(words[0]), "{body}");
        assert!(
            body.contains("<audio controls"),
            "the spoken address plays: {body}"
        );
        let body = a.get(&page(&missing)).await.body;
        assert_eq!(address(&body).as_deref(), Some(words[1]), "{body}");
        // A fault is repaired where its line is: no address row.
        assert_eq!(address(&a.get(&page(&fault)).await.body), None);
    }
});

/// Whether `s` has an English word (three letters or more), leaving out the time zone's name
/// and the settings and call ids a sentence may name.
fn has_english(s: &str) -> bool {
    let s = s
        .replace("Asia/Shanghai", "")
        .replace("HOTLINE_CALLBACK_DIAL=false", "")
        .replace("--demo", "")
        .replace("Twilio", "");
    s.split(|c: char| !c.is_ascii_alphabetic())
        .any(|w| w.len() >= 3)
}

/// The text of the element whose start tag ends with `attr`, up to its closing `tag`.
fn element<'a>(body: &'a str, attr: &str, tag: &str) -> &'a str {
    body.split(&format!("{attr}>"))
        .nth(1)
        .and_then(|rest| rest.split(&format!("</{tag}>")).next())
        .unwrap_or_else(|| panic!("no {attr} in {body}"))
}

async fn speak(c: &Console, locale: &str) {
    let r = c
        .post(
            "/console/locale",
            &[("locale", locale), ("back", "/console")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
}

both!(
    a_callback_is_explained_and_a_campaign_refused_in_the_agents_language,
    |app: TestApp| async move {
        add_agent(&app, "sup", Role::Supervisor).await;
        let store = &app.state.store;
        let sup = sign_in(&app, "sup").await;
        let form = [
            ("name", "修复后回访"),
            ("purpose", "satisfaction"),
            ("from_number", "+8610000"),
            ("calls_per_sec", "2"),
        ];
        assert_eq!(sup.post("/console/campaigns", &form).await.status, 303);
        let c = store.campaigns().await.expect("campaigns")[0].clone();
        let base = format!("/console/campaigns/{}", c.id);
        assert_eq!(sup.post(&format!("{base}/start"), &[]).await.status, 303);
        let csv = "number,account_no\n+8613800000002,20000002\n";
        let queued = sup.post(&format!("{base}/list"), &[("csv", csv)]).await;
        assert_eq!(queued.status, 200, "{}", queued.body);
        let cb = store
            .list_callbacks(c.id, None, 0, 10)
            .await
            .expect("callbacks")[0]
            .clone();
        let page = format!("/console/callbacks/{}", cb.id);

        let en = sup.get(&page).await;
        let why = element(&en.body, "id=\"cb-why\"", "p");
        assert!(why.starts_with("Pending: due"), "{why}");
        assert!(why.contains("Queued"), "{why}");

        speak(&sup, "zh-CN").await;
        let zh = sup.get(&page).await;
        assert_eq!(zh.status, 200);
        let why = element(&zh.body, "id=\"cb-why\"", "p");
        assert!(why.starts_with("待回访：应于"), "{why}");
        assert!(why.contains("排入回访活动“修复后回访”"), "{why}");
        assert!(why.contains("尚未呼叫过。"), "{why}");
        assert!(!has_english(why), "English in the Chinese paragraph: {why}");

        // A campaign that cannot take the action says so in Chinese, with what to do instead.
        let again = sup.post(&format!("{base}/start"), &[]).await;
        assert_eq!(again.status, 409, "{}", again.body);
        let refusal = element(&again.body, "role=\"alert\"", "p");
        assert_eq!(
            refusal,
            format!("回访活动 {} 处于“进行中”状态，不能“开始”。", c.id)
        );
        assert_eq!(sup.post(&format!("{base}/pause"), &[]).await.status, 303);
        let start = sup.post(&format!("{base}/start"), &[]).await;
        assert!(
            element(&start.body, "role=\"alert\"", "p").ends_with("请改用“继续”。"),
            "{}",
            start.body
        );
        // The API keeps its English for integrators.
        let (status, body) = app
            .api_post(
                &format!("/api/v1/campaigns/{}/start", c.id),
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(status, 409, "{body}");
        assert!(
            body.to_string()
                .contains("it cannot be started (resume it instead)"),
            "{body}"
        );
        speak(&sup, "en-US").await;
        let start = sup.post(&format!("{base}/start"), &[]).await;
        assert_eq!(
            element(&start.body, "role=\"alert\"", "p"),
            format!(
                "campaign {} is paused; it cannot be started (resume it instead)",
                c.id
            )
        );
    }
);

both!(
    case_refusals_and_history_are_in_the_agents_language,
    |app: TestApp| async move {
        add_agent(&app, "sup", Role::Supervisor).await;
        add_agent(&app, "amy", Role::Agent).await;
        add_agent(&app, "bob", Role::Agent).await;
        let id = raise(&app, "test:zh", "a complaint").await;
        let base = format!("/console/escalations/{id}");
        let a = sign_in(&app, "amy").await;
        let b = sign_in(&app, "bob").await;
        let s = sign_in(&app, "sup").await;
        assert_eq!(a.post(&format!("{base}/claim"), &[]).await.status, 303);

        speak(&b, "zh-CN").await;
        let r = b.post(&format!("{base}/claim"), &[]).await;
        assert_eq!(r.status, 409, "{}", r.body);
        let refusal = element(&r.body, "id=\"refusal\"", "p");
        assert!(
            refusal.starts_with(&format!("待办 {id} 已被 amy 认领。")),
            "{refusal}"
        );
        assert!(!has_english(&refusal.replace("amy", "")), "{refusal}");
        let r = b
            .post(
                &format!("{base}/reply"),
                &[("text", "好的"), ("via", "phone")],
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(
            element(&r.body, "id=\"refusal\"", "p").contains("由 amy 负责"),
            "{}",
            r.body
        );
        let r = a.post(&format!("{base}/close"), &[("note", "")]).await;
        assert!(
            element(&r.body, "id=\"refusal\"", "p").contains("cannot be closed before the reply"),
            "the English console keeps English: {}",
            r.body
        );

        // What the hotline writes into the history is said in the agent's language too.
        let r = s
            .post(
                &format!("{base}/reassign"),
                &[("to", "bob"), ("reason", "amy 休假")],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let r = b
            .post(
                &format!("{base}/reply"),
                &[("text", "已退款 20 元"), ("via", "sms")],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let page = b.get(&base).await;
        assert!(
            page.body.contains("由 amy 改派给 bob：amy 休假"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("通过短信答复：已退款 20 元"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("from amy to bob"), "{}", page.body);
        let en = a.get(&base).await;
        assert!(en.body.contains("from amy to bob: amy 休假"), "{}", en.body);
        assert!(en.body.contains("by sms: 已退款 20 元"), "{}", en.body);
    }
);

both!(
    a_ticket_refusal_and_the_hotlines_note_are_in_the_agents_language,
    |app: TestApp| async move {
        add_agent(&app, "sup", Role::Supervisor).await;
        let complaint = complaint_from(&app, "王芳").await;
        let ticket = app
            .state
            .store
            .ticket_by_id(complaint.ticket_id.expect("ticket"))
            .await
            .expect("read")
            .expect("ticket");
        let s = sign_in(&app, "sup").await;
        speak(&s, "zh-CN").await;
        // Claiming the case assigns its complaint to the owner, with the hotline's note.
        let case = format!("/console/escalations/{}", complaint.id);
        assert_eq!(s.post(&format!("{case}/claim"), &[]).await.status, 303);
        // A second cause about the ticket joins its case; its entry is said in Chinese.
        let breach = hotline::escalations::NewEscalation::for_ticket_event(
            &ticket,
            "breached",
            complaint.created_at,
        )
        .expect("a breach escalates");
        let joined = app
            .state
            .store
            .raise_escalation(&breach)
            .await
            .expect("raise");
        assert_eq!(
            joined.map(|e| e.id),
            Some(complaint.id),
            "joins the open case"
        );
        let page = s.get(&case).await;
        let history = element(&page.body, "class=\"history\"", "table");
        assert!(
            history.contains(&format!("工单超期：工单 {} 已超过承诺期限", ticket.number)),
            "{history}"
        );
        assert!(
            !history.contains("passed its promised deadline"),
            "{history}"
        );
        let base = format!("/console/tickets/{}", ticket.number);
        let page = s.get(&base).await;
        assert!(page.body.contains("客户待办的负责人"), "{}", page.body);
        assert!(
            !page.body.contains("owner of the customer"),
            "{}",
            page.body
        );
        let resolve = [("code", "fixed"), ("note", "")];
        assert_eq!(
            s.post(&format!("{base}/resolve"), &resolve).await.status,
            303
        );
        let r = s.post(&format!("{base}/resolve"), &resolve).await;
        assert_eq!(r.status, 409, "{}", r.body);
        let refusal = element(&r.body, "id=\"refusal\"", "p");
        assert!(
            refusal.starts_with(&format!(
                "工单 {} 为“已解决”，不能执行“处理完毕”",
                ticket.number
            )),
            "{refusal}"
        );
        assert!(!has_english(refusal), "{refusal}");
    }
);
