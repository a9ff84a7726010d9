//! Webhook endpoints in the API: subscribe, list, unsubscribe, and see (and re-send) what
//! each endpoint was sent.
//!
//! Rules: an endpoint's secret is shown once, in the answer to its creation; listings never
//! show it. Event types are `ticket.<kind>` for the kinds in `tickets::EVENT_KINDS`, or `*`
//! for all; anything else is refused with the list of valid types. Only a failed delivery can
//! be re-sent.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiError, ApiJson, rfc3339};
use crate::customers::input::FieldError;
use crate::http::AppState;
use crate::secret::Secret;
use crate::tickets::EVENT_KINDS;
use crate::webhooks::worker::message_id;
use crate::webhooks::{Delivery, DeliveryState, Endpoint, NewEndpoint, sign};

const MAX_URL_LEN: usize = 2000;
const MAX_DESCRIPTION_CHARS: usize = 500;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/webhooks",
            get(list_endpoints).post(create_endpoint),
        )
        .route("/api/v1/webhooks/{id}", delete(delete_endpoint))
        .route("/api/v1/webhooks/{id}/deliveries", get(list_deliveries))
        .route(
            "/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry",
            post(retry_delivery),
        )
}

/// An endpoint as the API shows it; `secret` only when it was just created.
#[derive(Debug, Serialize)]
struct EndpointView {
    id: i64,
    url: String,
    events: Vec<String>,
    description: String,
    active: bool,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl EndpointView {
    fn new(e: Endpoint, with_secret: bool) -> Self {
        EndpointView {
            secret: with_secret.then(|| e.secret.expose().to_string()),
            id: e.id,
            url: e.url,
            events: e.events,
            description: e.description,
            active: e.active,
            created_at: rfc3339(e.created_at),
        }
    }
}

#[derive(Debug, Serialize)]
struct DeliveryView {
    id: i64,
    endpoint_id: i64,
    event_id: i64,
    /// The `webhook-id` header the receiver sees.
    webhook_id: String,
    state: DeliveryState,
    attempts: i32,
    /// When the next attempt is due (pending only).
    next_attempt_at: Option<String>,
    last_status: Option<i32>,
    last_error: Option<String>,
    delivered_at: Option<String>,
    created_at: String,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            id: d.id,
            endpoint_id: d.endpoint_id,
            event_id: d.event_id,
            webhook_id: message_id(d.event_id),
            state: d.state,
            attempts: d.attempts,
            next_attempt_at: (d.state == DeliveryState::Pending)
                .then(|| rfc3339(d.next_attempt_at)),
            last_status: d.last_status,
            last_error: d.last_error,
            delivered_at: d.delivered_at.map(rfc3339),
            created_at: rfc3339(d.created_at),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointInput {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default)]
    description: Option<String>,
}

/// The valid event types, as listed in error messages.
fn valid_types() -> String {
    let mut all = vec!["\"*\"".to_string()];
    all.extend(EVENT_KINDS.iter().map(|k| format!("\"ticket.{k}\"")));
    all.join(", ")
}

fn validate_url(url: Option<&str>) -> Result<String, FieldError> {
    let url = url.map(str::trim).unwrap_or_default();
    if url.is_empty() {
        return Err(FieldError::new("url", "is required"));
    }
    if url.len() > MAX_URL_LEN {
        return Err(FieldError::new(
            "url",
            format!("must be at most {MAX_URL_LEN} characters"),
        ));
    }
    let bad = || FieldError::new("url", "must be an absolute http:// or https:// URL");
    let parsed = reqwest::Url::parse(url).map_err(|_| bad())?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(url.to_string())
}

