//! The callbacks report: how well the dialer reaches customers, per campaign.
//!
//! Rules:
//! - An attempt counts when the carrier took it (`placed_at` set: a refusal rang nobody), at
//!   the time the dialer recorded it and asked the carrier (`requested_at`, the instant the
//!   calling window was checked); the period selects attempts by that time.
//! - Connect rate per callback: of the callbacks first called in the period (their first
//!   attempt the carrier took), those a person answered at any attempt; a callback counts
//!   once, in the period of its first call, so days and months add up. Per attempt: attempts
//!   a person answered over attempts placed (an answering machine is no connect). Attempts
//!   per connect: attempts placed over those callbacks reached.
//! - Calls outside the window: attempts whose time lies outside their campaign's calling
//!   window in the callback's own zone, with the operator's calendar, checked attempt by
//!   attempt when the day is computed (the window is the campaign's JSON and the calendar a
//!   file, neither is SQL). It must be 0; it is a count so that a breach is visible.
//! - Time to the first attempt: from the ticket's resolution to the first attempt of its
//!   callback the carrier took, for first attempts in the period; it includes the campaign's
//!   designed delay (two hours for the standing campaign). Mean, median and 90th percentile
//!   (nearest rank).
//! - Filters: campaign; hotline (the number calls come from: the campaign's `from_number`);
//!   service and line kind (the callback's ticket's kind and line kind: with either, only
//!   callbacks about a ticket count); customer class (the ticket's, else the account's).

use std::collections::BTreeMap;

use super::figures::{mean, percentile};
use super::{Built, Cell, ReportCtx, Table};
use crate::callbacks::Campaign;
use crate::repo::StoreError;
use crate::reports::repo::{CallbackScope, CampaignAttempts};

/// The filters the callback reports share.
pub(super) fn scope<'a>(ctx: &ReportCtx<'a>) -> CallbackScope<'a> {
    let f = ctx.filter;
    CallbackScope {
        campaign_id: f.campaign_id,
        hotline: f.hotline.as_deref(),
        ticket_kind: f.service.as_deref(),
        line_kind: f.line_kind.map(|k| k.as_str()),
        customer_class: f.customer_class.map(|c| c.as_str()),
    }
}

/// Seconds of a duration in ms, for `Cell::secs`.
pub(super) fn secs(ms: Option<f64>) -> Cell {
    Cell::secs(ms.map(|ms| ms / 1000.0))
}

/// The report.
pub(super) async fn build(ctx: &ReportCtx<'_>) -> Result<Built, StoreError> {
    let scope = scope(ctx);
    let campaigns: BTreeMap<i64, Campaign> = ctx
        .store
        .campaigns()
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let (attempts, waits) = super::rollup::attempts(ctx, &scope).await?;

    let name = |id: i64| {
        campaigns
            .get(&id)
            .map_or_else(|| format!("campaign {id}"), |c| c.name.clone())
    };

    let mut connect = Table::new(
        "callbacks_connect",
        "Reaching customers",
        "Attempts the carrier took, by the time the dialer placed them; connect per callback = \
         callbacks first called in the period that a person answered (at any attempt) / \
         callbacks first called in the period; per attempt = attempts a \
         person answered / attempts placed; attempts per connect = attempts / callbacks \
         reached; machines = attempts an answering machine took; outside the window = \
         attempts placed outside the campaign's calling window in the customer's zone \
         (checked attempt by attempt; must be 0)",
        &[
            ("campaign", "Campaign"),
            ("callbacks", "Callbacks first called"),
            ("connect_per_callback", "Connect per callback"),
            ("attempts", "Attempts placed"),
            ("connect_per_attempt", "Connect per attempt"),
            ("attempts_per_connect", "Attempts per connect"),
            ("machines", "Answering machines"),
            ("outside_window", "Outside the window (must be 0)"),
        ],
    );
    let total = attempts
        .iter()
        .fold(CampaignAttempts::default(), |t, a| CampaignAttempts {
            callbacks: t.callbacks + a.callbacks,
            reached: t.reached + a.reached,
            attempts: t.attempts + a.attempts,
            person: t.person + a.person,
            machine: t.machine + a.machine,
            outside_window: t.outside_window + a.outside_window,
            ..t
        });
    let connect_row = |label: String, a: &CampaignAttempts| {
        vec![
            Cell::text(label),
            Cell::count(a.callbacks),
            Cell::rate(a.reached, a.callbacks),
            Cell::count(a.attempts),
            Cell::rate(a.person, a.attempts),
            Cell::number((a.reached > 0).then(|| a.attempts as f64 / a.reached as f64)),
            Cell::count(a.machine),
            Cell::count(a.outside_window),
        ]
    };
    connect.rows.push(connect_row("all".into(), &total));
    for a in &attempts {
        connect.rows.push(connect_row(name(a.campaign_id), a));
    }

    let mut first = Table::new(
        "callbacks_first_attempt",
        "From resolution to the first call",
        "Callbacks about a resolved ticket whose first attempt the carrier took was placed in \
         the period: the ticket's resolution to that attempt, including the campaign's \
         designed delay; percentiles by nearest rank",
        &[
            ("campaign", "Campaign"),
            ("callbacks", "Callbacks"),
            ("mean", "Mean"),
            ("median", "Median"),
            ("p90", "90th percentile"),
        ],
    );
    let mut per_campaign: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for w in &waits {
        per_campaign.entry(w.campaign_id).or_default().push(w.ms);
    }
    // Each campaign's waits come sorted from the store; all of them together are sorted here.
    let mut all: Vec<i64> = waits.iter().map(|w| w.ms).collect();
    all.sort_unstable();
    let wait_row = |label: String, sorted: &[i64]| {
        vec![
            Cell::text(label),
            Cell::count(i64::try_from(sorted.len()).unwrap_or(i64::MAX)),
            secs(mean(sorted)),
            secs(percentile(sorted, 50.0).map(|v| v as f64)),
            secs(percentile(sorted, 90.0).map(|v| v as f64)),
        ]
    };
    first.rows.push(wait_row("all".into(), &all));
    for (id, sorted) in &per_campaign {
        first.rows.push(wait_row(name(*id), sorted));
    }

    Ok((vec![connect, first], Vec::new()))
}
