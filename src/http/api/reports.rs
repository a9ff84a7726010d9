//! `/api/v1/reports/{kind}`: the reports of `crate::reports` as JSON or CSV, for the same
//! period and filter the console and `hotline report` take.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::ApiError;
use crate::http::AppState;
use crate::reports::ReportError;
use crate::reports::params::{ParamError, ReportParams};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/reports/{kind}", get(report))
}

impl From<ParamError> for ApiError {
    fn from(e: ParamError) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: e.message,
            field: Some(e.field.into()),
        }
    }
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Param(p) => p.into(),
            ReportError::Store(s) => s.into(),
        }
    }
}

async fn report(
    State(st): State<AppState>,
    Path(kind): Path<String>,
    q: Result<Query<ReportParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let csv = match q.format.as_deref().map(str::trim) {
        None | Some("" | "json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ParamError {
                field: "format",
                message: "must be json or csv".into(),
            }
            .into());
        }
    };
    let report = st.report(&kind, &q).await?;
    if csv {
        let name = format!("attachment; filename=\"{}.csv\"", report.kind.as_str());
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, name),
            ],
            report.to_csv(),
        )
            .into_response());
    }
    Ok(Json(report).into_response())
}
