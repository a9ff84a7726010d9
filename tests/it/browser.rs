//! The console in a real browser: headless Chromium driven through chromedriver, against a
//! running hotline on SQLite. Signs in, finds a customer whose name is markup (shown as
//! text), reads the call's transcript, claims, replies, closes, is refused a forged
//! cross-site form, signs out; saves screenshots under `target/screenshots/`.
//!
//! Without chromium and chromedriver the test prints a loud SKIPPED line and passes, unless
//! `HOTLINE_REQUIRE_BROWSER=1` (CI sets it), which makes it fail.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::app::{Backend, TestApp};
use crate::support::console::{PASSWORD, add_agent, complaint_from, raise};
use fantoccini::{Client, ClientBuilder, Locator};
use hotline::agents::Role;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const MARKUP_NAME: &str = "<b>Zhang</b><script>window.pwned=1</script>";

/// Ends chromedriver (and so its browser) however the test ends.
struct Driver(std::process::Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tool(env: &str, default: &str) -> Option<PathBuf> {
    let p = std::env::var(env)
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(default));
    p.exists().then_some(p)
}

fn screenshots_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("screenshots")
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    let dir = screenshots_dir();
    std::fs::create_dir_all(&dir).expect("screenshots dir");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
}

async fn free_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    l.local_addr().expect("addr").port()
}

async fn start_driver(driver: &Path) -> (Driver, u16) {
    let port = free_port().await;
    let child = std::process::Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let guard = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (guard, port)
}

/// A page on another origin that posts a form to the console as soon as it loads.
async fn evil_site(target: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let html = format!(
        "<!doctype html><html><body><form id=f method=post action=\"{target}\">\
         <input name=text value=\"forged note\"><input name=csrf value=\"guess\"></form>\
         <script>document.getElementById('f').submit()</script></body></html>"
    );
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let res = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{html}",
                html.len()
            );
            let _ = sock.write_all(res.as_bytes()).await;
        }
    });
    base
}

