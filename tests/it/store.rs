//! The store conformance suite: every case is written once, against `dyn Store`, and run on
//! SQLite and on PostgreSQL (`sqlite::<case>` and `pg::<case>`).
//!
//! Rules: each case gets a fresh database; cases check behaviour through the trait, and read
//! tables directly only for what the trait does not expose (stored status events).

use std::collections::HashSet;
use std::sync::Arc;

use crate::support::db;
use crate::support::fixtures::{self, account};
use chrono::NaiveDate;
use hotline::billing::{Bill, Charge, Payment};
use hotline::calls::step::{Effect, Milestone, NewCall, StatusEvent, StepOutcome, StepWrite};
use hotline::calls::writer::StepWriter;
use hotline::customers::{CustomerClass, Line, LineKind};
use hotline::prompts::Locale;
use hotline::repo::{Store, StoreError};
use hotline::tickets::{Action, Channel, NewTicket, Origin, TicketFilter, TicketKind, TicketState};
use hotline::webhooks::NewEndpoint;

/// A store under test and the URL it was opened with (for direct reads).
struct Db {
    store: Arc<dyn Store>,
    url: String,
}

/// Generates `sqlite::<case>` and `pg::<case>` for every case in `cases`.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (url, _dir) = super::db::sqlite_url().await;
                    super::cases::$case(super::open(url).await).await;
                }
            )*
        }
        mod pg {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(url) = super::db::pg_url().await else { return };
                    super::cases::$case(super::open(url).await).await;
                }
            )*
        }
    };
}

conformance!(
    migrates_twice_and_pings,
    query_layer_binds_round_trip,
    account_create_update_keeps_pin_and_bill,
    pin_hash_set_and_cleared,
    line_conflict_changes_nothing,
    duplicate_line_in_one_write_is_a_conflict,
    lookups,
    list_accounts_pages,
    bill_round_trip,
    steps_create_call_and_record,
    replay_returns_stored_response_and_applies_effects_once,
    unknown_call,
    same_step_twice_in_one_batch,
    pin_lock_and_expiry,
    pin_guesses_at_once_are_counted_atomically,
    pin_right_guess_stands_only_if_nothing_was_counted_since,
    large_batch,
    large_responses,
    status_duplicates_stored_once,
    status_out_of_order_keeps_final,
    status_creates_unknown_call,
    step_writer_end_to_end,
    one_refused_write_fails_only_itself,
    ticket_open_is_idempotent_per_call_step,
    ticket_changes_follow_the_state_machine_and_history,
    ticket_breaches_are_marked_once_at_the_deadline,
    ticket_list_filters_and_pages,
    ticket_events_feed_and_webhook_fan_out,
);

async fn open(url: String) -> Db {
    let store = hotline::store::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    Db { store, url }
}

