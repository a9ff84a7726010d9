//! End-to-end: real HTTP against a running `hotline`, driven by the carrier simulator (which
//! validates every TwiML body it receives), on SQLite and on PostgreSQL.

use crate::support::app::{Backend, TestApp, both};
use crate::support::demo::{HOTLINE, UNKNOWN};
use crate::support::openapi;
use crate::support::phone::{form, heard};
use hotline::clock::Clock;
use hotline::telephony::twilio::simulator::Call;

/// Calls from an unknown number, picks `lang_key`, presses 1 for the bill and types the
/// account number and `pin`.
async fn bill_by_pin(app: &TestApp, lang_key: &str, account: &str, pin: &str) -> Call {
    let mut call = app.sim.start_call(UNKNOWN, HOTLINE).await.expect("call");
    call.press(lang_key).await.expect("language");
    call.press("1").await.expect("bill");
    call.press(&format!("{account}#")).await.expect("account");
    call.press(&format!("{pin}#")).await.expect("pin");
    call
}

both!(
    caller_identified_by_calling_number_hears_the_bill,
    |app: TestApp| async move {
        let mut call = app
            .sim
            .start_call("+8613800000001", HOTLINE)
            .await
            .expect("call");
        assert!(heard(&call).contains("欢迎致电"), "{}", heard(&call));
        assert!(
            heard(&call).contains("For English, press 2"),
            "no preferred language: the choice is offered"
        );
        call.press("1").await.expect("mandarin");
        assert!(heard(&call).contains("查询话费请按1"), "{}", heard(&call));
        call.press("1").await.expect("bill");
        let bill = heard(&call);
        assert!(bill.contains("来电号码所属账户"), "{bill}");
        assert!(bill.contains("本期应缴话费128元5角"), "{bill}");
        assert!(
            !bill.contains("欠费"),
            "payable on the 15th is not yet in arrears: {bill}"
        );
        assert!(bill.contains("月15日"), "{bill}");
        call.press("2").await.expect("charges");
        assert!(heard(&call).contains("月租费，58元"), "{}", heard(&call));
        call.press("*").await.expect("menu");
        assert!(heard(&call).contains("查询话费请按1"));
        call.hang_up().await.expect("hang up");

        // The call's history is stored, step by step, and readable through the API.
        let (status, rec) = app.api_get(&format!("/api/v1/calls/{}", call.sid())).await;
        assert_eq!(status, 200, "{rec}");
        assert_eq!(rec["status"], "completed");
        assert_eq!(rec["locale"], "zh-CN");
        let steps = rec["steps"].as_array().expect("steps");
        let inputs: Vec<&str> = steps
            .iter()
            .map(|s| s["input"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(inputs, ["", "digits:1", "digits:1", "digits:2", "digits:*"]);
        assert!(steps[2]["said"].as_str().unwrap_or("").contains("128元5角"));
        assert!(
            rec["account_id"].is_number(),
            "the call is linked to the identified account"
        );
    }
);

both!(
    a_bill_past_its_due_date_is_overdue,
    |app: TestApp| async move {
        // The demo bill is due on June 15th; the test day starts on June 1st.
        app.clock.advance_ms(15 * 24 * 3_600_000);
        let mut call = app
            .sim
            .start_call("+8613800000001", HOTLINE)
            .await
            .expect("call");
        call.press("1").await.expect("mandarin");
        call.press("1").await.expect("bill");
        let bill = heard(&call);
        assert!(
            bill.contains("本期话费128元5角已于6月15日到期，目前尚未缴纳，请尽快缴费。"),
            "{bill}"
        );
        assert!(!bill.contains("请在6月15日前缴纳"), "{bill}");
    }
);

both!(
    preferred_language_skips_the_choice,
    |app: TestApp| async move {
        let mut call = app
            .sim
            .start_call("+8613800000002", HOTLINE)
            .await
            .expect("call");
        assert!(
            heard(&call).contains("For your bill, press 1"),
            "{}",
            heard(&call)
        );
        assert!(!heard(&call).contains("普通话请按1"));
        assert!(
            heard(&call).contains("普通话请按9"),
            "a saved language can still be switched: {}",
            heard(&call)
        );
        call.press("1").await.expect("bill");
        let bill = heard(&call);
        assert!(bill.contains("Nothing is due this period"), "{bill}");
        assert!(
            bill.contains("Your account is 36 yuan 05 in credit."),
            "balance in credit: {bill}"
        );
        assert!(!bill.contains("fen"), "one way of saying amounts: {bill}");
    }
);

both!(
    a_caller_with_a_saved_language_switches_to_the_other,
    |app: TestApp| async move {
        // Alice's account prefers English: no language choice, but 9 in the menu.
        let mut call = app
            .sim
            .start_call("+8613800000002", HOTLINE)
            .await
            .expect("call");
        call.press("9").await.expect("switch");
        assert!(
            heard(&call).contains("查询话费请按1"),
            "the menu again, in Mandarin: {}",
            heard(&call)
        );
        assert!(heard(&call).contains("For English, press 9"));
        call.press("1").await.expect("bill");
        assert!(
            heard(&call).contains("本期没有应缴费用"),
            "the bill in Mandarin: {}",
            heard(&call)
        );
        call.hang_up().await.expect("hang up");
        let (status, rec) = app.api_get(&format!("/api/v1/calls/{}", call.sid())).await;
        assert_eq!(status, 200, "{rec}");
        assert_eq!(
            rec["locale"], "zh-CN",
            "the call is in Mandarin from then on"
        );
    }
);

both!(
    caller_identified_by_account_and_pin_in_english,
    |app: TestApp| async move {
        let call = bill_by_pin(&app, "2", "30000003", "2468").await;
        let bill = heard(&call);
        assert!(
            bill.contains("Here is the bill for account 3 0 0 0 0 0 0 3"),
            "{bill}"
        );
        assert!(bill.contains("3680 yuan"), "{bill}");
        assert!(bill.contains("We have no payment on record"), "{bill}");
    }
);

both!(
    no_bill_detail_reaches_an_unidentified_caller,
    |app: TestApp| async move {
        let mut call = app.sim.start_call(UNKNOWN, HOTLINE).await.expect("call");
        call.press("1").await.expect("mandarin");
        call.press("1").await.expect("bill");
        assert!(heard(&call).contains("请输入您的账号"));
        // An unknown account number is asked for its PIN like any other, and a wrong PIN
        // for a real one answers the same words: nothing tells whether an account exists.
        call.press("99999999#").await.expect("unknown account");
        assert!(
            heard(&call).contains("请输入您的查询密码"),
            "{}",
            heard(&call)
        );
        call.press("0000#").await.expect("a PIN for no account");
        let unknown = heard(&call);
        assert!(unknown.contains("账号或密码无法核实"), "{unknown}");
        assert!(unknown.contains("请输入您的账号"), "asked again: {unknown}");
        call.press("10000001#").await.expect("account");
        assert!(heard(&call).contains("请输入您的查询密码"));
        call.press("0000#").await.expect("wrong pin");
        assert_eq!(
            heard(&call),
            unknown,
            "a wrong PIN sounds like an unknown account"
        );
        assert!(
            !call.transcript().join(" ").contains("元"),
            "no amount before identification"
        );
        // The PIN typed never reaches the stored history; what became of it does.
        let (_, rec) = app.api_get(&format!("/api/v1/calls/{}", call.sid())).await;
        let text = rec.to_string();
        assert!(
            text.contains("digits:**** (PIN unknown)")
                && text.contains("digits:**** (PIN wrong)")
                && !text.contains("digits:0000"),
            "{text}"
        );
    }
);

both!(
    three_wrong_pins_lock_the_account_across_calls,
    |app: TestApp| async move {
        // Two wrong PINs in one call, a third in another: the account locks.
        let mut first = bill_by_pin(&app, "1", "10000001", "1111").await;
        first.press("10000001#").await.expect("account again");
        first.press("2222#").await.expect("second wrong pin");
        assert!(heard(&first).contains("无法核实"), "{}", heard(&first));
        first.hang_up().await.expect("hang up");
        let second = bill_by_pin(&app, "1", "10000001", "3333").await;
        assert!(heard(&second).contains("无法核实"), "{}", heard(&second));
        let acc = app
            .state
            .steps
            .store
            .account_by_no("10000001")
            .await
            .expect("store")
            .expect("account");
        assert!(acc.is_locked(app.clock.now_ms()), "{acc:?}");

        // Now even the right PIN discloses nothing, and sounds like any wrong one.
        let third = bill_by_pin(&app, "1", "10000001", "1234").await;
        assert!(!heard(&third).contains("128元"), "{}", heard(&third));
        assert_eq!(heard(&third), heard(&second));
        // The lock guards the PIN, not the customer: their own line still hears the bill.
        let mut own_line = app
            .sim
            .start_call("+8613800000001", HOTLINE)
            .await
            .expect("call");
        own_line.press("1").await.expect("mandarin");
        own_line.press("1").await.expect("bill");
        assert!(
            heard(&own_line).contains("128元5角"),
            "{}",
            heard(&own_line)
        );

        // 30 minutes later the lock has expired.
        app.clock.advance_ms(31 * 60_000);
        let later = bill_by_pin(&app, "1", "10000001", "1234").await;
        assert!(heard(&later).contains("128元5角"), "{}", heard(&later));
    }
);

both!(
    pins_typed_at_once_are_checked_three_at_most,
    |app: TestApp| async move {
        // 30 callers reach the PIN prompt of one account.
        let mut calls = Vec::new();
        for _ in 0..30 {
            let mut call = app.sim.start_call(UNKNOWN, HOTLINE).await.expect("call");
            call.press("1").await.expect("mandarin");
            call.press("1").await.expect("bill");
            call.press("10000001#").await.expect("account");
            calls.push(call);
        }
        let mut right = calls.pop().expect("a call");
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(calls.len()));
        let wrong: Vec<_> = (calls.into_iter().enumerate())
            .map(|(i, mut call)| {
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    call.press(&format!("{}#", 5000 + i)).await.expect("pin");
                    call
                })
            })
            .collect();
        // The right PIN arrives while those are checked, once the budget is spent.
        let store = app.state.store.clone();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            // A poll that finds the pool busy with the calls simply polls again.
            if let Ok(Some(a)) = store.account_by_no("10000001").await
                && a.pin_locked_until.is_some()
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        right.press("1234#").await.expect("right pin");
        let mut calls = vec![right];
        for w in wrong {
            calls.push(w.await.expect("task"));
        }
        let mut checked = 0;
        for call in &calls {
            assert!(!heard(call).contains("元"), "{}", heard(call));
            assert!(heard(call).contains("无法核实"), "{}", heard(call));
            let (_, rec) = app.api_get(&format!("/api/v1/calls/{}", call.sid())).await;
            let last = rec["steps"].as_array().and_then(|s| s.last()).cloned();
            let input = last.map(|s| s["input"].to_string()).unwrap_or_default();
            if input.contains("(PIN wrong)") || input.contains("(PIN right)") {
                checked += 1;
            }
        }
        assert_eq!(checked, 3, "30 PINs at once: three are checked");
        let acc = store
            .account_by_no("10000001")
            .await
            .expect("store")
            .expect("account");
        assert!(acc.is_locked(app.clock.now_ms()), "the lock holds: {acc:?}");
    }
);

