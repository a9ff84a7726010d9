//! End-to-end: campaigns through the JSON API — their life cycle, lists and random samples,
//! a callback's ledger with the plain answer to "why was this customer (not yet) called?",
//! and the campaign report that reproduces the operator's 97.3% — on SQLite and PostgreSQL,
//! with calls placed through the fake Twilio and the `hotline` binary run against the same
//! database.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};

use crate::support::app::{Backend, HOUR, START_MS, TestApp, both};
use crate::support::callbacks::dial;
use crate::support::cli::run;
use crate::support::demo::ALICE;
use crate::support::fixtures;
use hotline::callbacks::repo::{AttemptEnd, CallbackNext};
use hotline::callbacks::{Services, StoredAnswer};
use hotline::calls::step::{Effect, StepWrite};
use hotline::clock::Clock;
use hotline::customers::{AccountWrite, LineKind};
use hotline::prompts::Locale;
use hotline::telephony::twilio::fake_api::{Action, Behaviour};

/// 10:00 in Shanghai on Monday 1 June 2026: inside the default calling window.
const TEN_AM: i64 = START_MS + 2 * HOUR;

/// POST without a body, as life-cycle actions are sent.
async fn act(app: &TestApp, id: i64, action: &str) -> (u16, Value) {
    let path = format!("/api/v1/campaigns/{id}/{action}");
    app.api_send(reqwest::Method::POST, &path, None).await
}

fn campaign_body(name: &str, purpose: &str) -> Value {
    json!({
        "name": name,
        "purpose": purpose,
        "calls_per_sec": 5,
        "from_number": "+8610000",
    })
}

/// Creates a campaign through the API and returns its id.
async fn create(app: &TestApp, body: Value) -> i64 {
    let (status, c) = app.api_post("/api/v1/campaigns", &body).await;
    assert_eq!(status, 201, "{c}");
    c["id"].as_i64().expect("an id")
}

async fn create_running(app: &TestApp, body: Value) -> i64 {
    let id = create(app, body).await;
    let (status, c) = act(app, id, "start").await;
    assert_eq!(status, 200, "{c}");
    id
}

both!(
    campaigns_start_pause_resume_and_stop_and_refuse_the_rest,
    |app: TestApp| async move {
        let (status, c) = app
            .api_post(
                "/api/v1/campaigns",
                &campaign_body("spring survey", "sample_survey"),
            )
            .await;
        assert_eq!(status, 201, "{c}");
        let id = c["id"].as_i64().expect("id");
        assert_eq!(c["state"], "draft");
        assert_eq!(c["pace_ms"], 200);
        assert_eq!(c["calls_per_sec"], 5.0);
        assert_eq!(c["delay_minutes"], 120);
        assert_eq!(c["quiet_days"], 30);
        assert_eq!(c["script"]["id"], "sample-survey");
        assert_eq!(c["window"]["start"], "09:00");
        assert_eq!(c["retry"]["busy"]["delay_minutes"], 15);
        assert_eq!(c["starts_at"], "2026-06-01T00:00:00+00:00");

        let (status, list) = app.api_get("/api/v1/campaigns").await;
        assert_eq!(status, 200);
        assert_eq!(list["campaigns"].as_array().map(Vec::len), Some(1));

        let (status, c) = act(&app, id, "start").await;
        assert_eq!((status, c["state"].as_str()), (200, Some("running")));
        let (status, e) = act(&app, id, "start").await;
        assert_eq!(status, 409);
        assert_eq!(
            e["error"],
            format!("campaign {id} is running; it cannot be started")
        );
        let (status, e) = act(&app, id, "resume").await;
        assert_eq!(status, 409, "{e}");
        let (status, c) = act(&app, id, "pause").await;
        assert_eq!((status, c["state"].as_str()), (200, Some("paused")));
        let (status, e) = act(&app, id, "start").await;
        assert_eq!(status, 409);
        assert_eq!(
            e["error"],
            format!("campaign {id} is paused; it cannot be started (resume it instead)")
        );
        let (status, c) = act(&app, id, "resume").await;
        assert_eq!((status, c["state"].as_str()), (200, Some("running")));

        // A pending callback is cancelled by the stop, and says so.
        let (status, r) = app
            .api_post(
                &format!("/api/v1/campaigns/{id}/callbacks"),
                &json!({ "callbacks": [{ "number": "+8613900000001" }] }),
            )
            .await;
        assert_eq!((status, r["queued"].as_i64()), (200, Some(1)), "{r}");
        let (status, c) = act(&app, id, "stop").await;
        assert_eq!(
            (status, c["state"].as_str()),
            (200, Some("finished")),
            "{c}"
        );
        assert_eq!(c["cancelled_callbacks"], 1);
        let (_, page) = app
            .api_get(&format!("/api/v1/campaigns/{id}/callbacks"))
            .await;
        let cb = &page["callbacks"][0];
        assert_eq!(
            (cb["state"].as_str(), cb["outcome"].as_str()),
            (Some("cancelled"), Some("stopped"))
        );
        let (_, detail) = app
            .api_get(&format!("/api/v1/callbacks/{}", cb["id"]))
            .await;
        let why = detail["why"].as_str().expect("why");
        assert!(
            why.starts_with("Cancelled (stopped) at 2026-06-01 08:00 Asia/Shanghai: not called: campaign \"spring survey\" was stopped before the call."),
            "{why}"
        );

        for action in ["start", "pause", "resume", "stop"] {
            let (status, e) = act(&app, id, action).await;
            assert_eq!(status, 409, "{action}: {e}");
            assert!(
                e["error"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(&format!("campaign {id} is finished"))),
                "{e}"
            );
        }
        // A finished campaign takes no more callbacks.
        let (status, e) = app
            .api_post(
                &format!("/api/v1/campaigns/{id}/callbacks"),
                &json!({ "callbacks": [{ "number": "+8613900000002" }] }),
            )
            .await;
        assert_eq!(status, 409, "{e}");

        // Names are unique; there is one standing campaign at most.
        let (status, e) = app
            .api_post(
                "/api/v1/campaigns",
                &campaign_body("spring survey", "sample_survey"),
            )
            .await;
        assert_eq!(status, 409, "{e}");
        let mut standing = campaign_body("after repairs", "satisfaction");
        standing["standing"] = json!(true);
        create(&app, standing.clone()).await;
        standing["name"] = json!("after repairs, again");
        let (status, e) = app.api_post("/api/v1/campaigns", &standing).await;
        assert_eq!(status, 409, "{e}");
        assert!(
            e["error"].as_str().is_some_and(|m| m.contains("standing")),
            "{e}"
        );

        // Ids: malformed 400, unknown 404.
        let (status, e) = act(&app, 999, "start").await;
        assert_eq!(status, 404, "{e}");
        let (status, e) = app.api_get("/api/v1/campaigns/x1").await;
        assert_eq!((status, e["field"].as_str()), (400, Some("id")), "{e}");
        let (status, _) = app.api_get("/api/v1/callbacks/999").await;
        assert_eq!(status, 404);
    }
);