/// Rows of `call_events` for a call, read directly.
async fn stored_events(url: &str, call_sid: &str) -> i64 {
    const SQL: &str = "SELECT COUNT(*) FROM call_events e JOIN calls c ON c.id = e.call_id \
         WHERE c.call_sid = $1";
    let n: Result<i64, sqlx::Error> = if url.starts_with("sqlite:") {
        let pool = sqlx::sqlite::SqlitePool::connect(url)
            .await
            .expect("open sqlite");
        sqlx::query_scalar(SQL)
            .bind(call_sid)
            .fetch_one(&pool)
            .await
    } else {
        let pool = sqlx::postgres::PgPool::connect(url).await.expect("open pg");
        sqlx::query_scalar(SQL)
            .bind(call_sid)
            .fetch_one(&pool)
            .await
    };
    n.expect("count call events")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn line(number: &str) -> Line {
    fixtures::line(number, LineKind::Phone)
}

fn bill() -> Bill {
    Bill {
        currency: "CNY".into(),
        amount_due: 12_850,
        due_date: date(2025, 2, 28),
        balance: -12_850,
        last_payment: Some(Payment {
            amount: 9_900,
            date: date(2024, 12, 31),
        }),
        charges: vec![
            Charge {
                category: "monthly_fee".into(),
                description: "套餐月费".into(),
                amount: 8_800,
            },
            Charge {
                category: "international".into(),
                description: "International calls".into(),
                amount: 4_050,
            },
        ],
    }
}

fn new_call() -> NewCall {
    NewCall {
        direction: "inbound".into(),
        from_number: "+8613800000001".into(),
        to_number: "+861010000".into(),
    }
}

/// Step `seq` of `sid` at `seq * 1000` ms; the first step creates the call.
fn step(sid: &str, seq: i32, effects: Vec<Effect>) -> StepWrite {
    StepWrite {
        call_sid: sid.into(),
        seq,
        new_call: (seq == 1).then(new_call),
        node: "menu".into(),
        input: format!("digits:{seq}"),
        said: format!("said {seq}"),
        response: format!("<Response>{sid}/{seq}</Response>"),
        at: i64::from(seq) * 1000,
        effects,
    }
}

fn status(sid: &str, status: &str, is_final: bool, sequence: Option<i64>, at: i64) -> StatusEvent {
    StatusEvent {
        call_sid: sid.into(),
        status: status.into(),
        is_final,
        sequence,
        duration_secs: is_final.then_some(42),
        at,
        new_call: new_call(),
    }
}

async fn commit(db: &Db, steps: &[StepWrite]) -> Vec<StepOutcome> {
    db.store.commit_steps(steps).await.expect("commit steps")
}

fn replayed(response: &str) -> StepOutcome {
    StepOutcome::Replayed {
        response: response.into(),
    }
}

mod cases {
    use super::*;

    pub async fn migrates_twice_and_pings(db: Db) {
        db.store.migrate().await.expect("migrate again");
        db.store.ping().await.expect("ping");
    }

    /// Every kind of value the query layer binds (nulls included, which keep their type)
    /// reads back by column name, on a reader and in a write transaction; a scalar statement
    /// with two columns is refused.
    pub async fn query_layer_binds_round_trip(db: Db) {
        use hotline::store::probe::{Echo, echo};
        let e = Echo {
            int: i64::MIN,
            int4: -7,
            float: 2.5,
            yes: true,
            text: "naïve 'quoted'".into(),
            owned: String::new(),
            no_int: None,
            no_int4: None,
            no_float: None,
            no_bool: None,
            no_text: None,
        };
        let (read, written, refused) = echo(&db.url, &e).await.expect("echo");
        assert_eq!(read, e);
        assert_eq!(written, e);
        assert!(
            refused,
            "a scalar statement with two columns must be refused"
        );
    }

    pub async fn account_create_update_keeps_pin_and_bill(db: Db) {
        let mut w = account("A-1", &["+8613900000002", "+8613900000001"]);
        w.language = Some(Locale::EnUs);
        w.customer_class = CustomerClass::Business;
        w.pin_hash = Some(Some("$argon2id$h1".into()));
        w.lines[0].kind = LineKind::Broadband;
        w.lines[0].label = Some("office".into());
        w.bill = Some(bill());
        let a = db.store.put_account(&w, 1_000).await.expect("create");
        assert!(a.id > 0);
        assert_eq!(a.account_no, "A-1");
        assert_eq!(a.name, "Customer A-1");
        assert_eq!(a.language, Some(Locale::EnUs));
        assert_eq!(a.customer_class, CustomerClass::Business);
        assert_eq!(a.pin_hash.as_deref(), Some("$argon2id$h1"));
        assert_eq!((a.pin_failures, a.pin_locked_until), (0, None));
        assert_eq!((a.created_at, a.updated_at), (1_000, 1_000));
        let numbers: Vec<&str> = a.lines.iter().map(|l| l.number.as_str()).collect();
        assert_eq!(
            numbers,
            ["+8613900000001", "+8613900000002"],
            "ordered by number"
        );
        assert_eq!(a.lines[1].kind, LineKind::Broadband);
        assert_eq!(a.lines[1].label.as_deref(), Some("office"));

        // Update: new name and lines, PIN and bill not given, so both are kept.
        let mut w2 = account("A-1", &["+8613900000003"]);
        w2.name = "Renamed".into();
        w2.language = Some(Locale::ZhCn);
        let b = db.store.put_account(&w2, 2_000).await.expect("update");
        assert_eq!(b.id, a.id);
        assert_eq!(b.name, "Renamed");
        assert_eq!(b.language, Some(Locale::ZhCn));
        assert_eq!(b.customer_class, CustomerClass::Residential);
        assert_eq!(b.pin_hash.as_deref(), Some("$argon2id$h1"));
        assert_eq!((b.created_at, b.updated_at), (1_000, 2_000));
        assert_eq!(b.lines, vec![line("+8613900000003")]);
        assert_eq!(db.store.bill(a.id).await.expect("bill"), Some(bill()));
        for gone in ["+8613900000001", "+8613900000002"] {
            assert!(
                db.store
                    .account_by_line(gone)
                    .await
                    .expect("by line")
                    .is_none()
            );
        }
        let by_line = db
            .store
            .account_by_line("+8613900000003")
            .await
            .expect("by line");
        assert_eq!(by_line, Some(b.clone()));

        // Replacing the bill replaces its charges.
        let mut w3 = account("A-1", &["+8613900000003"]);
        let mut smaller = bill();
        smaller.charges.truncate(1);
        smaller.last_payment = None;
        w3.bill = Some(smaller.clone());
        db.store.put_account(&w3, 3_000).await.expect("new bill");
        assert_eq!(
            db.store.bill(a.id).await.expect("bill"),
            Some(smaller.clone())
        );

        // The account with its bill in one read, as the bill step reads them.
        let both = db.store.account_with_bill(a.id).await.expect("both");
        let alone = db.store.account(a.id).await.expect("account");
        assert_eq!(both, alone.map(|acc| (acc, Some(smaller))));
        let no_bill = (db
            .store
            .put_account(&account("A-2", &["+8613900000009"]), 4_000))
        .await
        .expect("an account without a bill");
        assert_eq!(
            db.store
                .account_with_bill(no_bill.id)
                .await
                .expect("no bill"),
            Some((no_bill, None))
        );
        assert_eq!(db.store.account_with_bill(-1).await.expect("none"), None);
    }

    pub async fn pin_hash_set_and_cleared(db: Db) {
        let mut w = account("P-1", &[]);
        let a = db.store.put_account(&w, 1).await.expect("create");
        assert_eq!(a.pin_hash, None);
        assert!(a.lines.is_empty());
        w.pin_hash = Some(Some("h2".into()));
        let a = db.store.put_account(&w, 2).await.expect("set pin");
        assert_eq!(a.pin_hash.as_deref(), Some("h2"));
        w.pin_hash = None;
        let a = db.store.put_account(&w, 3).await.expect("keep pin");
        assert_eq!(a.pin_hash.as_deref(), Some("h2"));
        w.pin_hash = Some(None);
        let a = db.store.put_account(&w, 4).await.expect("clear pin");
        assert_eq!(a.pin_hash, None);
    }

    pub async fn line_conflict_changes_nothing(db: Db) {
        let a = db
            .store
            .put_account(&account("A", &["111"]), 1)
            .await
            .expect("A");
        let b = db
            .store
            .put_account(&account("B", &["222"]), 2)
            .await
            .expect("B");

        let mut w = account("B", &["333", "111"]);
        w.name = "Changed".into();
        w.pin_hash = Some(Some("h".into()));
        w.bill = Some(bill());
        match db.store.put_account(&w, 3).await {
            Err(StoreError::Conflict(m)) => assert_eq!(m, "line 111 belongs to account A"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(db.store.account(b.id).await.expect("B"), Some(b.clone()));
        assert_eq!(db.store.bill(b.id).await.expect("bill"), None);
        assert!(
            db.store
                .account_by_line("333")
                .await
                .expect("333")
                .is_none()
        );
        assert_eq!(
            db.store.account_by_line("111").await.expect("111"),
            Some(a.clone())
        );

        // A new account with a taken line is not created at all.
        let err = db.store.put_account(&account("C", &["111"]), 4).await;
        assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
        assert!(db.store.account_by_no("C").await.expect("C").is_none());
        let page = db.store.list_accounts(None, 10).await.expect("list");
        assert_eq!(page.accounts, vec![a, b]);
    }

    pub async fn duplicate_line_in_one_write_is_a_conflict(db: Db) {
        let err = db.store.put_account(&account("D", &["5", "5"]), 1).await;
        match err {
            Err(StoreError::Conflict(m)) => assert!(m.contains("line 5"), "{m}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert!(db.store.account_by_no("D").await.expect("D").is_none());
    }

    pub async fn lookups(db: Db) {
        let a = db
            .store
            .put_account(&account("N-1", &["1", "2"]), 1)
            .await
            .expect("a");
        db.store
            .put_account(&account("N-2", &["3"]), 1)
            .await
            .expect("b");
        let s = &db.store;
        assert_eq!(s.account(a.id).await.expect("id"), Some(a.clone()));
        assert_eq!(s.account_by_no("N-1").await.expect("no"), Some(a.clone()));
        assert_eq!(s.account_by_line("2").await.expect("line"), Some(a.clone()));
        assert_eq!(s.account(a.id + 1000).await.expect("id"), None);
        assert_eq!(s.account_by_no("nope").await.expect("no"), None);
        assert_eq!(s.account_by_line("9").await.expect("line"), None);
        assert_eq!(s.bill(a.id).await.expect("bill"), None);
    }

    pub async fn list_accounts_pages(db: Db) {
        let mut ids = Vec::new();
        for i in 0..5 {
            let no = format!("L-{i}");
            let lines = [format!("{i}-b"), format!("{i}-a")];
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            ids.push(
                db.store
                    .put_account(&account(&no, &lines), 1)
                    .await
                    .expect("put")
                    .id,
            );
        }
        let p1 = db.store.list_accounts(None, 2).await.expect("p1");
        assert_eq!(
            p1.accounts.iter().map(|a| a.id).collect::<Vec<_>>(),
            ids[..2]
        );
        assert_eq!(p1.next_after, Some(ids[1]));
        assert_eq!(p1.accounts[0].lines, vec![line("0-a"), line("0-b")]);
        let p2 = db.store.list_accounts(p1.next_after, 2).await.expect("p2");
        assert_eq!(
            p2.accounts.iter().map(|a| a.id).collect::<Vec<_>>(),
            ids[2..4]
        );
        assert_eq!(p2.next_after, Some(ids[3]));
        assert_eq!(p2.accounts[1].lines, vec![line("3-a"), line("3-b")]);
        let p3 = db.store.list_accounts(p2.next_after, 2).await.expect("p3");
        assert_eq!(
            p3.accounts.iter().map(|a| a.id).collect::<Vec<_>>(),
            ids[4..]
        );
        assert_eq!(p3.next_after, None);
        // A page that ends exactly at the last account has no next page.
        let exact = db
            .store
            .list_accounts(Some(ids[1]), 3)
            .await
            .expect("exact");
        assert_eq!(exact.accounts.len(), 3);
        assert_eq!(exact.next_after, None);
        let all = db.store.list_accounts(None, 100).await.expect("all");
        assert_eq!(all.accounts.len(), 5);
        let none = db.store.list_accounts(None, 0).await.expect("zero");
        assert!(none.accounts.is_empty());
        assert_eq!(none.next_after, None);
        let negative = db.store.list_accounts(None, -1).await.expect("negative");
        assert!(negative.accounts.is_empty());
    }

    pub async fn bill_round_trip(db: Db) {
        let mut w = account("B-1", &["1"]);
        let mut b = bill();
        b.currency = "USD".into();
        b.balance = -1;
        b.due_date = date(2028, 2, 29);
        b.last_payment = Some(Payment {
            amount: -500,
            date: date(1999, 1, 1),
        });
        b.charges.push(Charge {
            category: "other".into(),
            description: String::new(),
            amount: -300,
        });
        w.bill = Some(b.clone());
        let a = db.store.put_account(&w, 1).await.expect("put");
        let mut got = db.store.bill(a.id).await.expect("bill").expect("a bill");
        got.charges.sort_by_key(|c| c.amount);
        b.charges.sort_by_key(|c| c.amount);
        assert_eq!(got, b);

        // A bill without charges or payment.
        let empty = Bill {
            currency: "CNY".into(),
            amount_due: 0,
            due_date: date(2025, 1, 1),
            balance: 0,
            last_payment: None,
            charges: vec![],
        };
        w.bill = Some(empty.clone());
        db.store.put_account(&w, 2).await.expect("put");
        assert_eq!(db.store.bill(a.id).await.expect("bill"), Some(empty));
    }

    pub async fn steps_create_call_and_record(db: Db) {
        let a = db
            .store
            .put_account(&account("C-1", &["1"]), 1)
            .await
            .expect("a");
        let s1 = step(
            "CA1",
            1,
            vec![
                Effect::SetLocale {
                    locale: Locale::EnUs,
                },
                Effect::IdentifyAccount { account_id: a.id },
            ],
        );
        let s2 = step("CA1", 2, vec![]);
        assert_eq!(commit(&db, &[s1]).await, [StepOutcome::Recorded]);
        assert_eq!(commit(&db, &[s2]).await, [StepOutcome::Recorded]);
        let call = db.store.call("CA1").await.expect("call").expect("a call");
        assert_eq!(call.call_sid, "CA1");
        assert_eq!(call.direction, "inbound");
        assert_eq!(call.from_number, "+8613800000001");
        assert_eq!(call.to_number, "+861010000");
        assert_eq!(call.account_id, Some(a.id));
        assert_eq!(call.locale.as_deref(), Some("en-US"));
        assert_eq!(call.status, "in-progress");
        assert_eq!(call.started_at, 1000);
        assert_eq!((call.ended_at, call.duration_secs), (None, None));
        let seqs: Vec<i32> = call.steps.iter().map(|s| s.seq).collect();
        assert_eq!(seqs, [1, 2]);
        assert_eq!(call.steps[1].node, "menu");
        assert_eq!(call.steps[1].input, "digits:2");
        assert_eq!(call.steps[1].said, "said 2");
        assert_eq!(call.steps[1].at, 2000);
        assert!(db.store.call("nope").await.expect("call").is_none());
        assert!(commit(&db, &[]).await.is_empty());
    }

    pub async fn replay_returns_stored_response_and_applies_effects_once(db: Db) {
        let a = db
            .store
            .put_account(&account("R-1", &["1"]), 1)
            .await
            .expect("a");
        let b = db
            .store
            .put_account(&account("R-2", &["2"]), 1)
            .await
            .expect("b");
        commit(&db, &[step("CA2", 1, vec![])]).await;
        let s2 = step("CA2", 2, vec![Effect::IdentifyAccount { account_id: a.id }]);
        assert_eq!(
            commit(&db, std::slice::from_ref(&s2)).await,
            [StepOutcome::Recorded]
        );
        // The retry computed a different answer: the first one is replayed, nothing applied.
        let mut retry = s2.clone();
        retry.response = "<Response>different</Response>".into();
        retry.effects = vec![Effect::IdentifyAccount { account_id: b.id }];
        assert_eq!(
            commit(&db, &[retry.clone()]).await,
            [replayed(&s2.response)]
        );
        assert_eq!(commit(&db, &[retry]).await, [replayed(&s2.response)]);
        let call = db.store.call("CA2").await.expect("call").expect("a call");
        assert_eq!(
            call.account_id,
            Some(a.id),
            "the retries identified no one else"
        );
        assert_eq!(call.steps.len(), 2);
        // The first step, retried with its new call, is a replay too.
        let first = step("CA2", 1, vec![]);
        assert_eq!(
            commit(&db, std::slice::from_ref(&first)).await,
            [replayed(&first.response)]
        );
    }

    pub async fn unknown_call(db: Db) {
        let s = step("CA3", 2, vec![]);
        assert_eq!(commit(&db, &[s]).await, [StepOutcome::UnknownCall]);
        assert!(db.store.call("CA3").await.expect("call").is_none());
        // Unknown until the step that creates it, even within one batch.
        let out = commit(&db, &[step("CA3", 2, vec![]), step("CA3", 1, vec![])]).await;
        assert_eq!(out, [StepOutcome::UnknownCall, StepOutcome::Recorded]);
        let call = db.store.call("CA3").await.expect("call").expect("a call");
        assert_eq!(call.steps.len(), 1);
    }

    pub async fn same_step_twice_in_one_batch(db: Db) {
        let a = db
            .store
            .put_account(&account("S-1", &["1"]), 1)
            .await
            .expect("a");
        let b = db
            .store
            .put_account(&account("S-2", &["2"]), 1)
            .await
            .expect("b");
        let s1 = step("CA4", 1, vec![Effect::IdentifyAccount { account_id: a.id }]);
        let mut again = s1.clone();
        again.response = "other".into();
        again.effects = vec![Effect::IdentifyAccount { account_id: b.id }];
        let s2 = step("CA4", 2, vec![Effect::Milestone(Milestone::SelfServed)]);
        let out = commit(&db, &[s1.clone(), again, s2]).await;
        assert_eq!(
            out,
            [
                StepOutcome::Recorded,
                replayed(&s1.response),
                StepOutcome::Recorded
            ]
        );
        let call = db.store.call("CA4").await.expect("call").expect("a call");
        assert_eq!(
            call.account_id,
            Some(a.id),
            "the repeat's effects were not applied"
        );
        // A batch repeating a step stored earlier replays the stored one each time.
        let out = commit(&db, &[step("CA4", 2, vec![]), step("CA4", 2, vec![])]).await;
        let stored = step("CA4", 2, vec![]).response;
        assert_eq!(out, [replayed(&stored), replayed(&stored)]);
    }

    pub async fn pin_lock_and_expiry(db: Db) {
        let a = db
            .store
            .put_account(&account("K-1", &["1"]), 1)
            .await
            .expect("a");
        let guess = |at: i64| {
            let store = db.store.clone();
            async move {
                store
                    .pin_guess(a.id, 3, at + 1_800_000, at)
                    .await
                    .expect("guess")
            }
        };
        let pin = |db: &Db| {
            let store = db.store.clone();
            async move {
                let a = store.account(a.id).await.expect("a").expect("an account");
                (a.pin_failures, a.pin_locked_until)
            }
        };
        assert_eq!(guess(10_000).await, Some(1));
        assert_eq!(guess(20_000).await, Some(2));
        assert_eq!(pin(&db).await, (2, None));
        assert_eq!(
            guess(30_000).await,
            Some(3),
            "the third guess is still checked"
        );
        assert_eq!(pin(&db).await, (3, Some(1_830_000)), "and locks");
        // While locked, guesses are refused and change nothing.
        assert_eq!(guess(40_000).await, None);
        assert_eq!(pin(&db).await, (3, Some(1_830_000)));
        // Once the lock has expired, the count starts afresh and the lock is cleared.
        assert_eq!(guess(1_830_000).await, Some(1));
        assert_eq!(pin(&db).await, (1, None));
        // A right guess clears the count.
        assert!(db.store.pin_right(a.id, 1).await.expect("right"));
        assert_eq!(pin(&db).await, (0, None));
        // A guess at an account that does not exist is refused and fails nothing.
        assert_eq!(db.store.pin_guess(-5, 3, 1, 0).await.expect("guess"), None);
        assert!(!db.store.pin_right(-5, 1).await.expect("right"));
    }

    pub async fn pin_guesses_at_once_are_counted_atomically(db: Db) {
        let a = db
            .store
            .put_account(&account("K-2", &["1"]), 1)
            .await
            .expect("a");
        let guesses: Vec<_> = (0..30)
            .map(|_| {
                let store = db.store.clone();
                tokio::spawn(async move { store.pin_guess(a.id, 3, 50_000, 1_000).await })
            })
            .collect();
        let mut granted = Vec::new();
        for g in guesses {
            if let Some(n) = g.await.expect("task").expect("guess") {
                granted.push(n);
            }
        }
        granted.sort_unstable();
        assert_eq!(granted, [1, 2, 3], "30 guesses at once: three are checked");
        let a = db
            .store
            .account(a.id)
            .await
            .expect("a")
            .expect("an account");
        assert_eq!((a.pin_failures, a.pin_locked_until), (3, Some(50_000)));
    }

    pub async fn pin_right_guess_stands_only_if_nothing_was_counted_since(db: Db) {
        let a = db
            .store
            .put_account(&account("K-3", &["1"]), 1)
            .await
            .expect("a");
        let n = db
            .store
            .pin_guess(a.id, 3, 50_000, 1_000)
            .await
            .expect("guess");
        assert_eq!(n, Some(1));
        // Two more guesses while the first is checked: the second of them sets the lock.
        for _ in 0..2 {
            db.store
                .pin_guess(a.id, 3, 50_000, 1_000)
                .await
                .expect("guess");
        }
        assert!(
            !db.store.pin_right(a.id, 1).await.expect("right"),
            "a right guess overtaken by others does not stand"
        );
        let locked = db
            .store
            .account(a.id)
            .await
            .expect("a")
            .expect("an account");
        assert_eq!(
            (locked.pin_failures, locked.pin_locked_until),
            (3, Some(50_000)),
            "nor does it lift the lock"
        );
        // The guess that used up the budget may be right: it clears the lock.
        assert!(db.store.pin_right(a.id, 3).await.expect("right"));
        let a = db
            .store
            .account(a.id)
            .await
            .expect("a")
            .expect("an account");
        assert_eq!((a.pin_failures, a.pin_locked_until), (0, None));
    }

    pub async fn large_batch(db: Db) {
        let a = db
            .store
            .put_account(&account("G-1", &["1"]), 1)
            .await
            .expect("a");
        // 100 calls, 3 steps each, interleaved the way concurrent calls arrive.
        let mut steps = Vec::new();
        for seq in 1..=3 {
            for c in 0..100 {
                let effects = if seq == 2 {
                    vec![Effect::IdentifyAccount { account_id: a.id }]
                } else {
                    vec![]
                };
                steps.push(step(&format!("BIG{c:03}"), seq, effects));
            }
        }
        let out = commit(&db, &steps).await;
        assert_eq!(out.len(), 300);
        assert!(out.iter().all(|o| *o == StepOutcome::Recorded), "{out:?}");
        for c in [0, 57, 99] {
            let call = db
                .store
                .call(&format!("BIG{c:03}"))
                .await
                .expect("call")
                .expect("call");
            assert_eq!(
                call.steps.iter().map(|s| s.seq).collect::<Vec<_>>(),
                [1, 2, 3]
            );
            assert_eq!(call.account_id, Some(a.id));
        }
        // The same batch again is all replays.
        let out = commit(&db, &steps).await;
        let expected: Vec<StepOutcome> = steps.iter().map(|s| replayed(&s.response)).collect();
        assert_eq!(out, expected);
    }

    pub async fn large_responses(db: Db) {
        // Bodies of several kilobytes, multi-byte text: written (in several statements on
        // PostgreSQL) and replayed byte for byte.
        let steps: Vec<StepWrite> = (0..40)
            .map(|c| {
                let mut s = step(&format!("LR{c:02}"), 1, vec![]);
                s.said = "您的账单金额为一百二十八元五角。".repeat(20 + c);
                s.response = format!("<Response><Say>{}</Say></Response>", s.said.repeat(3));
                s
            })
            .collect();
        let out = commit(&db, &steps).await;
        assert!(out.iter().all(|o| *o == StepOutcome::Recorded), "{out:?}");
        let out = commit(&db, &steps).await;
        let expected: Vec<StepOutcome> = steps.iter().map(|s| replayed(&s.response)).collect();
        assert_eq!(out, expected);
        let call = db.store.call("LR39").await.expect("call").expect("a call");
        assert_eq!(call.steps[0].said, steps[39].said);
    }

    pub async fn status_duplicates_stored_once(db: Db) {
        commit(&db, &[step("CA8", 1, vec![])]).await;
        let ringing = status("CA8", "ringing", false, Some(1), 500);
        db.store.record_status(&ringing).await.expect("status");
        db.store
            .record_status(&ringing)
            .await
            .expect("status again");
        assert_eq!(stored_events(&db.url, "CA8").await, 1);
        // Without a sequence number, the status alone identifies a retry.
        let unnumbered = status("CA8", "completed", true, None, 9_000);
        db.store.record_status(&unnumbered).await.expect("status");
        db.store
            .record_status(&unnumbered)
            .await
            .expect("status again");
        assert_eq!(stored_events(&db.url, "CA8").await, 2);
        let call = db.store.call("CA8").await.expect("call").expect("a call");
        assert_eq!(call.status, "completed");
        assert_eq!((call.ended_at, call.duration_secs), (Some(9_000), Some(42)));
        assert_eq!(call.started_at, 1_000, "the step started it");
    }

    pub async fn status_out_of_order_keeps_final(db: Db) {
        commit(&db, &[step("CA9", 1, vec![])]).await;
        let s = &db.store;
        // An earlier stage arriving after the call was answered does not move it back.
        s.record_status(&status("CA9", "ringing", false, Some(1), 900))
            .await
            .expect("ringing");
        assert_eq!(
            s.call("CA9").await.expect("call").expect("call").status,
            "in-progress"
        );
        s.record_status(&status("CA9", "completed", true, Some(3), 5_000))
            .await
            .expect("done");
        s.record_status(&status("CA9", "ringing", false, Some(2), 4_000))
            .await
            .expect("late");
        s.record_status(&status("CA9", "failed", true, Some(4), 6_000))
            .await
            .expect("second");
        let call = s.call("CA9").await.expect("call").expect("call");
        assert_eq!(call.status, "completed");
        assert_eq!((call.ended_at, call.duration_secs), (Some(5_000), Some(42)));
        assert_eq!(
            stored_events(&db.url, "CA9").await,
            4,
            "every report is kept"
        );
    }

    pub async fn status_creates_unknown_call(db: Db) {
        let s = &db.store;
        s.record_status(&status("CB1", "ringing", false, Some(0), 700))
            .await
            .expect("ringing");
        let call = s.call("CB1").await.expect("call").expect("created");
        assert_eq!(call.status, "ringing");
        assert_eq!(call.started_at, 700);
        assert_eq!(call.direction, "inbound");
        assert!(call.steps.is_empty());
        // The first step of a call already created by a report is recorded normally.
        assert_eq!(
            commit(&db, &[step("CB1", 1, vec![])]).await,
            [StepOutcome::Recorded]
        );
        s.record_status(&status("CB1", "in-progress", false, Some(1), 800))
            .await
            .expect("up");
        assert_eq!(
            s.call("CB1").await.expect("call").expect("call").status,
            "in-progress"
        );

        // A call first heard of by its final report is created ended.
        let mut busy = status("CB2", "busy", true, Some(3), 2_000);
        busy.duration_secs = None;
        s.record_status(&busy).await.expect("busy");
        let call = s.call("CB2").await.expect("call").expect("created");
        assert_eq!(call.status, "busy");
        assert_eq!(
            (call.started_at, call.ended_at, call.duration_secs),
            (2_000, Some(2_000), None)
        );
    }

    pub async fn step_writer_end_to_end(db: Db) {
        let writer = StepWriter::spawn(db.store.clone());
        let run = |replay: bool| {
            let tasks: Vec<_> = (0..200)
                .map(|c| {
                    let writer = writer.clone();
                    tokio::spawn(async move {
                        let sid = format!("W{c:03}");
                        let mut out = Vec::new();
                        for seq in 1..=2 {
                            let s = step(&sid, seq, vec![]);
                            let o = writer.commit(s.clone()).await.expect("commit");
                            out.push((s.response, o));
                        }
                        out
                    })
                })
                .collect();
            async move {
                let mut all = Vec::new();
                for t in tasks {
                    all.extend(t.await.expect("task"));
                }
                for (response, outcome) in &all {
                    let expected = if replay {
                        replayed(response)
                    } else {
                        StepOutcome::Recorded
                    };
                    assert_eq!(*outcome, expected);
                }
                all.len()
            }
        };
        assert_eq!(run(false).await, 400);
        assert_eq!(run(true).await, 400);
        let sids: HashSet<String> = (0..200).map(|c| format!("W{c:03}")).collect();
        for sid in sids.iter().take(5) {
            let call = db.store.call(sid).await.expect("call").expect("a call");
            assert_eq!(call.steps.len(), 2);
        }
    }

    /// Forty callers' steps and status reports go to the writer with three the database
    /// refuses: a NUL in what was said (PostgreSQL cannot store it), a survey answer for a
    /// callback that does not exist (refused on both backends) and a status report with a
    /// NUL in the calling number. Only those fail; every other caller is answered.
    pub async fn one_refused_write_fails_only_itself(db: Db) {
        let pg = db.url.starts_with("postgres");
        let writer = StepWriter::spawn(db.store.clone());
        let mut nul = step("POISON-NUL", 1, vec![]);
        nul.said = "my\0 bill".into();
        let dangling = step(
            "POISON-FK",
            1,
            vec![Effect::SurveyAnswer {
                callback_id: 999_999,
                attempt_id: 999_999,
                question: "q1".into(),
                answer: "5".into(),
                score: Some(100.0),
            }],
        );
        let mut bad_status = status("POISON-STATUS", "ringing", false, Some(1), 500);
        bad_status.new_call.from_number = "+86\0".into();

        let mut steps = Vec::new();
        for c in 0..40 {
            let w = writer.clone();
            let s = step(&format!("OK{c:02}"), 1, vec![]);
            steps.push(tokio::spawn(async move { w.commit(s).await }));
            if c == 20 {
                for poisoned in [nul.clone(), dangling.clone()] {
                    let w = writer.clone();
                    steps.push(tokio::spawn(async move { w.commit(poisoned).await }));
                }
                let w = writer.clone();
                let ev = bad_status.clone();
                steps.push(tokio::spawn(async move {
                    w.record_status(ev).await.map(|()| StepOutcome::Recorded)
                }));
            }
        }
        let mut statuses = Vec::new();
        for c in 0..10 {
            let w = writer.clone();
            let ev = status(&format!("ST{c:02}"), "ringing", false, Some(1), 600);
            statuses.push(tokio::spawn(async move { w.record_status(ev).await }));
        }
        let mut results = Vec::new();
        for t in steps {
            results.push(t.await.expect("task"));
        }
        // Spawned in order: 21 innocent steps, the three poisoned writes, 19 innocent steps.
        let poisoned: Vec<_> = results.drain(21..24).collect();
        for (i, r) in results.iter().enumerate() {
            assert_eq!(
                r.as_ref().ok(),
                Some(&StepOutcome::Recorded),
                "step {i}: {r:?}"
            );
        }
        for (i, t) in statuses.into_iter().enumerate() {
            let r = t.await.expect("task");
            assert!(r.is_ok(), "status {i}: {r:?}");
        }
        assert_eq!(poisoned[0].is_err(), pg, "NUL in said: {:?}", poisoned[0]);
        assert!(poisoned[1].is_err(), "dangling answer: {:?}", poisoned[1]);
        assert_eq!(poisoned[2].is_err(), pg, "NUL in From: {:?}", poisoned[2]);
        for sid in ["OK00", "OK20", "OK21", "OK39"] {
            let call = db.store.call(sid).await.expect("call").expect("stored");
            assert_eq!(call.steps.len(), 1, "{sid}");
        }
        assert!(db.store.call("POISON-FK").await.expect("call").is_none());
    }

    fn new_ticket(kind: TicketKind, line: Option<&str>, origin: Option<(&str, i32)>) -> NewTicket {
        NewTicket {
            kind,
            account_id: Some(1),
            line_number: line.map(str::to_string),
            line_kind: line.map(|_| LineKind::Phone),
            customer_class: Some(CustomerClass::Residential),
            channel: Channel::Phone,
            category: Some("no_dial_tone".into()),
            description: String::new(),
            callback_number: Some("+8613800000001".into()),
            deadline_at: Some(10_000),
            deadline_estimated: false,
            recording: None,
            address: None,
            actor: "caller".into(),
            origin: origin.map(|(sid, seq)| Origin {
                call_sid: sid.into(),
                seq,
            }),
        }
    }

    fn resolve() -> Action {
        Action::Resolve {
            code: "fixed".into(),
            note: "new cable".into(),
        }
    }

    pub async fn ticket_open_is_idempotent_per_call_step(db: Db) {
        let s = &db.store;
        let a = s
            .open_ticket(
                &new_ticket(TicketKind::Fault, Some("+861"), Some(("CA1", 4))),
                100,
            )
            .await
            .expect("open");
        assert!(hotline::tickets::is_valid_number(&a.number), "{}", a.number);
        assert_eq!(
            (a.state, a.opened_at, a.deadline_at),
            (TicketState::Open, 100, Some(10_000))
        );
        let again = s
            .open_ticket(
                &new_ticket(TicketKind::Fault, Some("+861"), Some(("CA1", 4))),
                200,
            )
            .await
            .expect("retried step");
        assert_eq!(again, a, "the same ticket, not a second");
        let other = s
            .open_ticket(
                &new_ticket(TicketKind::Fault, Some("+862"), Some(("CA1", 5))),
                300,
            )
            .await
            .expect("next step");
        assert_ne!(other.number, a.number);
        // Tickets from the API have no origin: each call opens one.
        let api1 = s
            .open_ticket(&new_ticket(TicketKind::Change, None, None), 1)
            .await
            .expect("api");
        let api2 = s
            .open_ticket(&new_ticket(TicketKind::Change, None, None), 1)
            .await
            .expect("api");
        assert_ne!(api1.id, api2.id);
        assert_eq!(s.ticket_history(a.id).await.expect("history").len(), 1);
        assert_eq!(
            s.active_ticket_on_line("+861", TicketKind::Fault)
                .await
                .expect("line")
                .map(|t| t.id),
            Some(a.id)
        );
        assert_eq!(
            s.active_ticket_on_line("+861", TicketKind::Move)
                .await
                .expect("line"),
            None
        );
    }

    pub async fn ticket_changes_follow_the_state_machine_and_history(db: Db) {
        let s = &db.store;
        let t = s
            .open_ticket(&new_ticket(TicketKind::Fault, Some("+861"), None), 100)
            .await
            .expect("open");
        let assign = Action::Assign {
            assignee: "tech-7".into(),
            note: Some("nearest".into()),
        };
        let t2 = s
            .change_ticket(&t.number, &assign, "dispatch", None, 200)
            .await
            .expect("assign");
        assert_eq!(
            (t2.state, t2.assignee.as_deref()),
            (TicketState::Assigned, Some("tech-7"))
        );
        let err = s
            .change_ticket(&t.number, &Action::Close { note: None }, "x", None, 300)
            .await
            .expect_err("an assigned ticket cannot close");
        assert!(matches!(err, StoreError::Transition(_)), "{err}");
        // A note from a call step is recorded once however often the step is retried.
        let o = Origin {
            call_sid: "CA9".into(),
            seq: 3,
        };
        for _ in 0..2 {
            s.change_ticket(&t.number, &Action::Persists, "caller", Some(&o), 400)
                .await
                .expect("persists");
        }
        let done = s
            .change_ticket(&t.number, &resolve(), "tech-7", None, 500)
            .await
            .expect("resolve");
        assert_eq!(
            (done.state, done.resolved_at),
            (TicketState::Resolved, Some(500))
        );
        assert!(matches!(
            s.change_ticket("99999997", &resolve(), "x", None, 1).await,
            Err(StoreError::NotFound)
        ));
        let history = s.ticket_history(t.id).await.expect("history");
        let seen: Vec<(&str, &str, Option<TicketState>)> = history
            .iter()
            .map(|e| (e.kind.as_str(), e.actor.as_str(), e.to_state))
            .collect();
        assert_eq!(
            seen,
            [
                ("opened", "caller", Some(TicketState::Open)),
                ("assigned", "dispatch", Some(TicketState::Assigned)),
                ("persists", "caller", None),
                ("resolved", "tech-7", Some(TicketState::Resolved)),
            ]
        );
        assert_eq!(history[1].detail["note"], "nearest");
        assert_eq!(history[3].detail["code"], "fixed");
        assert_eq!(history[3].from_state, Some(TicketState::Assigned));
        assert!(
            history
                .windows(2)
                .all(|w| w[0].id < w[1].id && w[0].at <= w[1].at)
        );
    }

    pub async fn ticket_breaches_are_marked_once_at_the_deadline(db: Db) {
        let s = &db.store;
        let late = s
            .open_ticket(&new_ticket(TicketKind::Fault, Some("+861"), None), 100)
            .await
            .expect("open");
        let on_time = s
            .open_ticket(&new_ticket(TicketKind::Fault, Some("+862"), None), 100)
            .await
            .expect("open");
        s.change_ticket(&on_time.number, &resolve(), "t", None, 9_000)
            .await
            .expect("resolve");
        assert_eq!(s.next_deadline().await.expect("next"), Some(10_000));
        assert!(
            s.mark_breaches(10_000, 100)
                .await
                .expect("sweep")
                .is_empty(),
            "due, not late"
        );
        let marked = s.mark_breaches(10_001, 100).await.expect("sweep");
        assert_eq!(marked.iter().map(|t| t.id).collect::<Vec<_>>(), [late.id]);
        assert_eq!(marked[0].breached_at, Some(10_000));
        assert!(
            s.mark_breaches(20_000, 100)
                .await
                .expect("again")
                .is_empty()
        );
        assert_eq!(s.next_deadline().await.expect("next"), None);
        let kinds: Vec<String> = s
            .ticket_history(late.id)
            .await
            .expect("history")
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["opened", "breached"]);
    }

    pub async fn ticket_list_filters_and_pages(db: Db) {
        let s = &db.store;
        s.put_account(&account("L-1", &["+861"]), 1)
            .await
            .expect("account");
        let acc = s
            .account_by_no("L-1")
            .await
            .expect("read")
            .expect("account");
        let mut ids = Vec::new();
        for i in 0..5 {
            let mut nt = new_ticket(TicketKind::Fault, Some("+861"), None);
            nt.account_id = Some(acc.id);
            nt.deadline_at = Some(1000 * (i + 1));
            ids.push(s.open_ticket(&nt, 0).await.expect("open").id);
        }
        let mut other = new_ticket(TicketKind::Change, Some("+869"), None);
        other.account_id = None;
        s.open_ticket(&other, 0).await.expect("other");
        let filter = TicketFilter {
            account_no: Some("L-1".into()),
            limit: 2,
            now: 2500,
            ..Default::default()
        };
        let p1 = s.list_tickets(&filter).await.expect("page 1");
        assert_eq!(
            p1.tickets.iter().map(|t| t.id).collect::<Vec<_>>(),
            [ids[4], ids[3]]
        );
        let p2 = s
            .list_tickets(&TicketFilter {
                before: p1.next_before,
                ..filter.clone()
            })
            .await
            .expect("page 2");
        let p3 = s
            .list_tickets(&TicketFilter {
                before: p2.next_before,
                ..filter.clone()
            })
            .await
            .expect("page 3");
        assert_eq!(p3.tickets.len(), 1);
        assert_eq!(p3.next_before, None);
        // Breached as of `now`, whether or not the sweeper has run.
        let breached = s
            .list_tickets(&TicketFilter {
                breached: Some(true),
                limit: 10,
                ..filter.clone()
            })
            .await
            .expect("breached");
        assert_eq!(
            breached.tickets.iter().map(|t| t.id).collect::<Vec<_>>(),
            [ids[1], ids[0]]
        );
        let kind = s
            .list_tickets(&TicketFilter {
                kind: Some(TicketKind::Change),
                state: Some(TicketState::Open),
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("by kind");
        assert_eq!(kind.tickets.len(), 1);
    }

    pub async fn ticket_events_feed_and_webhook_fan_out(db: Db) {
        let s = &db.store;
        let all = s
            .add_endpoint(
                &NewEndpoint {
                    url: "http://127.0.0.1:9/all".into(),
                    secret: hotline::secret::Secret::new("whsec_a"),
                    events: vec!["*".into()],
                    description: String::new(),
                },
                1,
            )
            .await
            .expect("endpoint");
        let resolved_only = s
            .add_endpoint(
                &NewEndpoint {
                    url: "http://127.0.0.1:9/resolved".into(),
                    secret: hotline::secret::Secret::new("whsec_b"),
                    events: vec!["ticket.resolved".into()],
                    description: "callbacks".into(),
                },
                1,
            )
            .await
            .expect("endpoint");
        let t = s
            .open_ticket(&new_ticket(TicketKind::Fault, Some("+861"), None), 100)
            .await
            .expect("open");
        s.change_ticket(&t.number, &resolve(), "t", None, 200)
            .await
            .expect("resolve");
        let feed = s.ticket_events_after(0, 10).await.expect("feed");
        assert_eq!(
            feed.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
            ["opened", "resolved"]
        );
        assert_eq!(feed[1].ticket_number, t.number);
        assert!(
            s.ticket_events_after(feed[1].id, 10)
                .await
                .expect("feed")
                .is_empty()
        );
        assert_eq!(s.deliveries(all.id, 0, 10).await.expect("all").len(), 2);
        let only = s
            .deliveries(resolved_only.id, 0, 10)
            .await
            .expect("resolved");
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].event_id, feed[1].id);
        // Claimed deliveries are leased: a second claim before the lease ends gets none.
        let jobs = s.claim_deliveries(300, 60_300, 10).await.expect("claim");
        assert_eq!(jobs.len(), 3);
        assert!(
            s.claim_deliveries(400, 60_400, 10)
                .await
                .expect("claim")
                .is_empty()
        );
        assert_eq!(
            s.claim_deliveries(60_301, 120_000, 10)
                .await
                .expect("after lease")
                .len(),
            3
        );
        assert!(s.delete_endpoint(all.id).await.expect("delete"));
        assert!(!s.delete_endpoint(all.id).await.expect("delete again"));
        assert_eq!(s.endpoints().await.expect("list").len(), 1);
    }
}

#[tokio::test]
async fn connect_creates_a_missing_sqlite_file_and_migrates_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hotline.db");
    assert!(!path.exists());
    let url = format!("sqlite:{}", path.display());
    let store = hotline::store::connect(&url).await.expect("first connect");
    assert!(path.exists(), "the database file is created");
    store
        .put_account(&account("F-1", &["1"]), 1)
        .await
        .expect("put");
    drop(store);
    let again = hotline::store::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("second connect migrates again");
    again.migrate().await.expect("and again");
    assert!(again.account_by_no("F-1").await.expect("read").is_some());
}

#[tokio::test]
async fn connect_rejects_other_urls() {
    let err = hotline::store::connect("mysql://localhost/x").await.err();
    assert!(matches!(err, Some(StoreError::UnsupportedUrl)), "{err:?}");
}

/// A database written before migration 8 (steps and status reports keyed by CallSid) keeps
/// its history through it: the steps in order, the report stored once, a retried step
/// still answered from the store.
async fn history_survives_the_call_key_migration(url: &str) {
    use sqlx::migrate::Migrator;
    const SEED: [&str; 3] = [
        "INSERT INTO calls (call_sid, direction, from_number, to_number, status, started_at, \
         updated_at) VALUES ('CAother', 'inbound', '+1', '+2', 'completed', 1, 1), \
         ('CAold', 'inbound', '+8613800000001', '+861010000', 'completed', 1000, 5000)",
        "INSERT INTO call_steps (call_sid, seq, node, input, said, response, at) VALUES \
         ('CAold', 2, 'bill', 'digits:1', 'said 2', '<Response>two</Response>', 2000), \
         ('CAold', 1, 'menu', '', 'said 1', '<Response>one</Response>', 1000), \
         ('CAother', 1, 'menu', '', 'other', '<Response>other</Response>', 1)",
        "INSERT INTO call_events (call_sid, status, sequence, at) VALUES \
         ('CAold', 'completed', 3, 5000)",
    ];
    let backend = if url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let before = Migrator::new(dir).await.expect("read the migrations");
    if backend == "sqlite" {
        let opts = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .expect("url")
            .create_if_missing(true);
        let pool = sqlx::sqlite::SqlitePool::connect_with(opts)
            .await
            .expect("open sqlite");
        before.run_to(7, &pool).await.expect("migrate to 7");
        for sql in SEED {
            sqlx::raw_sql(sql).execute(&pool).await.expect(sql);
        }
        pool.close().await;
    } else {
        let pool = sqlx::postgres::PgPool::connect(url).await.expect("open pg");
        before.run_to(7, &pool).await.expect("migrate to 7");
        for sql in SEED {
            sqlx::raw_sql(sql).execute(&pool).await.expect(sql);
        }
        pool.close().await;
    }

    let db = open(url.to_string()).await;
    let call = db
        .store
        .call("CAold")
        .await
        .expect("read")
        .expect("the call");
    let steps: Vec<(i32, &str, &str)> = (call.steps.iter())
        .map(|s| (s.seq, s.node.as_str(), s.said.as_str()))
        .collect();
    assert_eq!(steps, [(1, "menu", "said 1"), (2, "bill", "said 2")]);
    assert_eq!(stored_events(url, "CAold").await, 1);
    db.store
        .record_status(&status("CAold", "completed", true, Some(3), 5000))
        .await
        .expect("the same report again");
    assert_eq!(stored_events(url, "CAold").await, 1, "stored once");
    let mut retry = step("CAold", 2, vec![]);
    retry.response = "<Response>different</Response>".into();
    assert_eq!(
        commit(&db, &[retry]).await,
        [replayed("<Response>two</Response>")]
    );
    assert_eq!(
        commit(&db, &[step("CAold", 3, vec![])]).await,
        [StepOutcome::Recorded]
    );
}

#[tokio::test]
async fn history_survives_the_call_key_migration_sqlite() {
    let (url, _dir) = db::sqlite_url().await;
    history_survives_the_call_key_migration(&url).await;
}

#[tokio::test]
async fn history_survives_the_call_key_migration_pg() {
    let Some(url) = db::pg_url().await else {
        return;
    };
    history_survives_the_call_key_migration(&url).await;
}

/// A call's milestones: call sid, self served, person, callback offered.
type MilestoneRow = (String, Option<i64>, Option<i64>, Option<i64>);
/// A status event: call sid, status, sequence, at.
type EventRow = (String, String, Option<i64>, i64);

/// What a store holds about calls after a run, read back the same way from any backend.
#[derive(Debug, PartialEq)]
struct Stored {
    outcomes: Vec<Vec<StepOutcome>>,
    calls: Vec<serde_json::Value>,
    milestones: Vec<MilestoneRow>,
    events: Vec<EventRow>,
}

/// The step batch has three writers: SQLite's direct writer (the hot path), SQLite through
/// sqlx (batches with survey effects) and PostgreSQL. The same batches, through each, store
/// the same: outcomes, calls with their steps, milestones and status events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_writer_stores_the_same() {
    use hotline::config::{SqliteWriter, StoreOptions};
    let (direct, _d1) = db::sqlite_url().await;
    let (sqlx_path, _d2) = db::sqlite_url().await;
    let sqlx_only = StoreOptions {
        sqlite_writer: SqliteWriter::Sqlx,
        ..StoreOptions::default()
    };
    let mut writers = vec![
        ("SQLite, direct writer", direct, StoreOptions::default()),
        ("SQLite, sqlx", sqlx_path, sqlx_only),
    ];
    if let Some(url) = db::pg_url().await {
        writers.push(("PostgreSQL", url, StoreOptions::default()));
    }
    let mut stored = Vec::new();
    for (name, url, options) in writers {
        let store = hotline::store::connect_with(&url, &options)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        stored.push((name, run_batches(Db { store, url }).await));
    }
    let (first, expected) = &stored[0];
    assert_eq!(expected.outcomes.len(), 8);
    assert_eq!(
        expected.outcomes[3..],
        [
            vec![StepOutcome::Recorded; 2],
            vec![replayed("<Response>CA-F1/1</Response>")],
            vec![StepOutcome::UnknownCall],
            vec![StepOutcome::Recorded; 2],
            vec![StepOutcome::Recorded; 2],
        ]
    );
    let milestones = |sid: &str| expected.milestones.iter().find(|m| m.0 == sid).cloned();
    // Reached again later, kept; reached again earlier, moved.
    assert_eq!(milestones("CA-W1").map(|m| m.1), Some(Some(1000)));
    assert_eq!(milestones("CA-W2").map(|m| m.2), Some(Some(100)));
    assert!(!expected.events.is_empty());
    for (name, got) in &stored[1..] {
        assert_eq!(got, expected, "{name} stores otherwise than {first}");
    }
}

/// New calls with effects, a replay and a retry in one batch, status reports in order, twice
/// and out of order, and a report for a call never seen; then batches with every call once
/// (new calls and calls continued, with reports), alone and meeting a call written before or
/// missing, and every status after every other.
async fn run_batches(db: Db) -> Stored {
    let a = db
        .store
        .put_account(&account("W-1", &["1"]), 1)
        .await
        .expect("account");
    let identified = vec![
        Effect::IdentifyAccount { account_id: a.id },
        Effect::SetLocale {
            locale: Locale::EnUs,
        },
        Effect::Milestone(Milestone::SelfServed),
    ];
    let first = vec![
        step("CA-W1", 1, identified),
        step("CA-W2", 1, vec![Effect::Milestone(Milestone::Person)]),
        step(
            "CA-W2",
            2,
            vec![Effect::Milestone(Milestone::CallbackOffered)],
        ),
    ];
    let mut retried = step("CA-W1", 1, vec![]);
    retried.response = "<Response>another answer</Response>".into();
    let second = vec![
        retried,
        step("CA-W1", 2, vec![]),
        step("CA-NONE", 2, vec![]),
    ];
    let mut outcomes = vec![commit(&db, &first).await, commit(&db, &second).await];
    let statuses = vec![
        status("CA-W1", "ringing", false, Some(1), 900),
        status("CA-W1", "completed", true, Some(3), 9000),
        status("CA-W1", "completed", true, Some(3), 9000),
        status("CA-W1", "in-progress", false, Some(2), 1000),
        status("CA-W3", "completed", true, None, 5000),
    ];
    outcomes.push(
        db.store
            .commit(vec![step("CA-W2", 3, vec![])], statuses)
            .await
            .expect("steps and statuses"),
    );

    // Every call once: PostgreSQL writes such a batch as one statement.
    let started = vec![
        Effect::IdentifyAccount { account_id: a.id },
        Effect::Milestone(Milestone::Person),
    ];
    let each_call_once = vec![
        step("CA-F1", 1, started),
        step("CA-W2", 4, vec![Effect::Milestone(Milestone::SelfServed)]),
    ];
    let reports = vec![
        status("CA-F2", "ringing", false, Some(0), 500),
        status("CA-W1", "no-answer", true, Some(4), 9500),
    ];
    outcomes
        .push((db.store.commit(each_call_once, reports).await).expect("a batch of distinct calls"));
    // Such batches that meet a call created before, or miss one.
    let mut replayed_start = step("CA-F1", 1, vec![]);
    replayed_start.response = "<Response>a retry</Response>".into();
    outcomes.push(commit(&db, &[replayed_start]).await);
    outcomes.push(commit(&db, &[step("CA-F3", 2, vec![])]).await);
    // A first step of a call its status report created, a new call, and a report on a call
    // that exists.
    let after_its_report = step(
        "CA-F2",
        1,
        vec![Effect::SetLocale {
            locale: Locale::EnUs,
        }],
    );
    let report_of_a_started_call = status("CA-F1", "ringing", false, Some(1), 600);
    outcomes.push(
        (db.store.commit(
            vec![after_its_report, step("CA-F4", 1, vec![])],
            vec![report_of_a_started_call],
        ))
        .await
        .expect("a report on a call that exists"),
    );
    // Milestones reached again: a later time keeps the earlier one, an earlier time (a step
    // stored late) replaces it.
    let mut earlier = step("CA-W2", 6, vec![Effect::Milestone(Milestone::Person)]);
    earlier.at = 100;
    let again = vec![
        step("CA-W1", 5, vec![Effect::Milestone(Milestone::SelfServed)]),
        earlier,
    ];
    outcomes.push(commit(&db, &again).await);

    // Each status after each other, a call created by the first and reported by the second.
    const STATUSES: [&str; 10] = [
        "queued",
        "initiated",
        "ringing",
        "in-progress",
        "completed",
        "busy",
        "no-answer",
        "failed",
        "canceled",
        "something-new",
    ];
    let is_final = |s: &str| ["completed", "busy", "no-answer", "failed", "canceled"].contains(&s);
    let pairs: Vec<(String, [&str; 2])> = (STATUSES.iter())
        .flat_map(|a| {
            STATUSES
                .iter()
                .map(move |b| (format!("CA-S-{a}-{b}"), [*a, *b]))
        })
        .collect();
    for seq in 0..2 {
        let reports = (pairs.iter())
            .map(|(sid, s)| {
                let s = s[usize::from(seq == 1)];
                status(sid, s, is_final(s), Some(seq), 100 + seq)
            })
            .collect();
        db.store
            .commit(Vec::new(), reports)
            .await
            .expect("one report per call");
    }

    let mut calls = Vec::new();
    let sids = [
        "CA-W1", "CA-W2", "CA-W3", "CA-NONE", "CA-F1", "CA-F2", "CA-F3", "CA-F4",
    ];
    for sid in sids.into_iter().chain(pairs.iter().map(|p| p.0.as_str())) {
        let call = db.store.call(sid).await.expect("call");
        calls.push(serde_json::to_value(call).expect("json"));
    }
    const MILESTONES: &str = "SELECT call_sid, self_served_at, person_at, callback_offered_at \
         FROM calls ORDER BY call_sid";
    const EVENTS: &str = "SELECT c.call_sid, e.status, CAST(e.sequence AS BIGINT), e.at \
         FROM call_events e JOIN calls c ON c.id = e.call_id \
         ORDER BY c.call_sid, e.at, e.status";
    let (milestones, events) = if db.url.starts_with("sqlite:") {
        let pool = sqlx::sqlite::SqlitePool::connect(&db.url)
            .await
            .expect("sqlite");
        (
            sqlx::query_as(MILESTONES).fetch_all(&pool).await,
            sqlx::query_as(EVENTS).fetch_all(&pool).await,
        )
    } else {
        let pool = sqlx::postgres::PgPool::connect(&db.url).await.expect("pg");
        (
            sqlx::query_as(MILESTONES).fetch_all(&pool).await,
            sqlx::query_as(EVENTS).fetch_all(&pool).await,
        )
    };
    Stored {
        outcomes,
        calls,
        milestones: milestones.expect("milestones"),
        events: events.expect("events"),
    }
}

/// A status report for a call another instance is creating at that moment (its first step
/// not yet committed) waits for it, then is stored and moves the call on: the batch's one
/// statement for its reports does not see that call, and reads it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_for_a_call_another_instance_is_creating_is_stored() {
    use sqlx::Connection;
    let Some(url) = db::pg_url().await else {
        return;
    };
    let store = hotline::store::connect(&url).await.expect("connect");
    let mut other = sqlx::postgres::PgConnection::connect(&url)
        .await
        .expect("pg");
    let mut creating = other.begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO calls (call_sid, direction, from_number, to_number, status, started_at, \
         updated_at) VALUES ('CA-RACE', 'inbound', '+8613900000001', '+8610000', \
         'in-progress', 1000, 1000)",
    )
    .execute(&mut *creating)
    .await
    .expect("create the call");
    let report = {
        let store = store.clone();
        tokio::spawn(async move {
            let ended = status("CA-RACE", "completed", true, Some(3), 9000);
            store.commit(Vec::new(), vec![ended]).await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!report.is_finished(), "the report waits for the call");
    creating.commit().await.expect("the other instance commits");
    report.await.expect("joined").expect("the report is stored");

    let call = store
        .call("CA-RACE")
        .await
        .expect("read")
        .expect("the call");
    assert_eq!(call.status, "completed");
    assert_eq!((call.ended_at, call.duration_secs), (Some(9000), Some(42)));
    let events: Vec<(String, i64)> = sqlx::query_as(
        "SELECT e.status, e.at FROM call_events e JOIN calls c ON c.id = e.call_id \
         WHERE c.call_sid = 'CA-RACE'",
    )
    .fetch_all(&mut other)
    .await
    .expect("events");
    assert_eq!(events, [("completed".to_string(), 9000)]);
}

/// A read given up in the middle (a webhook past its deadline) closes its connection rather
/// than lend it again half-read, and gives its place back: on a pool of one read connection,
/// the reads after it get their own answers at once, on a new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_given_up_midway_leaves_the_pool_usable() {
    use sqlx::Connection;
    use std::time::{Duration, Instant};
    let Some(url) = db::pg_url().await else {
        return;
    };
    let options = hotline::config::StoreOptions {
        pg_max_connections: 1,
        ..Default::default()
    };
    let store = hotline::store::connect_with(&url, &options)
        .await
        .expect("connect");
    let a = store
        .put_account(&account("A", &["111"]), 1)
        .await
        .expect("A");
    let b = store
        .put_account(&account("B", &["222"]), 2)
        .await
        .expect("B");
    assert_eq!(
        store.account_by_line("111").await.expect("A"),
        Some(a.clone())
    );

    let mut other = sqlx::postgres::PgConnection::connect(&url)
        .await
        .expect("pg");
    let mut locked = other.begin().await.expect("begin");
    sqlx::query("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *locked)
        .await
        .expect("lock");
    let given_up =
        tokio::time::timeout(Duration::from_millis(300), store.account_by_line("111")).await;
    assert!(given_up.is_err(), "the read waits for the lock");
    let waiting: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND wait_event_type = 'Lock'",
    )
    .fetch_all(&mut *locked)
    .await
    .expect("the waiting read");
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    locked.commit().await.expect("unlock");

    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(
            store.account_by_line("222").await.expect("B"),
            Some(b.clone())
        );
        assert_eq!(
            store.account_by_line("111").await.expect("A"),
            Some(a.clone())
        );
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );
    }
    // The given-up read's server process ends once it finds its client gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let alive: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE pid = $1")
            .bind(waiting[0])
            .fetch_one(&mut other)
            .await
            .expect("count");
        if alive == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the connection of the given-up read is still open: lent again?"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An agent changed while another transaction holds its row (PostgreSQL locks rows; SQLite
