//! Driving the agent console over real HTTP: agents, sign-in, forms with their CSRF token.

use hotline::agents::{Agent, NewAgent, Role};
use hotline::escalations::{EscFilter, Escalation, EscalationKind, NewEscalation};

use super::app::TestApp;
use super::demo::HOTLINE;

/// Every test agent's password.
pub const PASSWORD: &str = "correct horse battery";

/// Adds an agent straight to the store.
pub async fn add_agent(app: &TestApp, login: &str, role: Role) -> Agent {
    let hash = hotline::customers::pin::hash_secret(PASSWORD).expect("hash");
    app.state
        .steps
        .store
        .create_agent(
            &NewAgent {
                name: format!("Agent {login}"),
                password_hash: hash,
                ..super::fixtures::agent(login, role)
            },
            app.clock_now(),
        )
        .await
        .expect("create agent")
}

/// Raises an escalation for the first demo customer; returns its id.
pub async fn raise(app: &TestApp, source: &str, summary: &str) -> i64 {
    let store = &app.state.store;
    let account = store
        .account_by_no("10000001")
        .await
        .expect("account")
        .expect("demo account");
    let mut e = NewEscalation::new(
        EscalationKind::Complaint,
        source.into(),
        summary.into(),
        app.clock_now(),
    );
    e.account_id = Some(account.id);
    store
        .raise_escalation(&e)
        .await
        .expect("raise")
        .expect("new escalation")
        .id
}

/// A customer named `name` (account 50000005, one phone line) records a complaint by phone,
/// in English; the escalation it raised.
pub async fn complaint_from(app: &TestApp, name: &str) -> Escalation {
    let (status, body) = app
        .api_put(
            "/api/v1/accounts/50000005",
            &serde_json::json!({
                "name": name,
                "lines": [{"number": "+8613800000055", "kind": "phone"}]
            }),
        )
        .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    let mut call = app
        .sim
        .start_call("+8613800000055", HOTLINE)
        .await
        .expect("call");
    call.press("2").await.expect("english");
    call.press("5").await.expect("complaint");
    call.record(30).await.expect("message");
    call.hang_up().await.expect("hang up");
    let store = &app.state.store;
    let account = store
        .account_by_no("50000005")
        .await
        .expect("read")
        .expect("account");
    store
        .escalations(&EscFilter {
            account_id: Some(account.id),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_iter()
        .next()
        .expect("the complaint escalated")
}

pub trait ClockNow {
    fn clock_now(&self) -> i64;
}

impl ClockNow for TestApp {
    fn clock_now(&self) -> i64 {
        use hotline::clock::Clock;
        self.clock.now_ms()
    }
}

/// An HTTP answer, redirects not followed.
#[derive(Debug)]
pub struct Res {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
}

impl Res {
    async fn from(r: reqwest::Response) -> Res {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let location = headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = r.text().await.unwrap_or_default();
        Res {
            status,
            body,
            location,
            headers,
        }
    }

    /// A cookie this answer sets.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                let first = c.split(';').next()?;
                let (k, v) = first.split_once('=')?;
                (k.trim() == name).then(|| v.to_string())
            })
    }
}

/// The value of the first hidden `csrf` field of a page.
pub fn csrf_of(html: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A browser-like session of one agent.
pub struct Console {
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
    pub csrf: String,
}

/// Signs in; the answer to the POST, and the console when it worked.
pub async fn try_sign_in(app: &TestApp, login: &str, password: &str) -> (Res, Option<Console>) {
    let http = client();
    let page = Res::from(
        http.get(format!("{}/console/login", app.base))
            .send()
            .await
            .expect("login page"),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let cookie = page.set_cookie("hotline_login_csrf").expect("login cookie");
    let field = csrf_of(&page.body).expect("login csrf field");
    let res = Res::from(
        http.post(format!("{}/console/login", app.base))
            .header("cookie", format!("hotline_login_csrf={cookie}"))
            .form(&[("login", login), ("password", password), ("csrf", &field)])
            .send()
            .await
            .expect("login"),
    )
    .await;
    let Some(token) = res.set_cookie("hotline_session") else {
        return (res, None);
    };
    let mut c = Console {
        base: app.base.clone(),
        http,
        token,
        csrf: String::new(),
    };
    let queue = c.get("/console").await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    c.csrf = csrf_of(&queue.body).expect("session csrf");
    (res, Some(c))
}

pub async fn sign_in(app: &TestApp, login: &str) -> Console {
    let (res, c) = try_sign_in(app, login, PASSWORD).await;
    c.unwrap_or_else(|| panic!("sign-in failed: {} {}", res.status, res.body))
}

impl Console {
    pub async fn get(&self, path: &str) -> Res {
        Res::from(
            self.http
                .get(format!("{}{path}", self.base))
                .header("cookie", format!("hotline_session={}", self.token))
                .send()
                .await
                .expect("GET"),
        )
        .await
    }

    /// POSTs a form with this session's CSRF token, as the console's own pages do.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Res {
        let mut all: Vec<(&str, &str)> = vec![("csrf", &self.csrf)];
        all.extend_from_slice(fields);
        self.post_raw(path, &all, &[("origin", &self.base)]).await
    }

    /// POSTs exactly these fields with these extra headers.
    pub async fn post_raw(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Res {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", format!("hotline_session={}", self.token))
            .form(fields);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Res::from(req.send().await.expect("POST")).await
    }
}