both!(
    invalid_keys_and_silence_end_in_a_way_out_not_a_loop,
    |app: TestApp| async move {
        let mut call = app.sim.start_call(UNKNOWN, HOTLINE).await.expect("call");
        call.silence()
            .await
            .expect("silence at the language choice");
        assert!(
            heard(&call).contains("查询话费请按1"),
            "Mandarin by default: {}",
            heard(&call)
        );
        call.press("8").await.expect("invalid");
        assert!(heard(&call).contains("选择无效"));
        call.press("#").await.expect("not a menu key");
        call.silence().await.expect("silence");
        assert!(heard(&call).contains("没有听到"), "{}", heard(&call));
        assert!(
            heard(&call).contains("人工服务请按0，或者直接挂机"),
            "{}",
            heard(&call)
        );
        call.silence().await.expect("silence");
        assert!(heard(&call).contains("再见"));
        assert!(call.has_ended());
    }
);

both!(speech_is_understood_like_keys, |app: TestApp| async move {
    let mut call = app
        .sim
        .start_call("+8613800000001", HOTLINE)
        .await
        .expect("call");
    assert!(call.accepts_speech());
    call.say("english please", 0.8).await.expect("speech");
    assert!(heard(&call).contains("For your bill"), "{}", heard(&call));
    call.say("my bill", 0.9).await.expect("speech");
    assert!(heard(&call).contains("128 yuan 50"), "{}", heard(&call));
});