both!(
    bad_campaigns_are_refused_naming_the_field,
    |app: TestApp| async move {
        let with = |field: &str, value: Value| {
            let mut b = campaign_body("bad", "satisfaction");
            b[field] = value;
            b
        };
        let without = |field: &str| {
            let mut b = campaign_body("bad", "satisfaction");
            b.as_object_mut().map(|o| o.remove(field));
            b
        };
        // A satisfaction script whose first option is on the opt-out key.
        let mut script =
            serde_json::to_value(hotline::surveys::Script::satisfaction()).expect("script");
        script["questions"][0]["answer"]["options"][0]["key"] = json!("9");
        let cases = [
            (
                with("script", script),
                "script",
                "key '9' is reserved for \"do not call me again\"",
            ),
            (
                with(
                    "script",
                    serde_json::to_value(hotline::surveys::Script::appointment()).expect("script"),
                ),
                "script",
                "is for appointment but the campaign's purpose is satisfaction",
            ),
            (
                with("window", json!({ "start": "20:00", "end": "09:00" })),
                "window",
                "start 20:00 must be before end 09:00",
            ),
            (
                with("window", json!({ "days": ["mon", "funday"] })),
                "window",
                "unknown day \"funday\"",
            ),
            (
                with("retry", json!({ "busy": { "max_attempts": 0 } })),
                "retry",
                "retry policy for busy: max_attempts must be between 1 and 20, got 0",
            ),
            (
                with("calls_per_sec", json!(0)),
                "calls_per_sec",
                "must be more than 0 and at most 1000, got 0",
            ),
            (
                with("calls_per_sec", json!(1001)),
                "calls_per_sec",
                "at most 1000",
            ),
            (without("calls_per_sec"), "calls_per_sec", "required"),
            (without("from_number"), "from_number", "required"),
            (
                with("from_number", json!("call me")),
                "from_number",
                "not a phone number",
            ),
            (without("name"), "name", "required"),
            (
                with("purpose", json!("poll")),
                "purpose",
                "unknown purpose \"poll\"; use one of satisfaction, sample_survey, appointment",
            ),
            (
                with("ends_at", json!("2026-05-01T00:00:00Z")),
                "ends_at",
                "must be after starts_at",
            ),
            (
                with("starts_at", json!("tomorrow")),
                "starts_at",
                "RFC 3339",
            ),
            (
                with("delay_minutes", json!(-1)),
                "delay_minutes",
                "between 0",
            ),
        ];
        for (body, field, message) in cases {
            let (status, e) = app.api_post("/api/v1/campaigns", &body).await;
            assert_eq!(status, 422, "{field}: {e}");
            assert_eq!(e["field"], field, "{e}");
            assert!(
                e["error"].as_str().is_some_and(|m| m.contains(message)),
                "{field}: {e}"
            );
        }
        let mut standing = campaign_body("poll", "sample_survey");
        standing["standing"] = json!(true);
        let (status, e) = app.api_post("/api/v1/campaigns", &standing).await;
        assert_eq!(
            (status, e["field"].as_str()),
            (422, Some("standing")),
            "{e}"
        );
        // Wrong JSON types are 400, unknown fields too.
        let (status, _) = app
            .api_post("/api/v1/campaigns", &with("standing", json!("yes")))
            .await;
        assert_eq!(status, 400);
        let (status, _) = app
            .api_post("/api/v1/campaigns", &with("colour", json!("red")))
            .await;
        assert_eq!(status, 400);
        // Nothing was created.
        let (_, list) = app.api_get("/api/v1/campaigns").await;
        assert_eq!(
            list["campaigns"].as_array().map(Vec::len),
            Some(0),
            "{list}"
        );
    }
);