/// has one writer) waits for it and is changed, not reported missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_changed_while_its_row_is_held_waits_for_it() {
    use hotline::agents::{AgentUpdate, NewAgent, Role};
    use sqlx::Connection;
    let Some(url) = db::pg_url().await else {
        return;
    };
    let store = hotline::store::connect(&url).await.expect("connect");
    let new = NewAgent {
        login: "wang.fang".into(),
        name: "Wang Fang".into(),
        role: Role::Agent,
        phone: None,
        locale: Locale::ZhCn,
        password_hash: "x".into(),
    };
    let agent = store.create_agent(&new, 1).await.expect("agent");
    let mut holder = sqlx::postgres::PgConnection::connect(&url)
        .await
        .expect("pg");
    let mut held = holder.begin().await.expect("begin");
    sqlx::query("SELECT id FROM agents WHERE id = $1 FOR UPDATE")
        .bind(agent.id)
        .execute(&mut *held)
        .await
        .expect("hold the row");
    let rename = AgentUpdate {
        name: Some("Wang Fang (team lead)".into()),
        ..AgentUpdate::default()
    };
    let change = {
        let store = store.clone();
        tokio::spawn(async move { store.update_agent(agent.id, &rename, 2).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!change.is_finished(), "the change waits for the row");
    held.commit().await.expect("release");
    let changed = change.await.expect("joined").expect("changed, not missing");
    assert_eq!(changed.name, "Wang Fang (team lead)");
}