both!(
    a_retried_webhook_has_its_effects_once,
    |app: TestApp| async move {
        let mut call = bill_by_pin(&app, "1", "10000001", "1111").await;
        let first = call.heard().join(" ");
        assert!(first.contains("无法核实"));
        // Twilio retries the same step: the same TwiML comes back and the failure counts once.
        let replay = call.replay_last().await.expect("replay");
        assert!(replay.contains("无法核实"), "{replay}");
        let replay2 = call.replay_last().await.expect("replay");
        assert_eq!(replay, replay2);
        let acc = app
            .state
            .steps
            .store
            .account_by_no("10000001")
            .await
            .expect("store")
            .expect("account");
        assert_eq!(acc.pin_failures, 1);
        assert_eq!(acc.pin_locked_until, None);
        let (_, rec) = app.api_get(&format!("/api/v1/calls/{}", call.sid())).await;
        assert_eq!(rec["steps"].as_array().map(Vec::len), Some(5), "{rec}");
    }
);

both!(
    forged_and_missing_signatures_are_refused_and_change_nothing,
    |app: TestApp| async move {
        let params = form(&[
            ("CallSid", "CA00000000000000000000000000000001"),
            ("From", "+8613800000001"),
            ("To", HOTLINE),
            ("CallStatus", "ringing"),
        ]);
        let (status, _, _) = app
            .sim
            .unsigned_post("/twilio/voice", &params)
            .await
            .expect("post");
        assert_eq!(status, 403);
        let (status, _, _) = app
            .sim
            .post_with_signature("/twilio/voice", &params, "bm90IGEgc2lnbmF0dXJl")
            .await
            .expect("post");
        assert_eq!(status, 403);
        // Signed for other parameters than those sent.
        let sig = app.sim.signature(
            "/twilio/voice",
            &form(&[("CallSid", "CA00000000000000000000000000000001")]),
        );
        let (status, _, _) = app
            .sim
            .post_with_signature("/twilio/voice", &params, &sig)
            .await
            .expect("post");
        assert_eq!(status, 403);
        // Signed by someone with another token.
        let other = hotline::telephony::twilio::simulator::Simulator::new(
            &app.base,
            "wrong-token",
            crate::support::app::ACCOUNT_SID,
        );
        let (status, _, _) = other
            .signed_post("/twilio/voice", &params)
            .await
            .expect("post");
        assert_eq!(status, 403);
        let (status, _, _) = app
            .sim
            .unsigned_post("/twilio/status", &params)
            .await
            .expect("post");
        assert_eq!(status, 403);
        let (status, rec) = app
            .api_get("/api/v1/calls/CA00000000000000000000000000000001")
            .await;
        assert_eq!(status, 404, "nothing was written: {rec}");
    }
);

both!(
    bad_webhook_input_gets_a_clear_answer,
    |app: TestApp| async move {
        // Missing CallSid: a clear 4xx.
        let (status, _, body) = app
            .sim
            .signed_post("/twilio/voice", &form(&[("From", "+8613800000001")]))
            .await
            .expect("post");
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("CallSid"));
        // Oversized body: refused before it is read.
        let big = "x".repeat(200 * 1024);
        let (status, _, _) = app
            .sim
            .signed_post(
                "/twilio/voice",
                &form(&[
                    ("CallSid", "CA00000000000000000000000000000002"),
                    ("Junk", &big),
                ]),
            )
            .await
            .expect("post");
        assert_eq!(status, 413);
        // Non-UTF-8 bytes, signed as Twilio would: safe TwiML (the caller is unknown).
        let res = app
            .http
            .post(format!("{}/twilio/voice", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", "AAAA")
            .body(vec![0xff, 0xfe, b'=', 0x80])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status().as_u16(), 403);
        // A step URL for a call that never started: safe TwiML that starts it afresh.
        let (status, ctype, body) = app
            .sim
            .signed_post(
                "/twilio/step?s=3&n=menu&t=0&l=zh",
                &form(&[
                    ("CallSid", "CA00000000000000000000000000000003"),
                    ("Digits", "1"),
                ]),
            )
            .await
            .expect("post");
        assert_eq!(status, 200);
        assert!(ctype.starts_with("text/xml"), "{ctype}");
        hotline::telephony::twilio::validate::validate(&body).expect("valid TwiML");
        assert!(body.contains("/twilio/voice"), "{body}");
        // A tampered state (signed, so only a bug could cause it): an apology, not a 500.
        let (status, _, body) = app
            .sim
            .signed_post(
                "/twilio/step?s=abc&n=menu",
                &form(&[("CallSid", "CA00000000000000000000000000000004")]),
            )
            .await
            .expect("post");
        assert_eq!(status, 200);
        hotline::telephony::twilio::validate::validate(&body).expect("valid TwiML");
        assert!(body.contains("系统暂时出现故障"), "{body}");
        // Keys that are not digits are an invalid choice.
        let mut call = app.sim.start_call(UNKNOWN, HOTLINE).await.expect("call");
        call.press("1").await.expect("mandarin");
        let params = form(&[("CallSid", call.sid()), ("Digits", "A<&>")]);
        let (status, _, body) = app
            .sim
            .signed_post("/twilio/step?s=2&n=menu&t=0&l=zh", &params)
            .await
            .expect("post");
        assert_eq!(status, 200);
        hotline::telephony::twilio::validate::validate(&body).expect("valid TwiML");
        assert!(body.contains("选择无效"), "{body}");
    }
);

