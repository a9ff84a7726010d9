//! The end of the working-day calendar, as an operator meets it: deadlines counted past it
//! are marked estimated (with the statutory holidays of the next year counted), and `/readyz`,
//! the console and `hotline calendar check` say the calendar must be extended.

use crate::support::app::{Backend, TestApp, both, shanghai};
use crate::support::console::{add_agent, sign_in};
use crate::support::demo::ZHANG_ACCOUNT;
use hotline::agents::Role;
use serde_json::json;

async fn readyz(app: &TestApp) -> (u16, String) {
    let r = (app.http.get(format!("{}/readyz", app.base)).send().await).expect("readyz");
    (r.status().as_u16(), r.text().await.expect("body"))
}

async fn installation(app: &TestApp) -> serde_json::Value {
    let (status, t) = app
        .api_post(
            "/api/v1/tickets",
            &json!({"kind": "installation", "account_no": ZHANG_ACCOUNT, "line_kind": "broadband"}),
        )
        .await;
    assert_eq!(status, 201, "{t}");
    t
}

both!(
    a_deadline_past_the_calendar_is_estimated_and_the_operator_is_told,
    |app: TestApp| async move {
        add_agent(&app, "amy", Role::Agent).await;
        // June 2026: the calendar covers the coming 60 days; nothing to say.
        assert_eq!(readyz(&app).await, (200, "ready\n".to_string()));
        let t = installation(&app).await;
        assert_eq!(t["deadline_estimated"], false, "{t}");
        let c = sign_in(&app, "amy").await;
        let page = c.get("/console").await;
        assert!(!page.body.contains("calendar"), "{}", page.body);

        // Friday 18 December 2026: fifteen working days run into 2027, past the built-in
        // calendar. 1 January 2027 (a Friday) is New Year's Day by the statutory rule, so
        // the fifteenth working day is Monday 11 January, not Friday 8.
        app.clock.set_ms(shanghai(2026, 12, 18, 10, 0));
        let t = installation(&app).await;
        assert_eq!(t["deadline_at"], "2027-01-11T16:00:00+00:00", "{t}");
        assert_eq!(t["deadline_estimated"], true, "{t}");
        let number = t["number"].as_str().expect("number").to_string();
        let (_, again) = app.api_get(&format!("/api/v1/tickets/{number}")).await;
        assert_eq!(again["deadline_estimated"], true, "stored: {again}");

        let (status, body) = readyz(&app).await;
        assert_eq!(status, 200, "still ready: {body}");
        assert!(
            body.starts_with("ready\ncalendar: the working-day calendar ends on 2026-12-31"),
            "{body}"
        );

        // Six months on, the first session has long ended.
        let c = sign_in(&app, "amy").await;
        let page = c.get(&format!("/console/tickets/{number}")).await;
        assert!(
            page.body
                .contains("The working-day calendar ends on 2026-12-31")
                && page.body.contains("(estimated)"),
            "{}",
            page.body
        );
        let switched = c
            .post(
                "/console/locale",
                &[("locale", "zh-CN"), ("back", "/console")],
            )
            .await;
        assert!(switched.status < 400, "{switched:?}");
        let page = c.get(&format!("/console/tickets/{number}")).await;
        assert!(
            page.body.contains("工作日历只覆盖到 2026-12-31") && page.body.contains("（估算）"),
            "{}",
            page.body
        );
    }
);

#[test]
fn calendar_check_prints_the_range_and_fails_when_it_runs_out() {
    let run = |args: &[&str]| {
        let out = crate::support::cli::command("sqlite::memory:", args)
            .env_remove("HOTLINE_CALENDAR_FILE")
            .output()
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&["calendar", "check", "--today", "2026-06-01"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("covers: 2024-01-01 to 2026-12-31"), "{out}");
    assert!(out.contains("ok: the coming 60 days are covered"), "{out}");

    let (code, out, err) = run(&["calendar", "check", "--today", "2026-12-07"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("covers: 2024-01-01 to 2026-12-31"), "{out}");
    assert!(out.contains("days off assumed in 2027"), "{out}");
    assert!(out.contains("2027-02-05 春节"), "{out}");
    assert!(out.contains("2027-02-09 春节 (in lieu)"), "{out}");
    assert!(
        err.contains("the working-day calendar ends on 2026-12-31"),
        "{err}"
    );

    // A file with the next year passes; one with a bad line names it.
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("cal.csv");
    std::fs::write(&file, "date,kind,name\n2027-01-01,holiday,元旦\n").expect("write");
    let path = file.to_str().expect("utf-8 path");
    let (code, out, err) = run(&["calendar", "check", "--file", path, "--today", "2027-03-01"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("covers: 2027-01-01 to 2027-12-31 (1 holidays"),
        "{out}"
    );
    std::fs::write(&file, "date,kind,name\n2027-02-30,holiday,x\n").expect("write");
    let (code, _, err) = run(&["calendar", "check", "--file", path]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("line 2") && err.contains("2027-02-30"),
        "{err}"
    );
}
