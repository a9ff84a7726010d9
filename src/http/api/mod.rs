//! The JSON API under `/api/v1`, for back-office systems: customer accounts with their lines,
//! PIN and bill, and the stored history of calls. Documented in `docs/openapi.yaml`.
//!
//! Rules: every request carries `Authorization: Bearer <api_token>` (compared in constant
//! time); with no token configured the API refuses everything. Errors are JSON
//! `{"error": "...", "field": "..."}` with a 4xx status that says what was wrong. PIN hashes
//! never leave the service.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, MatchedPath, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::billing::Bill;
use crate::customers::input::{AccountInput, FieldError, validate_account_no, validate_bill};
use crate::customers::{Account, AccountWrite, Line};
use crate::http::AppState;
use crate::repo::StoreError;

pub(crate) mod callbacks;
mod escalations;
mod reports;
mod tickets;
mod webhooks;

pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(callbacks::routes())
        .merge(escalations::routes())
        .merge(reports::routes())
        .merge(tickets::routes())
        .merge(webhooks::routes())
        .route("/api/v1/accounts", get(list_accounts))
        .route(
            "/api/v1/accounts/{account_no}",
            get(get_account).put(put_account),
        )
        .route(
            "/api/v1/accounts/{account_no}/bill",
            get(get_bill).put(put_bill),
        )
        .route("/api/v1/calls/{call_sid}", get(get_call))
        .route_layer(middleware::from_fn(refuse_control_in_uri))
        .route_layer(middleware::from_fn_with_state(state, require_token))
}

/// An API error: status and a message naming what was wrong.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<String>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            field: None,
        }
    }
    pub(crate) fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; see the service log",
        )
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: e.message,
            field: Some(e.field),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::not_found("resource"),
            StoreError::Conflict(m) => Self::new(StatusCode::CONFLICT, m),
            StoreError::Transition(e) => Self::new(StatusCode::CONFLICT, e.to_string()),
            other => {
                // The cause goes to the log, not to the client.
                tracing::error!(error = %other, "API store error");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the store is unavailable; try again",
                )
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, r.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if let Some(f) = self.field {
            body["field"] = json!(f);
        }
        (self.status, Json(body)).into_response()
    }
}

/// `Json` whose rejections are our JSON errors, and whose text fields are all checked for
/// characters the hotline does not take (see `crate::text`): 422 naming the first such field.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json);
        if !json_type {
            return Err(missing_json_type());
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| ApiError::new(r.status(), r.body_text()))?;
        let value = Json::<T>::from_bytes(&bytes)?.0;
        refuse_control_text(&bytes)?;
        Ok(ApiJson(value))
    }
}

/// Axum's own refusal of a body that is not declared JSON, in our shape.
pub(crate) fn missing_json_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Expected request with `Content-Type: application/json`",
    )
}

/// `application/json` or `application/<something>+json`, as `Json` accepts.
pub(crate) fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Refuses a JSON body any of whose strings (or keys) holds a character the hotline does not
/// take, naming it as the API names fields (`lines[0].label`). The store would fail on NUL on
/// PostgreSQL only; refusing it here answers the same on both backends.
pub(crate) fn refuse_control_text(body: &[u8]) -> Result<(), ApiError> {
    // JSON carries a control character only as a `\u00XX` escape: most bodies have none.
    if !body.windows(4).any(|w| w == b"\\u00") {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Ok(());
    };
    match control_text(&value, String::new()) {
        Some((field, message)) => Err(FieldError::new(field, message).into()),
        None => Ok(()),
    }
}

fn control_text(v: &serde_json::Value, path: String) -> Option<(String, String)> {
    use serde_json::Value;
    match v {
        Value::String(s) => crate::text::refusal(s).map(|m| (path, m)),
        Value::Array(items) => (items.iter().enumerate())
            .find_map(|(i, item)| control_text(item, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, item)| {
            let at = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            match crate::text::refusal(k) {
                Some(m) => Some((at, format!("field name {m}"))),
                None => control_text(item, at),
            }
        }),
        _ => None,
    }
}

/// Refuses a path segment or query parameter holding a character the hotline does not take
/// (a ticket number with a NUL would otherwise fail its lookup on PostgreSQL only), naming the
/// path parameter (`number`) or the query parameter.
async fn refuse_control_in_uri(req: Request, next: Next) -> Response {
    match control_in_uri(&req) {
        Some(e) => e.into_response(),
        None => next.run(req).await,
    }
}

fn control_in_uri(req: &Request) -> Option<ApiError> {
    let uri = req.uri();
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("", MatchedPath::as_str);
    let mut names = template.split('/');
    for segment in uri.path().split('/') {
        let name = names.next().unwrap_or_default();
        let decoded: String = form_urlencoded::parse(format!("x={segment}").as_bytes())
            .map(|(_, v)| v.into_owned())
            .collect();
        if let Some(m) = crate::text::refusal(&decoded) {
            let field = name.trim_start_matches('{').trim_end_matches('}');
            let field = if field.is_empty() || field == name {
                "path"
            } else {
                field
            };
            return Some(FieldError::new(field, m).into());
        }
    }
    let query = uri.query().unwrap_or_default();
    form_urlencoded::parse(query.as_bytes()).find_map(|(k, v)| {
        let m = crate::text::refusal(&k).or_else(|| crate::text::refusal(&v))?;
        Some(FieldError::new(k.into_owned(), m).into())
    })
}