/// Waits until the element's text satisfies `ok`.
async fn wait_text(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
            && ok(&t)
        {
            return t;
        }
        assert!(Instant::now() < deadline, "waiting for {css}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_url(c: &Client, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(u) = c.current_url().await
            && ok(u.as_str())
        {
            return u.to_string();
        }
        assert!(Instant::now() < deadline, "waiting for navigation");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn console_in_a_browser() {
    let required = std::env::var("HOTLINE_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let (Some(driver), Some(chromium)) = (
        tool("HOTLINE_CHROMEDRIVER", CHROMEDRIVER),
        tool("HOTLINE_CHROMIUM", CHROMIUM),
    ) else {
        assert!(
            !required,
            "HOTLINE_REQUIRE_BROWSER=1 but {CHROMEDRIVER} or {CHROMIUM} is missing"
        );
        eprintln!(
            "\n*** SKIPPED browser test: {CHROMEDRIVER} or {CHROMIUM} is missing \
             (apt-get install chromium chromium-driver; HOTLINE_REQUIRE_BROWSER=1 makes this fail) ***\n"
        );
        return;
    };
    let app = Arc::new(TestApp::spawn(Backend::Sqlite).await.expect("app"));
    let (_driver, port) = start_driver(&driver).await;
    let profile = tempfile::tempdir().expect("profile dir");
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": chromium.display().to_string(),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    let client = ClientBuilder::rustls()
        .expect("tls")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a browser session");
    let c = client.clone();
    let run = tokio::spawn(async move { scenario(&app, &c).await });
    let outcome = run.await;
    let _ = client.close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Fills and sends the sign-in form the browser is on; waits for the queue.
async fn sign_in_as_sup(c: &Client) {
    c.find(Locator::Css("input[name=login]"))
        .await
        .expect("login field")
        .send_keys("sup")
        .await
        .expect("type");
    c.find(Locator::Css("input[name=password]"))
        .await
        .expect("password field")
        .send_keys(PASSWORD)
        .await
        .expect("type");
    c.find(Locator::Css("#login-form button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("sign in");
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#counts"))
        .await
        .expect("the queue");
}

async fn scenario(app: &TestApp, c: &Client) {
    let store = &app.state.store;
    add_agent(app, "sup", Role::Supervisor).await;
    // A customer whose name is markup, and a complaint recorded by phone.
    let esc = complaint_from(app, MARKUP_NAME).await;
    let other = raise(app, "browser:other", "another complaint").await;

    // Not signed in: the console sends the browser to the sign-in page.
    c.goto(&format!("{}/console", app.base))
        .await
        .expect("goto");
    wait_url(c, |u| u.contains("/console/login")).await;
    shot(c, "login").await;
    sign_in_as_sup(c).await;

    // The customer's name is literal text, not elements.
    let row = format!("tr.escalation[data-id=\"{}\"]", esc.id);
    let cell = c
        .find(Locator::Css(&format!("{row} td.customer")))
        .await
        .expect("the escalation's row");
    let name = cell.text().await.expect("text");
    assert!(name.contains(MARKUP_NAME), "{name}");
    let injected = c
        .execute(
            "return document.querySelectorAll('td.customer b, td.customer script').length \
             + (window.pwned ? 100 : 0)",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(injected, serde_json::json!(0), "no element from the name");
    shot(c, "queue").await;

    // Open it and read the transcript.
    c.find(Locator::Css(&format!("{row} td a")))
        .await
        .expect("link")
        .click()
        .await
        .expect("open");
    let transcript = wait_text(c, "table.transcript", |t| t.contains("pressed 5")).await;
    assert!(transcript.contains("pressed 2"), "{transcript}");
    assert!(
        transcript.contains("complaint") || transcript.contains("Complaint"),
        "{transcript}"
    );
    shot(c, "escalation").await;

    // Claim, reply, close.
    c.find(Locator::Css("#form-claim button"))
        .await
        .expect("claim")
        .click()
        .await
        .expect("click");
    wait_text(c, "#esc-owner", |t| t == "sup").await;
    c.find(Locator::Css("#form-reply textarea[name=text]"))
        .await
        .expect("reply text")
        .send_keys("We apologised and refunded ¥20.")
        .await
        .expect("type");
    c.find(Locator::Css("#form-reply select[name=via]"))
        .await
        .expect("via")
        .select_by_value("phone")
        .await
        .expect("select");
    c.find(Locator::Css("#form-reply button"))
        .await
        .expect("reply")
        .click()
        .await
        .expect("click");
    wait_text(c, "#esc-state", |t| t == "replied").await;
    c.find(Locator::Css("#form-close button"))
        .await
        .expect("close")
        .click()
        .await
        .expect("click");
    wait_text(c, "#esc-state", |t| t == "closed").await;
    let saved = store.escalation(esc.id).await.expect("read").expect("esc");
    assert_eq!(
        saved.reply.as_deref(),
        Some("We apologised and refunded ¥20.")
    );

    // The ticket and the agents pages.
    let ticket = store
        .ticket_by_id(esc.ticket_id.expect("ticket"))
        .await
        .expect("read")
        .expect("ticket");
    c.goto(&format!("{}/console/tickets/{}", app.base, ticket.number))
        .await
        .expect("goto");
    wait_text(c, "h1", |t| t.contains(&ticket.number)).await;
    // Closing the complaint's case with its reply resolved the complaint.
    let facts = wait_text(c, "dl.facts", |t| t.contains("resolved")).await;
    assert!(facts.contains("We apologised"), "{facts}");
    shot(c, "ticket").await;
    c.goto(&format!("{}/console/agents", app.base))
        .await
        .expect("goto");
    wait_text(c, "table.agents", |t| t.contains("sup")).await;
    shot(c, "agents").await;

    // The reports, each with its definition; the complaint recorded above is in the complaints
    // report, drawn as a chart without any script or network.
    for kind in hotline::reports::ReportKind::ALL {
        let k = kind.as_str();
        c.goto(&format!(
            "{}/console/reports?kind={k}&from=2026-05-01&to=2026-06-01",
            app.base
        ))
        .await
        .expect("goto");
        wait_text(c, "main", |t| t.contains("Download CSV")).await;
        let definitions = c
            .find_all(fantoccini::Locator::Css("section.report p.definition"))
            .await
            .expect("definitions");
        assert!(!definitions.is_empty(), "{k}: no tables");
        shot(c, &format!("report-{k}")).await;
    }
    c.goto(&format!(
        "{}/console/reports?kind=complaints&from=2026-05-01&to=2026-06-01",
        app.base
    ))
    .await
    .expect("goto");
    let bars = c
        .find_all(fantoccini::Locator::Css(
            "section#complaints svg.chart rect",
        ))
        .await
        .expect("bars");
    assert!(!bars.is_empty(), "the complaints chart has bars");

    // A page on another origin posts a form to the console: refused, nothing changed.
    let before = store
        .escalation_history(other)
        .await
        .expect("history")
        .len();
    let evil = evil_site(format!("{}/console/escalations/{other}/note", app.base)).await;
    c.goto(&evil).await.expect("goto");
    wait_url(c, |u| u.starts_with(&app.base)).await;
    let refused = wait_text(c, "main", |t| t.contains("Request refused")).await;
    assert!(refused.contains("Nothing was changed"), "{refused}");
    shot(c, "forged").await;
    let after = store
        .escalation_history(other)
        .await
        .expect("history")
        .len();
    assert_eq!(before, after, "the forged note was not added");

    // In December the calendar is about to end: every page says so, in both languages.
    app.clock
        .set_ms(crate::support::app::shanghai(2026, 12, 7, 10, 0));
    c.goto(&format!("{}/console", app.base))
        .await
        .expect("goto");
    wait_url(c, |u| u.contains("/console/login")).await;
    sign_in_as_sup(c).await;
    let notice = wait_text(c, "p.calendar-gap", |t| !t.is_empty()).await;
    assert!(
        notice.contains("The working-day calendar ends on 2026-12-31"),
        "{notice}"
    );
    shot(c, "calendar-gap-en").await;
    c.find(Locator::Css("#switch-language"))
        .await
        .expect("language button")
        .click()
        .await
        .expect("click");
    let notice = wait_text(c, "p.calendar-gap", |t| t.contains("工作日历")).await;
    assert!(notice.contains("工作日历只覆盖到 2026-12-31"), "{notice}");
    shot(c, "calendar-gap-zh").await;

    // In Chinese, what the hotline itself says is Chinese too: why a callback was not yet
    // called, what it wrote in a case's history, and the hotline numbers to filter by.
    let campaign = crate::support::callbacks::running(
        app,
        crate::support::fixtures::campaign(
            "修复后回访",
            hotline::surveys::script::Purpose::Satisfaction,
        ),
    )
    .await;
    let now = hotline::clock::Clock::now_ms(app.clock.as_ref());
    let queued = store
        .queue_callbacks(
            &[crate::support::fixtures::callback(
                campaign.id,
                "list:browser",
                "+8613800000002",
                now,
            )],
            now,
        )
        .await
        .expect("queue");
    let callback = queued[0].expect("queued");
    c.goto(&format!("{}/console/callbacks/{callback}", app.base))
        .await
        .expect("goto");
    let why = wait_text(c, "#cb-why", |t| !t.is_empty()).await;
    assert!(why.starts_with("待回访"), "{why}");
    assert!(!why.contains("Pending"), "{why}");
    shot(c, "callback-why-zh").await;
    c.goto(&format!("{}/console/escalations/{}", app.base, esc.id))
        .await
        .expect("goto");
    let history = wait_text(c, "table.history", |t| !t.is_empty()).await;
    assert!(
        history.contains("通过电话答复：We apologised and refunded ¥20."),
        "{history}"
    );
    shot(c, "escalation-zh").await;
    c.goto(&format!("{}/console/reports?kind=hotline", app.base))
        .await
        .expect("goto");
    let filter = c
        .find(Locator::Css("select[name=hotline]"))
        .await
        .expect("the hotline filter is a choice");
    let options = filter.text().await.expect("options");
    assert!(options.contains("全部"), "{options}");
    shot(c, "report-hotline-zh").await;

    // Sign out: the queue now sends the browser to sign in.
    c.goto(&format!("{}/console", app.base))
        .await
        .expect("goto");
    c.find(Locator::Css("#sign-out"))
        .await
        .expect("sign out")
        .click()
        .await
        .expect("click");
    wait_url(c, |u| u.contains("/console/login")).await;
    c.goto(&format!("{}/console", app.base))
        .await
        .expect("goto");
    let url = wait_url(c, |u| u.contains("/console/login")).await;
    assert!(url.contains("/console/login"), "{url}");
    c.find(Locator::Css("#login-form"))
        .await
        .expect("the sign-in form");
}