/// The event types, checked and without repeats; `*` alone when it is among them.
fn validate_events(events: Option<Vec<String>>) -> Result<Vec<String>, FieldError> {
    let events = events.unwrap_or_default();
    if events.is_empty() {
        return Err(FieldError::new(
            "events",
            format!("list the event types to receive: any of {}", valid_types()),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for e in events {
        let known = e == "*"
            || e.strip_prefix("ticket.")
                .is_some_and(|k| EVENT_KINDS.contains(&k));
        if !known {
            return Err(FieldError::new(
                "events",
                format!("unknown event type {e:?}; use {}", valid_types()),
            ));
        }
        if !out.contains(&e) {
            out.push(e);
        }
    }
    if out.iter().any(|e| e == "*") {
        out = vec!["*".to_string()];
    }
    Ok(out)
}

/// Subscribes an endpoint; the answer is the only place its secret is shown.
async fn create_endpoint(
    State(st): State<AppState>,
    body: Result<ApiJson<EndpointInput>, ApiError>,
) -> Result<Response, ApiError> {
    let ApiJson(input) = body?;
    let url = validate_url(input.url.as_deref())?;
    let events = validate_events(input.events)?;
    let description = input.description.unwrap_or_default().trim().to_string();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(FieldError::new(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        )
        .into());
    }
    let new = NewEndpoint {
        url,
        secret: Secret::new(sign::new_secret()),
        events,
        description,
    };
    let endpoint = st.store.add_endpoint(&new, st.clock.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(EndpointView::new(endpoint, true))).into_response())
}

async fn list_endpoints(State(st): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let endpoints: Vec<_> = st
        .steps
        .store
        .endpoints()
        .await?
        .into_iter()
        .map(|e| EndpointView::new(e, false))
        .collect();
    Ok(Json(json!({ "webhooks": endpoints })))
}

fn id_from(path: Result<Path<i64>, PathRejection>) -> Result<i64, ApiError> {
    match path {
        Ok(Path(id)) if id > 0 => Ok(id),
        _ => Err(FieldError::new("id", "must be a webhook id (a positive integer)").into()),
    }
}

async fn endpoint(st: &AppState, id: i64) -> Result<Endpoint, ApiError> {
    st.steps
        .store
        .endpoints()
        .await?
        .into_iter()
        .find(|e| e.id == id)
        .ok_or_else(|| ApiError::not_found("webhook"))
}

/// Unsubscribes an endpoint; what it was still owed is dropped.
async fn delete_endpoint(
    State(st): State<AppState>,
    path: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let id = id_from(path)?;
    if st.store.delete_endpoint(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("webhook"))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveriesQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

/// An endpoint's deliveries, oldest first.
async fn list_deliveries(
    State(st): State<AppState>,
    path: Result<Path<i64>, PathRejection>,
    q: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = id_from(path)?;
    let Query(q) = q?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(FieldError::new("limit", "must be between 1 and 500").into());
    }
    endpoint(&st, id).await?;
    let mut deliveries = st
        .steps
        .store
        .deliveries(id, q.after.unwrap_or(0), limit + 1)
        .await?;
    let more = deliveries.len() as i64 > limit;
    deliveries.truncate(usize::try_from(limit).unwrap_or(0));
    let next_after = if more {
        deliveries.last().map(|d| d.id)
    } else {
        None
    };
    let deliveries: Vec<DeliveryView> = deliveries.into_iter().map(Into::into).collect();
    Ok(Json(
        json!({ "deliveries": deliveries, "next_after": next_after }),
    ))
}

/// Sends a failed delivery again (from now, one attempt).
async fn retry_delivery(
    State(st): State<AppState>,
    path: Result<Path<(i64, i64)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (id, delivery_id) = match path {
        Ok(Path((id, d))) if id > 0 && d > 0 => (id, d),
        _ => {
            return Err(FieldError::new(
                "delivery_id",
                "webhook and delivery ids are positive integers",
            )
            .into());
        }
    };
    endpoint(&st, id).await?;
    let find = async || -> Result<Delivery, ApiError> {
        st.steps
            .store
            .deliveries(id, delivery_id - 1, 1)
            .await?
            .into_iter()
            .find(|d| d.id == delivery_id)
            .ok_or_else(|| ApiError::not_found("delivery"))
    };
    let d = find().await?;
    let refused = |d: &Delivery| {
        ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "only a failed delivery can be re-sent; this one is {}",
                d.state.as_str()
            ),
        )
    };
    if d.state != DeliveryState::Failed {
        return Err(refused(&d));
    }
    if !st
        .steps
        .store
        .retry_delivery(delivery_id, st.clock.now_ms())
        .await?
    {
        // Re-sent by someone else meanwhile.
        return Err(refused(&find().await?));
    }
    let d = find().await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryView::from(d))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_absolute_http() {
        assert!(validate_url(Some("https://hooks.example.com/x?y=1")).is_ok());
        assert!(validate_url(Some(" http://127.0.0.1:9000/hook ")).is_ok());
        for bad in [
            None,
            Some(""),
            Some("hooks.example.com"),
            Some("ftp://hooks.example.com"),
            Some("file:///etc/passwd"),
            Some("http://"),
        ] {
            let e = validate_url(bad).expect_err("refused");
            assert_eq!(e.field, "url", "{bad:?}");
        }
    }

    #[test]
    fn event_types_are_checked_and_normalised() {
        let ev = |v: &[&str]| validate_events(Some(v.iter().map(|s| s.to_string()).collect()));
        assert_eq!(
            ev(&["ticket.resolved", "ticket.opened", "ticket.resolved"]).expect("ok"),
            ["ticket.resolved", "ticket.opened"]
        );
        assert_eq!(ev(&["ticket.opened", "*"]).expect("ok"), ["*"]);
        let e = ev(&["ticket.exploded"]).expect_err("unknown");
        assert_eq!(e.field, "events");
        assert!(e.message.contains("\"ticket.breached\""), "{}", e.message);
        assert!(ev(&["resolved"]).is_err());
        assert!(ev(&["ticket.*"]).is_err());
        assert!(ev(&[]).is_err());
        assert!(validate_events(None).is_err());
    }
}