both!(
    status_callbacks_are_idempotent_and_monotonic,
    |app: TestApp| async move {
        let mut call = app
            .sim
            .start_call("+8613800000001", HOTLINE)
            .await
            .expect("call");
        call.hang_up().await.expect("hang up");
        let late = form(&[
            ("CallSid", call.sid()),
            ("CallStatus", "ringing"),
            ("SequenceNumber", "0"),
            ("From", "+8613800000001"),
            ("To", HOTLINE),
        ]);
        let (status, _, body) = app
            .sim
            .signed_post("/twilio/status", &late)
            .await
            .expect("post");
        assert_eq!(status, 200, "{body}");
        hotline::telephony::twilio::validate::validate(&body).expect("valid TwiML");
        call.hang_up().await.expect("duplicate completed");
        let (_, rec) = app.api_get(&format!("/api/v1/calls/{}", call.sid())).await;
        assert_eq!(rec["status"], "completed", "{rec}");
        let bad = form(&[("CallSid", call.sid()), ("CallStatus", "exploded")]);
        let (status, _, _) = app
            .sim
            .signed_post("/twilio/status", &bad)
            .await
            .expect("post");
        assert_eq!(status, 400);
    }
);

both!(
    api_requires_a_token_and_names_bad_fields,
    |app: TestApp| async move {
        for token in [None, Some("nope")] {
            let mut req = app.http.get(format!("{}/api/v1/accounts", app.base));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let res = req.send().await.expect("get");
            let status = res.status().as_u16();
            let body = res.json().await.unwrap_or(serde_json::Value::Null);
            assert_eq!(status, 401, "{body}");
            openapi::assert_documented("GET", "/api/v1/accounts", status, &body);
        }

        let (status, body) = app
            .api_put(
                "/api/v1/accounts/40000004",
                &serde_json::json!({"name": "王芳", "pin": "12", "lines": []}),
            )
            .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["field"], "pin");
        let (status, body) = app
        .api_put("/api/v1/accounts/40000004", &serde_json::json!({"name": "王芳", "lines": [{"number": "+8613800000009", "kind": "fax"}]}))
        .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some("lines[0].kind")),
            "{body}"
        );
        let (status, body) = app
            .api_put(
                "/api/v1/accounts/40000004",
                &serde_json::json!({"name": "王芳", "surprise": 1}),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"].as_str().unwrap_or("").contains("surprise"),
            "{body}"
        );
        let (status, body) = app
            .api_put("/api/v1/accounts/4x", &serde_json::json!({"name": "王芳"}))
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some("account_no")),
            "{body}"
        );
        // A line that belongs to another account.
        let (status, body) = app
        .api_put("/api/v1/accounts/40000004", &serde_json::json!({"name": "王芳", "lines": [{"number": "+8613800000001", "kind": "phone"}]}))
        .await;
        assert_eq!(status, 409, "{body}");

        let account = serde_json::json!({
            "name": "王芳", "language": "zh-CN", "pin": "4321",
            "lines": [{"number": "+86 138 0000 0004", "kind": "phone"}],
            "bill": {"amount_due": 6600, "due_date": "2026-06-20", "balance": -6600,
                     "charges": [{"category": "broadband", "amount": 6600}]}
        });
        let (status, body) = app.api_put("/api/v1/accounts/40000004", &account).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["lines"][0]["number"], "+8613800000004");
        assert_eq!(body["has_pin"], true);
        assert!(body.get("pin_hash").is_none() && !body.to_string().contains("argon2"));
        let (status, _) = app.api_put("/api/v1/accounts/40000004", &account).await;
        assert_eq!(status, 200, "a second PUT updates");
        let (status, bill) = app.api_get("/api/v1/accounts/40000004/bill").await;
        assert_eq!((status, bill["amount_due"].as_i64()), (200, Some(6600)));

        // The new customer can hear the bill at once.
        let mut call = app
            .sim
            .start_call("+8613800000004", HOTLINE)
            .await
            .expect("call");
        call.press("1").await.expect("bill");
        assert!(heard(&call).contains("66元"), "{}", heard(&call));

        let (status, page) = app.api_get("/api/v1/accounts?limit=2").await;
        assert_eq!(status, 200);
        assert_eq!(page["accounts"].as_array().map(Vec::len), Some(2));
        assert!(page["next_after"].is_number());
        let (status, _) = app.api_get("/api/v1/accounts?limit=0").await;
        assert_eq!(status, 422);
        let (status, _) = app.api_get("/api/v1/accounts/99999999").await;
        assert_eq!(status, 404);
    }
);

both!(health_endpoints, |app: TestApp| async move {
    for path in ["/healthz", "/readyz"] {
        let res = app
            .http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status().as_u16(), 200, "{path}");
    }
});

mod billing_endpoint {
    use std::time::{Duration, Instant};

    use axum::routing::get;

    use super::*;