async fn require_token(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let expected = st.cfg.api_token.expose();
    if expected.is_empty() {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the API is disabled: no API token is configured (HOTLINE_API_TOKEN)",
        )
        .into_response();
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(t) if constant_time_eq(t.trim().as_bytes(), expected.as_bytes()) => {
            next.run(req).await
        }
        Some(_) => ApiError::new(StatusCode::UNAUTHORIZED, "wrong API token").into_response(),
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing header Authorization: Bearer <token>",
        )
        .into_response(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // Hash both so the comparison time does not depend on where they differ or their length.
    use sha2::{Digest, Sha256};
    let (ha, hb) = (Sha256::digest(a), Sha256::digest(b));
    ha.iter()
        .zip(hb.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// An account as the API shows it.
#[derive(Debug, Serialize)]
pub struct AccountView {
    pub account_no: String,
    pub name: String,
    pub language: Option<&'static str>,
    pub customer_class: &'static str,
    pub address: Option<String>,
    pub has_pin: bool,
    /// PINs refused unchecked after too many wrong ones, until this time (RFC 3339); a caller
    /// on one of the account's lines is not affected.
    pub pin_locked_until: Option<String>,
    pub lines: Vec<Line>,
    pub created_at: String,
    pub updated_at: String,
}

pub(crate) use crate::clock::rfc3339;

impl AccountView {
    fn new(a: Account, now: i64) -> Self {
        AccountView {
            pin_locked_until: a.pin_locked_until.filter(|t| *t > now).map(rfc3339),
            account_no: a.account_no,
            name: a.name,
            language: a.language.map(|l| l.tag()),
            customer_class: a.customer_class.as_str(),
            address: a.address,
            has_pin: a.pin_hash.is_some(),
            lines: a.lines,
            created_at: rfc3339(a.created_at),
            updated_at: rfc3339(a.updated_at),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

async fn list_accounts(
    State(st): State<AppState>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = q?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(FieldError::new("limit", "must be between 1 and 500").into());
    }
    let page = st.store.list_accounts(q.after, limit).await?;
    let now = st.clock.now_ms();
    let accounts: Vec<_> = page
        .accounts
        .into_iter()
        .map(|a| AccountView::new(a, now))
        .collect();
    Ok(Json(
        json!({ "accounts": accounts, "next_after": page.next_after }),
    ))
}

async fn account_by_no(st: &AppState, account_no: &str) -> Result<Account, ApiError> {
    validate_account_no(account_no)?;
    st.steps
        .store
        .account_by_no(account_no)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))
}

async fn get_account(
    State(st): State<AppState>,
    Path(no): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    let acc = account_by_no(&st, &no).await?;
    Ok(Json(AccountView::new(acc, st.clock.now_ms())))
}

/// Creates or replaces an account (lines replaced; PIN and bill kept when absent).
async fn put_account(
    State(st): State<AppState>,
    Path(no): Path<String>,
    body: Result<ApiJson<AccountInput>, ApiError>,
) -> Result<Response, ApiError> {
    let ApiJson(input) = body?;
    let write = input.into_write(&no).await?;
    let existed = st.store.account_by_no(&no).await?.is_some();
    let now = st.clock.now_ms();
    let acc = st.store.put_account(&write, now).await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(AccountView::new(acc, now))).into_response())
}

async fn get_bill(
    State(st): State<AppState>,
    Path(no): Path<String>,
) -> Result<Json<Bill>, ApiError> {
    let acc = account_by_no(&st, &no).await?;
    let bill = st
        .steps
        .store
        .bill(acc.id)
        .await?
        .ok_or_else(|| ApiError::not_found("bill"))?;
    Ok(Json(bill))
}

async fn put_bill(
    State(st): State<AppState>,
    Path(no): Path<String>,
    body: Result<ApiJson<Bill>, ApiError>,
) -> Result<Json<Bill>, ApiError> {
    let ApiJson(bill) = body?;
    validate_bill(&bill, "")?;
    let acc = account_by_no(&st, &no).await?;
    let write = AccountWrite {
        account_no: acc.account_no,
        name: acc.name,
        language: acc.language,
        customer_class: acc.customer_class,
        pin_hash: None,
        address: None,
        lines: acc.lines,
        bill: Some(bill.clone()),
    };
    st.steps
        .store
        .put_account(&write, st.clock.now_ms())
        .await?;
    Ok(Json(bill))
}

async fn get_call(
    State(st): State<AppState>,
    Path(sid): Path<String>,
) -> Result<Json<crate::calls::CallRecord>, ApiError> {
    if sid.is_empty() || sid.len() > 64 || !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(FieldError::new("call_sid", "must be a call id such as CA0123…").into());
    }
    let call = st
        .steps
        .store
        .call(&sid)
        .await?
        .ok_or_else(|| ApiError::not_found("call"))?;
    Ok(Json(call))
}