both!(
    a_list_sent_twice_queues_nobody_twice,
    |app: TestApp| async move {
        let id = create(&app, campaign_body("list", "sample_survey")).await;
        let list = json!({ "callbacks": [
            { "number": ALICE, "account_no": "20000002" },
            { "number": "+86 139 0000 0001", "locale": "zh-CN", "timezone": "America/Los_Angeles",
              "due_at": "2026-06-02T09:00:00+08:00" },
            { "number": "call me" },
            { "number": "+8613900000002", "account_no": "99999999" },
            { "number": "+8613900000003", "timezone": "Mars/Olympus" },
            { "number": "+8613900000004", "locale": "fr" },
            { "number": "+8613900000005", "source": "sample:1" },
            { "phone": "+8613900000006" },
        ]});
        let path = format!("/api/v1/campaigns/{id}/callbacks");
        let (status, r) = app.api_post(&path, &list).await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(
            (r["queued"].as_i64(), r["already_owed"].as_i64()),
            (Some(2), Some(0)),
            "{r}"
        );
        let rejected: Vec<(i64, &str)> = r["rejected"]
            .as_array()
            .expect("rejected")
            .iter()
            .map(|x| {
                (
                    x["index"].as_i64().unwrap_or(-1),
                    x["field"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            rejected,
            [
                (2, "number"),
                (3, "account_no"),
                (4, "timezone"),
                (5, "locale"),
                (6, "source"),
                (7, "callbacks")
            ],
            "{r}"
        );
        assert_eq!(r["rejected"][1]["error"], "no account 99999999");

        // The same list again queues nobody.
        let (status, r) = app.api_post(&path, &list).await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(
            (r["queued"].as_i64(), r["already_owed"].as_i64()),
            (Some(0), Some(2)),
            "{r}"
        );

        let (status, page) = app.api_get(&path).await;
        assert_eq!(status, 200, "{page}");
        let cbs = page["callbacks"].as_array().expect("callbacks");
        assert_eq!(cbs.len(), 2, "{page}");
        // Alice's language comes from her account; the other number is as written.
        assert_eq!(cbs[0]["source"], format!("list:{ALICE}"));
        assert_eq!(cbs[0]["locale"], "en-US");
        assert_eq!(cbs[0]["timezone"], "Asia/Shanghai");
        assert!(cbs[0]["account_id"].as_i64().is_some());
        assert_eq!(cbs[1]["to_number"], "+8613900000001");
        assert_eq!(cbs[1]["source"], "list:+8613900000001");
        assert_eq!(cbs[1]["timezone"], "America/Los_Angeles");
        assert_eq!(cbs[1]["due_at"], "2026-06-02T01:00:00+00:00");

        // Pages and states.
        let (_, p1) = app.api_get(&format!("{path}?limit=1")).await;
        assert_eq!(p1["callbacks"].as_array().map(Vec::len), Some(1));
        let next = p1["next_after"].as_i64().expect("next_after");
        let (_, p2) = app.api_get(&format!("{path}?limit=1&after={next}")).await;
        assert_eq!(p2["callbacks"][0]["id"], cbs[1]["id"]);
        assert_eq!(p2["next_after"], Value::Null);
        let (_, done) = app.api_get(&format!("{path}?state=done")).await;
        assert_eq!(done["callbacks"].as_array().map(Vec::len), Some(0));
        let (_, pending) = app.api_get(&format!("{path}?state=pending")).await;
        assert_eq!(pending["callbacks"].as_array().map(Vec::len), Some(2));
        let (status, e) = app.api_get(&format!("{path}?state=waiting")).await;
        assert_eq!((status, e["field"].as_str()), (400, Some("state")), "{e}");
        let (status, e) = app.api_get(&format!("{path}?limit=0")).await;
        assert_eq!((status, e["field"].as_str()), (400, Some("limit")), "{e}");
        let (status, e) = app.api_post(&path, &json!({})).await;
        assert_eq!(
            (status, e["field"].as_str()),
            (422, Some("callbacks")),
            "{e}"
        );
    }
);

/// `(index, reason, same_as)` of each entry a list report says was not queued as a duplicate.
fn duplicates(r: &Value) -> Vec<(i64, String, Option<i64>)> {
    r["duplicates"]
        .as_array()
        .unwrap_or_else(|| panic!("no duplicates in {r}"))
        .iter()
        .map(|d| {
            (
                d["index"].as_i64().unwrap_or(-1),
                d["reason"].as_str().unwrap_or("").to_string(),
                d["same_as"].as_i64(),
            )
        })
        .collect()
}

both!(
    a_list_names_each_entry_it_did_not_queue_for_its_dedup_key_and_why,
    |app: TestApp| async move {
        let id = create(&app, campaign_body("keys", "sample_survey")).await;
        let path = format!("/api/v1/campaigns/{id}/callbacks");
        let list = json!({ "callbacks": [
            { "number": ALICE },
            { "number": "+8613900000007", "dedup_key": "crm-42" },
            // `source` is the key's old name: the same key as the entry before.
            { "number": "+8613900000008", "source": "crm-42" },
            { "number": "+8613900000009", "dedup_key": "a", "source": "b" },
            { "number": "+8613900000010", "source": "sample:7" },
            { "number": ALICE, "locale": "zh-CN" },
        ]});
        let (status, r) = app.api_post(&path, &list).await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(
            (r["queued"].as_i64(), r["already_owed"].as_i64()),
            (Some(2), Some(2)),
            "{r}"
        );
        assert_eq!(
            duplicates(&r),
            [
                (2, "repeated_in_list".to_string(), Some(1)),
                (5, "repeated_in_list".to_string(), Some(0)),
            ],
            "{r}"
        );
        assert_eq!(r["duplicates"][0]["dedup_key"], "crm-42");
        assert_eq!(r["duplicates"][1]["dedup_key"], format!("list:{ALICE}"));
        assert_eq!(
            r["duplicates"][0]["error"],
            "not queued: entry 1 of this list has the same dedup_key \"crm-42\""
        );
        // A bad key is named by the field it was sent in.
        let rejected: Vec<(i64, &str, &str)> = r["rejected"]
            .as_array()
            .expect("rejected")
            .iter()
            .map(|x| {
                (
                    x["index"].as_i64().unwrap_or(-1),
                    x["field"].as_str().unwrap_or(""),
                    x["error"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            rejected,
            [
                (
                    3,
                    "dedup_key",
                    "give dedup_key or its old name source, not both"
                ),
                (
                    4,
                    "source",
                    "keys starting with \"sample:\" are the service's own"
                ),
            ],
            "{r}"
        );

        // Sent again: every good entry is named, the first of each key as already owed.
        let (status, r) = app.api_post(&path, &list).await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(
            (r["queued"].as_i64(), r["already_owed"].as_i64()),
            (Some(0), Some(4)),
            "{r}"
        );
        assert_eq!(
            duplicates(&r),
            [
                (0, "already_owed".to_string(), None),
                (1, "already_owed".to_string(), None),
                (2, "repeated_in_list".to_string(), Some(1)),
                (5, "repeated_in_list".to_string(), Some(0)),
            ],
            "{r}"
        );
        assert_eq!(
            r["duplicates"][1]["error"],
            format!(
                "not queued: campaign {id} already has a callback with dedup_key \"crm-42\" \
                 (this list, or another with the same key, was queued before)"
            )
        );

        // The callbacks show their key under its name and the old one.
        let (_, page) = app.api_get(&path).await;
        let keys: Vec<(&str, &str)> = page["callbacks"]
            .as_array()
            .expect("callbacks")
            .iter()
            .map(|c| {
                (
                    c["dedup_key"].as_str().unwrap_or(""),
                    c["source"].as_str().unwrap_or(""),
                )
            })
            .collect();
        let alice = format!("list:{ALICE}");
        assert_eq!(
            keys,
            [(alice.as_str(), alice.as_str()), ("crm-42", "crm-42")],
            "{page}"
        );

        // A CSV file keys its rows the same way, under either column name.
        let dir = tempfile::tempdir().expect("tmp");
        let import = |name: &str, text: &str| {
            let csv = dir.path().join(name);
            std::fs::write(&csv, text).expect("write csv");
            let path = csv.to_string_lossy().into_owned();
            run(
                &app.database_url,
                &["campaigns", "import", &id.to_string(), &path],
            )
        };
        let out = import(
            "keys.csv",
            "number,dedup_key\n+8613900000020,crm-7\n+8613900000021,crm-7\n+8613900000022,crm-42\n",
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{out:?}");
        assert!(
            stdout.contains("queued 1 callback(s)") && stdout.contains("2 already owed"),
            "{stdout}"
        );
        let out = import("old.csv", "number,source\n+8613900000023,crm-7\n");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("queued 0 callback(s)") && stdout.contains("1 already owed"),
            "{stdout}"
        );
    }
);

/// Adds `n` accounts numbered from `first`, each with a phone line unless `phone` is false,
/// and the other lines given.
async fn load_accounts(app: &TestApp, first: u32, n: u32, phone: bool, others: &[LineKind]) {
    for i in first..first + n {
        let mut lines = Vec::new();
        if phone {
            lines.push(fixtures::line(&format!("+86137{i:08}"), LineKind::Phone));
        }
        for (k, kind) in others.iter().enumerate() {
            lines.push(fixtures::line(&format!("{}-{i}-{k}", kind.as_str()), *kind));
        }
        let write = AccountWrite {
            name: format!("Customer {i}"),
            language: (i % 2 == 0).then_some(Locale::EnUs),
            lines,
            ..fixtures::account(&format!("5{i:07}"), &[])
        };
        app.state
            .steps
            .store
            .put_account(&write, START_MS)
            .await
            .expect("account");
    }
}

/// The accounts a campaign's callbacks are for, with their stratum.
async fn drawn(app: &TestApp, campaign: i64) -> Vec<(i64, Services)> {
    let store = &app.state.store;
    let mut out = Vec::new();
    for cb in store
        .list_callbacks(campaign, None, 0, 1000)
        .await
        .expect("callbacks")
    {
        let account = store
            .account(cb.account_id.expect("a sampled account"))
            .await
            .expect("store")
            .expect("account");
        assert_eq!(cb.source, format!("sample:{}", account.account_no));
        let has = |k: LineKind| account.lines.iter().any(|l| l.kind == k);
        assert!(
            account
                .lines
                .iter()
                .any(|l| l.kind == LineKind::Phone && l.number == cb.to_number),
            "called on one of its phone lines"
        );
        assert_eq!(cb.locale, account.language.unwrap_or(Locale::ZhCn));
        out.push((
            account.id,
            Services {
                broadband: has(LineKind::Broadband),
                leased: has(LineKind::Leased),
            },
        ));
    }
    out
}

fn distinct(ids: &[(i64, Services)]) -> usize {
    ids.iter().map(|(id, _)| *id).collect::<HashSet<_>>().len()
}

both!(
    samples_are_drawn_at_random_by_stratum_and_nobody_twice,
    |app: TestApp| async move {
        // With the demo's three: 26 phone only (one of them opted out), 10 with broadband,
        // 4 with a leased line, 1 with both, and 2 without a phone who cannot be called.
        load_accounts(&app, 1, 24, true, &[]).await;
        load_accounts(&app, 101, 10, true, &[LineKind::Broadband]).await;
        load_accounts(&app, 201, 4, true, &[LineKind::Leased]).await;
        load_accounts(&app, 301, 2, false, &[LineKind::Broadband]).await;
        app.state
            .steps
            .store
            .opt_out("+8613700000001", "test", START_MS)
            .await
            .expect("opt out");

        let stratified = create(&app, campaign_body("stratified", "sample_survey")).await;
        let path = format!("/api/v1/campaigns/{stratified}/sample");
        let (status, r) = app
            .api_post(&path, &json!({ "size": 10, "stratify_by": "line_kind" }))
            .await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(
            (r["population"].as_i64(), r["queued"].as_i64()),
            (Some(40), Some(10)),
            "{r}"
        );
        assert_eq!(r["stratified_by"], "line_kind");
        let per: BTreeMap<String, (i64, i64, i64)> = r["strata"]
            .as_array()
            .expect("strata")
            .iter()
            .map(|s| {
                (
                    s["stratum"].as_str().unwrap_or("").to_string(),
                    (
                        s["population"].as_i64().unwrap_or(-1),
                        s["allocated"].as_i64().unwrap_or(-1),
                        s["queued"].as_i64().unwrap_or(-1),
                    ),
                )
            })
            .collect();
        // 25, 10, 4, 1 of 40: 6.25, 2.5, 1, 0.25 → 6, 3, 1, 0 → one for the smallest.
        let want: BTreeMap<String, (i64, i64, i64)> = [
            ("phone", (25, 5, 5)),
            ("phone+broadband", (10, 3, 3)),
            ("phone+leased", (4, 1, 1)),
            ("phone+broadband+leased", (1, 1, 1)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(per, want, "{r}");
        let first = drawn(&app, stratified).await;
        assert_eq!((first.len(), distinct(&first)), (10, 10));
        let count = |s: Services| first.iter().filter(|(_, t)| *t == s).count();
        assert_eq!(
            Services::ALL.map(count),
            [5, 3, 1, 1],
            "the accounts drawn are of their strata"
        );

        // The rest: nobody drawn twice, nobody opted out, nobody without a phone.
        let (status, r) = app
            .api_post(&path, &json!({ "size": 100, "stratify_by": "line_kind" }))
            .await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(
            (r["population"].as_i64(), r["queued"].as_i64()),
            (Some(30), Some(30)),
            "{r}"
        );
        let all = drawn(&app, stratified).await;
        assert_eq!((all.len(), distinct(&all)), (40, 40));
        let (status, r) = app.api_post(&path, &json!({ "size": 5 })).await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(
            (r["population"].as_i64(), r["queued"].as_i64()),
            (Some(0), Some(0)),
            "{r}"
        );

        // Without strata: 10 of all 40, independent of the other campaign.
        let plain = create(&app, campaign_body("plain", "sample_survey")).await;
        let (status, r) = app
            .api_post(
                &format!("/api/v1/campaigns/{plain}/sample"),
                &json!({ "size": 10 }),
            )
            .await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(r["stratified_by"], Value::Null);
        assert_eq!(
            r["strata"],
            json!([{ "stratum": "all", "population": 40, "allocated": 10, "queued": 10 }])
        );
        let sample = drawn(&app, plain).await;
        assert_eq!((sample.len(), distinct(&sample)), (10, 10));

        for (body, field) in [
            (json!({ "size": 0 }), "size"),
            (json!({}), "size"),
            (json!({ "size": 5, "stratify_by": "colour" }), "stratify_by"),
        ] {
            let (status, e) = app.api_post(&path, &body).await;
            assert_eq!((status, e["field"].as_str()), (422, Some(field)), "{e}");
        }
    }
);

both!(
    why_a_customer_was_not_called_yet_after_no_answer,
    |app: TestApp| async move {
        let id = create_running(&app, campaign_body("after repairs", "satisfaction")).await;
        app.clock.set_ms(TEN_AM);
        let (status, r) = app
            .api_post(
                &format!("/api/v1/campaigns/{id}/callbacks"),
                &json!({ "callbacks": [{ "number": ALICE, "account_no": "20000002" }] }),
            )
            .await;
        assert_eq!((status, r["queued"].as_i64()), (200, Some(1)), "{r}");
        let (_, page) = app
            .api_get(&format!("/api/v1/campaigns/{id}/callbacks"))
            .await;
        let cb = page["callbacks"][0]["id"].as_i64().expect("callback id");

        let (_, before) = app.api_get(&format!("/api/v1/callbacks/{cb}")).await;
        assert_eq!(
            before["why"],
            "Pending: due since 2026-06-01 10:00 Asia/Shanghai, inside the calling window; \
             a dialer takes it on its next round. Queued 2026-06-01 10:00 in campaign \
             \"after repairs\": on a list sent through the API (source list:+8613800000002). \
             No attempt has been made. This instance does not dial callbacks \
             (HOTLINE_CALLBACK_DIAL=false, --demo, or no Twilio account): nothing here will \
             call the customer; only an instance with the dialer on will."
        );

        app.twilio.on(ALICE, Behaviour::NoAnswer);
        let round = dial(&app).await;
        assert_eq!(round.placed, 1);
        assert_eq!(app.twilio.placed_to(ALICE), 1);

        let (status, x) = app.api_get(&format!("/api/v1/callbacks/{cb}")).await;
        assert_eq!(status, 200, "{x}");
        assert_eq!(x["callback"]["state"], "pending");
        assert_eq!(x["callback"]["attempts"], 1);
        assert_eq!(x["callback"]["due_at"], "2026-06-01T03:00:00+00:00");
        let attempts = x["attempts"].as_array().expect("attempts");
        assert_eq!(attempts.len(), 1, "{x}");
        assert_eq!(attempts[0]["outcome"], "no_answer");
        assert_eq!(attempts[0]["state"], "ended");
        assert!(
            attempts[0]["provider_call_id"]
                .as_str()
                .is_some_and(|s| s.starts_with("CA"))
        );
        let kinds: Vec<&str> = x["ledger"]
            .as_array()
            .expect("ledger")
            .iter()
            .filter_map(|e| e["kind"].as_str())
            .collect();
        assert_eq!(kinds, ["queued", "dialing", "placed", "ended", "retry"]);
        assert_eq!(x["answers"], json!([]));
        assert_eq!(x["campaign"]["name"], "after repairs");
        let why = x["why"].as_str().expect("why");
        assert_eq!(
            why,
            "Pending: due 2026-06-01 11:00 Asia/Shanghai, inside the calling window. \
             Queued 2026-06-01 10:00 in campaign \"after repairs\": on a list sent through the API \
             (source list:+8613800000002). Attempt 1 (no answer) at 2026-06-01 10:00. \
             Retried because: no answer (attempt 1 of 3); next try at 2026-06-01 11:00 \
             Asia/Shanghai, inside the calling window. This instance does not dial callbacks \
             (HOTLINE_CALLBACK_DIAL=false, --demo, or no Twilio account): nothing here will \
             call the customer; only an instance with the dialer on will."
        );

        // The same answer, and the ledger, from the command line.
        let out = run(&app.database_url, &["callbacks", "why", &cb.to_string()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("Attempt 1 (no answer) at 2026-06-01 10:00. Retried because: no answer (attempt 1 of 3)"),
            "{stdout}"
        );
        let lines: Vec<&str> = stdout.lines().collect();
        assert!(
            lines.iter().any(|l| l
                .starts_with("2026-06-01 10:00:00  queued      on a list sent through the API")),
            "{stdout}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l
                    .starts_with("2026-06-01 10:00:00  retry       no answer (attempt 1 of 3)")),
            "{stdout}"
        );
        let out = run(&app.database_url, &["callbacks", "why", "424242"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("there is no callback 424242"));

        // A CSV list from the command line: good rows queued, the bad one named, exit 2.
        let dir = tempfile::tempdir().expect("tmp");
        let csv = dir.path().join("list.csv");
        std::fs::write(
            &csv,
            "number,account_no,locale,timezone\n\
             +8613900000011,,en-US,Asia/Shanghai\n\
             +8613900000012,20000002,,\n\
             not a number,,,\n\
             +8613900000013,,,Europe/London\n",
        )
        .expect("write csv");
        let path = csv.to_string_lossy().into_owned();
        let out = run(
            &app.database_url,
            &["campaigns", "import", &id.to_string(), &path],
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
        assert!(stdout.contains("queued 3 callback(s)"), "{stdout}");
        assert!(
            stderr.contains("line 4: number: \"not a number\" is not a phone number"),
            "{stderr}"
        );
        let out = run(
            &app.database_url,
            &["campaigns", "import", &id.to_string(), &path],
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("queued 0 callback(s)") && stdout.contains("3 already owed"),
            "{stdout}"
        );
        let store = &app.state.store;
        let imported = store
            .list_callbacks(id, None, cb, 10)
            .await
            .expect("callbacks");
        let got: Vec<(&str, &str, &str)> = imported
            .iter()
            .map(|c| (c.to_number.as_str(), c.locale.tag(), c.timezone.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("+8613900000011", "en-US", "Asia/Shanghai"),
                ("+8613900000012", "en-US", "Asia/Shanghai"),
                ("+8613900000013", "zh-CN", "Europe/London"),
            ]
        );
        assert!(
            store.ledger(imported[0].id).await.expect("ledger")[0]
                .detail
                .contains("imported from list.csv")
        );
    }
);

/// Writes a survey answered through the store as the survey flow does: an attempt recorded,
/// placed and answered, its answers committed as effects of a call step.
async fn answered_directly(app: &TestApp, callback_id: i64, n: usize, answers: &[(&str, &str)]) {
    let store = &app.state.store;
    let now = app.clock.now_ms();
    let attempt = store
        .begin_attempt(callback_id, "dialing (test)", now)
        .await
        .expect("attempt");
    let sid = format!("CAdirect{n:08}");
    assert!(
        store
            .attempt_placed(&attempt, &sid, "the carrier placed the call", now)
            .await
            .expect("placed")
    );
    let effects = answers
        .iter()
        .map(|(question, answer)| Effect::SurveyAnswer {
            callback_id,
            attempt_id: attempt.id,
            question: question.to_string(),
            answer: answer.to_string(),
            score: (*question == "fixed").then_some(if *answer == "yes" { 100.0 } else { 0.0 }),
        })
        .collect();
    store
        .commit_steps(&[StepWrite {
            node: "survey.q2".into(),
            input: "1".into(),
            ..fixtures::survey_step(&sid, now, effects)
        }])
        .await
        .expect("commit");
    assert!(
        store
            .end_attempt(&AttemptEnd {
                attempt_id: attempt.id,
                callback_id,
                attempt_no: attempt.attempt_no,
                at: now,
                call_status: Some("completed".into()),
                answered_by: Some("human".into()),
                outcome: "answered".into(),
                counts: true,
                provider_call_id: Some(sid),
                next: CallbackNext::Done {
                    outcome: "reached".into(),
                },
                ledger: vec![
                    ("ended".into(), "the customer answered".into()),
                    (
                        "done".into(),
                        "answered (attempt 1); the customer was reached".into()
                    ),
                ],
                followup: None,
            })
            .await
            .expect("end")
    );
}

both!(
    the_satisfaction_report_reproduces_the_operators_97_3_percent,
    |app: TestApp| async move {
        let mut body = campaign_body("after repairs", "satisfaction");
        body["calls_per_sec"] = json!(1000);
        let id = create_running(&app, body).await;
        app.clock.set_ms(TEN_AM);
        let path = format!("/api/v1/campaigns/{id}/callbacks");
        let number = |i: usize| format!("+86139{i:08}");

        // Three customers answer real calls: very, basically, and not satisfied.
        let real: Vec<Value> = (0..3).map(|i| json!({ "number": number(i) })).collect();
        let (status, r) = app.api_post(&path, &json!({ "callbacks": real })).await;
        assert_eq!((status, r["queued"].as_i64()), (200, Some(3)), "{r}");
        for (i, keys) in [("1", "1"), ("2", "1"), ("3", "2")].into_iter().enumerate() {
            app.twilio.on(
                &number(i),
                Behaviour::answer(vec![
                    Action::Press(keys.0.into()),
                    Action::Press(keys.1.into()),
                    Action::Record(0),
                ]),
            );
        }
        for _ in 0..5 {
            dial(&app).await;
            app.clock.advance_ms(1000);
        }
        for i in 0..3 {
            assert_eq!(app.twilio.placed_to(&number(i)), 1);
        }

        // The other 218 are written as the survey writes them: 200 very, 13 basic, 5 not;
        // three of them hung up before "was it fixed?" (partial surveys).
        let rest: Vec<Value> = (3..221).map(|i| json!({ "number": number(i) })).collect();
        let (status, r) = app.api_post(&path, &json!({ "callbacks": rest })).await;
        assert_eq!((status, r["queued"].as_i64()), (200, Some(218)), "{r}");
        let store = &app.state.store;
        let cbs = store
            .list_callbacks(id, None, 0, 1000)
            .await
            .expect("callbacks");
        assert_eq!(cbs.len(), 221);
        for (n, cb) in cbs.iter().skip(3).enumerate() {
            let value = match n {
                0..200 => "very",
                200..213 => "basic",
                _ => "dissatisfied",
            };
            let fixed = if value == "dissatisfied" { "no" } else { "yes" };
            if n < 3 {
                answered_directly(&app, cb.id, n, &[("satisfaction", value)]).await;
            } else {
                answered_directly(&app, cb.id, n, &[("satisfaction", value), ("fixed", fixed)])
                    .await;
            }
        }
        let first: Vec<StoredAnswer> = store.answers(cbs[0].id).await.expect("answers");
        assert_eq!(first[0].answer, "very", "{first:?}");

        let (status, r) = app.api_get(&format!("/api/v1/campaigns/{id}/report")).await;
        assert_eq!(status, 200, "{r}");
        let s = &r["satisfaction"];
        assert_eq!(s["rate"], 97.3, "{r}");
        assert_eq!(s["denominator"], 221);
        assert_eq!(
            (
                s["very"].as_i64(),
                s["basic"].as_i64(),
                s["dissatisfied"].as_i64()
            ),
            (Some(201), Some(14), Some(6))
        );
        assert_eq!(
            s["text"],
            "97.3% satisfied (201 very + 14 basically satisfied, of 221 who answered)"
        );
        for (figure, want) in [
            ("owed", 221),
            ("called", 221),
            ("reached", 221),
            ("answered", 221),
            ("partial", 3),
            ("opted_out", 0),
        ] {
            assert_eq!(r[figure], want, "{figure}: {r}");
        }
        assert_eq!(
            r["states"],
            json!({ "pending": 0, "dialing": 0, "done": 221, "cancelled": 0 })
        );
        assert_eq!(r["outcomes"], json!({ "reached": 221 }));
        let q = &r["questions"];
        assert_eq!(q[0]["key"], "satisfaction");
        assert_eq!(
            q[0]["counts"],
            json!([
                { "value": "very", "count": 201 },
                { "value": "basic", "count": 14 },
                { "value": "dissatisfied", "count": 6 }
            ])
        );
        assert_eq!(q[0]["mean_score"], Value::Null);
        assert_eq!(q[1]["key"], "fixed");
        assert_eq!(q[1]["answered"], 218);
        assert_eq!(
            q[1]["counts"],
            json!([{ "value": "yes", "count": 212 }, { "value": "no", "count": 6 }])
        );
        let mean = q[1]["mean_score"].as_f64().expect("a mean");
        assert!((mean - 212.0 * 100.0 / 218.0).abs() < 1e-9, "{mean}");
        assert_eq!(
            (q[2]["key"].as_str(), q[2]["kind"].as_str()),
            (Some("comment"), Some("comment"))
        );

        // The campaign shows its report too; the dissatisfied caller is followed up.
        let (_, c) = app.api_get(&format!("/api/v1/campaigns/{id}")).await;
        assert_eq!(c["report"]["satisfaction"]["denominator"], 221, "{c}");
        let (status, f) = app.api_get("/api/v1/followups?limit=10").await;
        assert_eq!(status, 200, "{f}");
        let kinds: Vec<&str> = f["followups"]
            .as_array()
            .expect("followups")
            .iter()
            .filter_map(|x| x["kind"].as_str())
            .collect();
        assert_eq!(kinds, ["satisfaction:dissatisfied", "fixed:no"], "{f}");

        // And the command line says the same.
        let out = run(&app.database_url, &["campaigns", "report", &id.to_string()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("Satisfaction: 97.3% satisfied (201 very + 14 basically satisfied, of 221 who answered)"),
            "{stdout}"
        );
        assert!(stdout.contains("answered: 221 (partial 3)"), "{stdout}");
    }
);