    /// A billing system that answers after `delay`.
    async fn slow_billing(delay: Duration) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/bill", listener.local_addr().expect("addr"));
        let app = axum::Router::new().route(
            "/bill",
            get(move || async move {
                tokio::time::sleep(delay).await;
                axum::Json(
                    serde_json::json!({"amount_due": 4200, "due_date": "2026-06-30", "balance": 0}),
                )
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        url
    }

    async fn check(backend: Backend) {
        let url = slow_billing(Duration::from_secs(5)).await;
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.billing.url = Some(url);
            c.billing.timeout_ms = 300;
        })
        .await
        else {
            return;
        };
        let mut call = app
            .sim
            .start_call("+8613800000001", HOTLINE)
            .await
            .expect("call");
        call.press("1").await.expect("mandarin");
        let started = Instant::now();
        call.press("1").await.expect("bill");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "answered in {:?}",
            started.elapsed()
        );
        assert!(
            heard(&call).contains("账单系统暂时无法访问"),
            "{}",
            heard(&call)
        );
        assert!(heard(&call).contains("人工服务请按0"), "offered a person");

        let fast = slow_billing(Duration::from_millis(0)).await;
        let Some(app) = TestApp::spawn_with(backend, |c| c.billing.url = Some(fast)).await else {
            return;
        };
        let mut call = app
            .sim
            .start_call("+8613800000001", HOTLINE)
            .await
            .expect("call");
        call.press("1").await.expect("mandarin");
        call.press("1").await.expect("bill");
        assert!(heard(&call).contains("42元"), "{}", heard(&call));
    }

    #[tokio::test]
    async fn sqlite() {
        check(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        check(Backend::Postgres).await;
    }
}

/// The database vanishes: a caller hears an apology in valid TwiML, in time, never a 500.
#[tokio::test]
async fn store_down_answers_an_apology() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let name = app
        .database_url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let server = crate::support::db::server_url();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&server)
        .await
        .expect("admin");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .expect("drop");
    let started = std::time::Instant::now();
    let params = form(&[
        ("CallSid", "CA00000000000000000000000000000009"),
        ("From", "+8613800000001"),
        ("To", HOTLINE),
    ]);
    let (status, ctype, body) = app
        .sim
        .signed_post("/twilio/voice", &params)
        .await
        .expect("post");
    // Within the 2 s every webhook is answered in, with room for a loaded test machine.
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2500),
        "answered in {:?}",
        started.elapsed()
    );
    assert_eq!(status, 200, "{body}");
    assert!(ctype.starts_with("text/xml"));
    hotline::telephony::twilio::validate::validate(&body).expect("valid TwiML");
    assert!(
        body.contains("系统暂时出现故障") && body.contains("<Hangup/>"),
        "{body}"
    );
    let res = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(res.status().as_u16(), 503, "not ready without a store");
}

/// The store goes silent (a network black hole: connections accepted, nothing answered,
/// nothing refused), the hard case of an outage. Every webhook still answers within 2 s (the
/// bound here leaves half a second for a loaded test machine): callers hear an apology, a
/// status report is answered and kept, `/readyz` says 503 within a second. When the network
/// heals, calls are served again without a restart and the report is stored.
#[tokio::test]
async fn store_black_hole_answers_in_time_and_recovers() {
    use std::time::{Duration, Instant};

    use crate::support::blackhole::BlackHole;

    let Some(db) = crate::support::db::pg_url().await else {
        return;
    };
    let (hole, url) = BlackHole::in_front_of(&db).await;
    let app = TestApp::spawn_on(Backend::Postgres, url, None, |_| {}).await;
    let webhook_bound = Duration::from_millis(2500);
    let apology = |body: &str| body.contains("系统暂时出现故障") && body.contains("<Hangup/>");

    // A caller at the menu when the store goes silent; their pool connections are open.
    let mut call = app.sim.start_call(UNKNOWN, HOTLINE).await.expect("call");
    call.press("1").await.expect("mandarin");
    assert!(heard(&call).contains("查询话费请按1"), "{}", heard(&call));
    hole.swallow();

    // New calls, more of them at once than the pool has connections.
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..12 {
        let sim = app.sim.clone();
        calls.spawn(async move {
            let params = form(&[
                ("CallSid", &format!("CA{i:032x}")),
                ("From", "+8613800000001"),
                ("To", HOTLINE),
                ("CallStatus", "ringing"),
            ]);
            let started = Instant::now();
            let answer = sim.signed_post("/twilio/voice", &params).await;
            (started.elapsed(), answer.expect("voice webhook"))
        });
    }
    // The waiting caller presses a key.
    let started = Instant::now();
    let step = app
        .sim
        .signed_post(
            "/twilio/step?s=2&n=menu&t=0&l=zh",
            &form(&[("CallSid", call.sid()), ("Digits", "1")]),
        )
        .await
        .expect("step");
    let step_took = started.elapsed();
    // The caller hangs up: Twilio reports it.
    let started = Instant::now();
    let status = app
        .sim
        .signed_post(
            "/twilio/status",
            &form(&[
                ("CallSid", call.sid()),
                ("CallStatus", "completed"),
                ("SequenceNumber", "3"),
                ("CallDuration", "42"),
                ("From", UNKNOWN),
                ("To", HOTLINE),
            ]),
        )
        .await
        .expect("status");
    let status_took = started.elapsed();
    let started = Instant::now();
    let ready = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz");
    let ready_took = started.elapsed();

    // Each answer: TwiML, in time; an apology where the store had to be read or written.
    let in_time = |what: &str, took: Duration, (code, ctype, body): (u16, String, String)| {
        assert!(took < webhook_bound, "{what} was answered in {took:?}");
        assert_eq!(code, 200, "{what}: {body}");
        assert!(ctype.starts_with("text/xml"), "{what}: {ctype}");
        hotline::telephony::twilio::validate::validate(&body).expect("valid TwiML");
        body
    };
    while let Some(done) = calls.join_next().await {
        let (took, answer) = done.expect("task");
        let body = in_time("a new call", took, answer);
        assert!(apology(&body), "{body}");
    }
    let body = in_time("the step", step_took, step);
    assert!(apology(&body), "{body}");
    in_time("the status report", status_took, status);
    assert!(
        ready_took < Duration::from_millis(1500),
        "/readyz answered in {ready_took:?}"
    );
    assert_eq!(
        ready.status().as_u16(),
        503,
        "not ready while the store is silent"
    );

    // The network heals: no restart, and callers are served again.
    hole.restore();
    let healed = Instant::now();
    loop {
        let mut next = app
            .sim
            .start_call("+8613800000001", HOTLINE)
            .await
            .expect("call");
        if heard(&next).contains("欢迎致电") {
            next.press("1").await.expect("mandarin");
            next.press("1").await.expect("bill");
            assert!(heard(&next).contains("128元5角"), "{}", heard(&next));
            break;
        }
        assert!(
            healed.elapsed() < Duration::from_secs(20),
            "not served again 20 s after the network healed: {}",
            heard(&next)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let res = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(res.status().as_u16(), 200, "ready again");
    // The report that came during the outage was kept and is stored now.
    loop {
        let (code, rec) = app.api_get(&format!("/api/v1/calls/{}", call.sid())).await;
        assert_eq!(code, 200, "{rec}");
        if rec["status"] == "completed" {
            assert_eq!(rec["duration_secs"], 42, "{rec}");
            break;
        }
        assert!(
            healed.elapsed() < Duration::from_secs(30),
            "the status report of the outage was not stored: {rec}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

both!(
    csv_import_keeps_good_rows_and_reports_bad_ones,
    |app: TestApp| async move {
        let csv = "account_no,name,language,customer_class,pin,lines,amount_due,due_date,balance,last_payment_amount,last_payment_date,charges\n\
        50000005,赵六,zh-CN,residential,1357,phone:+8613800000005,88.80,2026-06-25,-88.80,50.00,2026-05-20,monthly_fee:58.00;data:30.80\n\
        5x,Bad Number,,,,,,,,,,\n\
        50000006,Eve,en-US,business,12,phone:+8613800000006,,,,,,\n\
        50000007,Frank,,,,phone:+8613800000007;leased:LL-7,12.3.4,2026-06-25,,,,\n\
        50000008,Grace,en-US,,2468,broadband:BB8,0,2026-07-01,15.00,,,\n";
        let store = app.state.store.clone();
        let mut positions = Vec::new();
        let report = hotline::customers::import::import_csv(
            store.as_ref(),
            csv.as_bytes(),
            crate::support::app::START_MS,
            |p| positions.push(p),
        )
        .await
        .expect("import");
        assert_eq!(report.imported, 2, "{:?}", report.rejected);
        let lines: Vec<u64> = report.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 4, 5], "{:?}", report.rejected);
        assert!(
            report.rejected[0].error.contains("account_no"),
            "{:?}",
            report.rejected[0]
        );
        assert!(
            report.rejected[1].error.contains("pin"),
            "{:?}",
            report.rejected[1]
        );
        assert!(
            report.rejected[2].error.contains("amount_due"),
            "{:?}",
            report.rejected[2]
        );
        assert_eq!(positions.len(), 5, "progress after every row");
        assert!(
            store
                .account_by_no("50000007")
                .await
                .expect("store")
                .is_none(),
            "a bad row writes nothing"
        );

        let mut call = app
            .sim
            .start_call("+8613800000005", HOTLINE)
            .await
            .expect("call");
        call.press("1").await.expect("bill");
        let bill = heard(&call);
        assert!(
            bill.contains("88元8角") && bill.contains("6月25日") && bill.contains("50元"),
            "{bill}"
        );
    }
);

both!(
    signed_non_utf8_input_is_an_invalid_key_not_a_crash,
    |app: TestApp| async move {
        let mut call = app.sim.start_call(UNKNOWN, HOTLINE).await.expect("call");
        call.press("1").await.expect("mandarin");
        let path = "/twilio/step?s=2&n=menu&t=0&l=zh";
        let body = format!("CallSid={}&Digits=%FF%FE", call.sid());
        // Twilio would sign the decoded values; undecodable bytes decode as U+FFFD on both sides.
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let sig = hotline::telephony::twilio::signature::sign(
            crate::support::app::AUTH_TOKEN,
            &format!("{}{path}", app.base),
            &pairs,
        );
        let res = app
            .http
            .post(format!("{}{path}", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", sig)
            .body(body)
            .send()
            .await
            .expect("post");
        assert_eq!(res.status().as_u16(), 200);
        let twiml = res.text().await.expect("body");
        hotline::telephony::twilio::validate::validate(&twiml).expect("valid TwiML");
        assert!(twiml.contains("选择无效"), "{twiml}");
    }
);

#[tokio::test]
async fn start_up_refuses_a_catalog_missing_a_key() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("zh-CN.toml"),
        include_str!("../../prompts/zh-CN.toml"),
    )
    .expect("write");
    let en = include_str!("../../prompts/en-US.toml").replace("goodbye = ", "farewell = ");
    std::fs::write(dir.path().join("en-US.toml"), en).expect("write");
    let (url, _tmp) = crate::support::db::sqlite_url().await;
    let store = hotline::store::connect(&url).await.expect("store");
    let cfg = hotline::config::Config {
        prompts_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let err = hotline::http::AppState::with_store(
        cfg,
        store,
        std::sync::Arc::new(hotline::clock::SystemClock),
    )
    .err()
    .expect("refused");
    assert!(err.to_string().contains("goodbye"), "{err}");
}

/// Whatever reaches a webhook, the carrier gets a 4xx or a well-formed TwiML document (an
/// empty 2xx where it expects no document), never a 5xx.
fn assert_acceptable(what: &str, status: u16, body: &str) {
    assert!(status < 500, "{what}: {status} {body}");
    if (200..300).contains(&status) && !body.trim().is_empty() {
        hotline::telephony::twilio::validate::validate(body)
            .unwrap_or_else(|e| panic!("{what}: not TwiML ({e}): {body}"));
    }
}

both!(
    hostile_requests_get_a_4xx_or_twiml_and_change_nothing,
    |app: TestApp| async move {
        // An innocent caller is mid-call throughout, and the customer data must not move.
        let mut innocent = app
            .sim
            .start_call("+8613800000001", HOTLINE)
            .await
            .expect("call");
        innocent.press("1").await.expect("mandarin");
        let (_, accounts_before) = app.api_get("/api/v1/accounts").await;
        let (_, tickets_before) = app.api_get("/api/v1/tickets").await;

        let nasty = [
            "'; DROP TABLE accounts; --".to_string(),
            "1' OR '1'='1".to_string(),
            "</Say><Dial>+19005550000</Dial><Say>".to_string(),
            "<!DOCTYPE x [<!ENTITY a \"b\">]>&a;&#0;".to_string(),
            "\u{0}NUL\u{0}\u{1}\u{7f}\u{fffe}\u{ffff}".to_string(),
            "${jndi:ldap://127.0.0.1/x}".to_string(),
            "🙂".repeat(2000),
        ];
        let paths = [
            "/twilio/voice",
            "/twilio/step?s=1&n=menu&t=0&l=zh",
            "/twilio/step?s=3&n=ident.pin&t=0&l=zh&p=10000001",
            "/twilio/status",
            "/twilio/transcription",
            "/twilio/survey?cb=1&s=1&n=q&l=zh",
            "/twilio/callback-status",
            "/twilio/queue/wait?l=zh",
            "/twilio/queue/bridge?l=zh",
            "/twilio/agent",
            "/twilio/whisper",
            "/twilio/connect?e=1",
        ];
        let sid = "CA0000000000000000000000000000beef";
        for path in paths {
            for value in &nasty {
                // SQL, markup, NUL and control characters in every field, properly signed.
                let fields = [
                    "CallSid",
                    "From",
                    "To",
                    "Digits",
                    "SpeechResult",
                    "CallStatus",
                    "CallerName",
                    "TranscriptionText",
                    "RecordingUrl",
                    "QueuePosition",
                    "Confidence",
                ];
                let mut params = form(&[("CallSid", sid), ("From", UNKNOWN), ("To", HOTLINE)]);
                params.extend(fields.iter().map(|f| (f.to_string(), value.clone())));
                let (status, _, body) = app.sim.signed_post(path, &params).await.expect("post");
                assert_acceptable(&format!("{path} with {value:?}"), status, &body);
                // The same, one field at a time, so each field's own check is reached.
                for f in fields {
                    let mut params = form(&[
                        ("CallSid", sid),
                        ("From", UNKNOWN),
                        ("To", HOTLINE),
                        ("Digits", "1"),
                    ]);
                    params.retain(|(k, _)| k != f);
                    params.push((f.to_string(), value.clone()));
                    let (status, _, body) = app.sim.signed_post(path, &params).await.expect("post");
                    assert_acceptable(&format!("{path} with {f}={value:?}"), status, &body);
                    assert!(
                        !body.contains("<Dial>+19005550000"),
                        "markup was injected: {body}"
                    );
                }
            }
            // Unknown calls, forged and missing signatures.
            let params = form(&[
                ("CallSid", "CAffffffffffffffffffffffffffffffff"),
                ("From", UNKNOWN),
                ("To", HOTLINE),
                ("Digits", "1"),
            ]);
            let (status, _, body) = app.sim.signed_post(path, &params).await.expect("post");
            assert_acceptable(&format!("{path}, unknown call"), status, &body);
            let (status, _, _) = app.sim.unsigned_post(path, &params).await.expect("post");
            assert_eq!(status, 403, "{path} unsigned");
            let (status, _, _) = app
                .sim
                .post_with_signature(path, &params, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
                .await
                .expect("post");
            assert_eq!(status, 403, "{path} forged");
        }

        // Raw bodies: bad percent-encoding, invalid UTF-8, a 10 MB body, a header bomb.
        let raw = |path: &'static str, body: Vec<u8>, headers: Vec<(String, String)>| {
            let app = &app;
            async move {
                let decoded: Vec<(String, String)> =
                    form_urlencoded::parse(&body).into_owned().collect();
                let mut req = app
                    .http
                    .post(format!("{}{path}", app.base))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-twilio-signature", app.sim.signature(path, &decoded));
                for (k, v) in headers {
                    req = req.header(k, v);
                }
                match req.body(body).send().await {
                    Ok(res) => {
                        let status = res.status().as_u16();
                        (status, res.text().await.unwrap_or_default())
                    }
                    // A connection the server closes on an oversized request is a refusal.
                    Err(_) => (400, String::new()),
                }
            }
        };
        let bodies: Vec<Vec<u8>> = vec![
            format!("CallSid={sid}&From=%ZZ%&To=%&Digits=%C3%28%FF%00").into_bytes(),
            [
                format!("CallSid={sid}&From=").as_bytes(),
                b"\xff\xfe\x00\xc3(",
                b"&Digits=1",
            ]
            .concat(),
            b"\x00\x01\x02=&&&==%%%".to_vec(),
            [
                format!("CallSid={sid}&Junk=").as_bytes(),
                &vec![b'x'; 10 * 1024 * 1024][..],
            ]
            .concat(),
        ];
        for body in bodies {
            for path in [
                "/twilio/voice",
                "/twilio/step?s=1&n=menu&t=0&l=zh",
                "/twilio/status",
            ] {
                let (status, text) = raw(path, body.clone(), Vec::new()).await;
                assert_acceptable(&format!("{path} raw body"), status, &text);
            }
        }
        let bomb: Vec<(String, String)> = (0..400)
            .map(|i| (format!("x-bomb-{i}"), "y".repeat(200)))
            .collect();
        let (status, text) = raw(
            "/twilio/voice",
            format!("CallSid={sid}&From=%2B1&To=%2B2").into_bytes(),
            bomb,
        )
        .await;
        assert_acceptable("header bomb", status, &text);
        let (status, text) = raw(
            "/twilio/voice",
            format!("CallSid={sid}").into_bytes(),
            vec![("x-huge".into(), "z".repeat(200 * 1024))],
        )
        .await;
        assert_acceptable("one huge header", status, &text);

        // Nothing innocent changed: the customers, their tickets, the caller mid-call.
        let (_, accounts_after) = app.api_get("/api/v1/accounts").await;
        let (_, tickets_after) = app.api_get("/api/v1/tickets").await;
        assert_eq!(accounts_after, accounts_before);
        assert_eq!(tickets_after, tickets_before);
        innocent.press("1").await.expect("bill");
        assert!(
            heard(&innocent).contains("128元5角"),
            "{}",
            heard(&innocent)
        );
    }
);

both!(
    a_nul_in_what_one_caller_said_changes_nothing_for_the_others,
    |app: TestApp| async move {
        let mut calls = Vec::new();
        for _ in 0..40 {
            let call = app
                .sim
                .start_call("+8613800000001", HOTLINE)
                .await
                .expect("call");
            assert!(call.accepts_speech());
            calls.push(call);
        }
        // All forty speak at once, so their steps are written in the same batches; one
        // recogniser result carries a NUL, which PostgreSQL cannot store.
        let tasks: Vec<_> = calls
            .into_iter()
            .enumerate()
            .map(|(i, mut call)| {
                tokio::spawn(async move {
                    let said = if i == 17 {
                        "english\0 please"
                    } else {
                        "english please"
                    };
                    call.say(said, 0.8).await.expect("speech");
                    call
                })
            })
            .collect();
        let mut poisoned = None;
        for (i, t) in tasks.into_iter().enumerate() {
            let call = t.await.expect("task");
            assert!(
                heard(&call).contains("For your bill"),
                "caller {i}: {}",
                heard(&call)
            );
            if i == 17 {
                poisoned = Some(call);
            }
        }
        // What the caller said is kept, with the character that could not be.
        let sid = poisoned.expect("caller 17").sid().to_string();
        let (status, rec) = app.api_get(&format!("/api/v1/calls/{sid}")).await;
        assert_eq!(status, 200, "{rec}");
        let input = rec["steps"][1]["input"].as_str().unwrap_or("");
        assert!(
            input.starts_with("speech:english\u{FFFD} please"),
            "{input}"
        );
    }
);

both!(
    out_of_range_bill_numbers_are_refused_naming_the_field,
    |app: TestApp| async move {
        let path = "/api/v1/accounts/10000001/bill";
        let bill = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut b = serde_json::json!({
                "amount_due": 12850, "due_date": "2026-06-15", "balance": -12850,
                "last_payment": {"amount": 9900, "date": "2026-05-10"},
                "charges": [{"category": "monthly_fee", "amount": 5800}]
            });
            f(&mut b);
            b
        };
        let cases: Vec<(serde_json::Value, &str, &str)> = vec![
            (
                bill(&|b| b["balance"] = i64::MIN.into()),
                "balance",
                "-100000000000",
            ),
            (
                bill(&|b| b["balance"] = (-100_000_000_001_i64).into()),
                "balance",
                "100000000000",
            ),
            (
                bill(&|b| b["amount_due"] = 100_000_000_001_i64.into()),
                "amount_due",
                "0 and 100000000000",
            ),
            (
                bill(&|b| b["amount_due"] = (-1).into()),
                "amount_due",
                "0 and",
            ),
            (
                bill(&|b| b["due_date"] = "+99999-01-01".into()),
                "due_date",
                "2100-12-31",
            ),
            (
                bill(&|b| b["due_date"] = "1999-12-31".into()),
                "due_date",
                "2000-01-01",
            ),
            (
                bill(&|b| b["last_payment"]["date"] = "2101-01-01".into()),
                "last_payment.date",
                "2100-12-31",
            ),
            (
                bill(&|b| b["last_payment"]["amount"] = i64::MAX.into()),
                "last_payment.amount",
                "100000000000",
            ),
            (
                bill(&|b| b["charges"][0]["amount"] = i64::MIN.into()),
                "charges[0].amount",
                "100000000000",
            ),
            (
                bill(&|b| {
                    b["charges"] = serde_json::json!([
                        {"category": "monthly_fee", "amount": 100_000_000_000_i64},
                        {"category": "data", "amount": 100_000_000_000_i64}
                    ])
                }),
                "charges",
                "200000000000",
            ),
        ];
        for (body, field, message) in cases {
            let (status, e) = app.api_put(path, &body).await;
            assert_eq!(
                (status, e["field"].as_str()),
                (422, Some(field)),
                "{body} → {e}"
            );
            assert!(e["error"].as_str().unwrap_or("").contains(message), "{e}");
        }
        // Inside an account the same field is named with its place.
        let (status, e) = app
            .api_put(
                "/api/v1/accounts/10000001",
                &serde_json::json!({"name": "张伟", "lines": [{"number": "+8613800000001", "kind": "phone"}],
                                    "bill": bill(&|b| b["balance"] = i64::MIN.into())}),
            )
            .await;
        assert_eq!(
            (status, e["field"].as_str()),
            (422, Some("bill.balance")),
            "{e}"
        );

        // The limits themselves are taken, and the caller hears the largest debt exactly.
        let edge = bill(&|b| {
            b["amount_due"] = 100_000_000_000_i64.into();
            b["balance"] = (-100_000_000_000_i64).into();
            b["due_date"] = "2100-12-31".into();
            b["last_payment"]["date"] = "2000-01-01".into();
        });
        let (status, e) = app.api_put(path, &edge).await;
        assert_eq!(status, 200, "{e}");
        let mut call = app
            .sim
            .start_call("+8613800000001", HOTLINE)
            .await
            .expect("call");
        call.press("1").await.expect("mandarin");
        call.press("1").await.expect("bill");
        assert!(heard(&call).contains("1000000000元"), "{}", heard(&call));
    }
);
