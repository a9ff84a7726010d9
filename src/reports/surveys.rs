//! The sample-survey report: the operator's services as customers score them, and how many
//! customers respond at each attempt.
//!
//! Rules:
//! - Only sample-survey campaigns (purpose `sample_survey`) count. An answer counts at the
//!   time it was given, once per callback and question.
//! - Scores are on 0–100 as `surveys::score` gives them; an average is over the answers that
//!   gave points (a comment or an unfitting answer gives none), weighted by answer: a
//!   service's average is over all the scored answers to its questions, "all" over every
//!   scored answer. An average of nothing is "—".
//! - A question's service is the one its script names (`Question.service`); a question
//!   naming none is "(none)". Questions of the campaigns running in the period are listed
//!   even without answers, so a silent service shows as "—" rather than vanishing. Services
//!   are in the operator's order (`SERVICES`), questions in their script's order.
//! - Response by attempt: of the attempts numbered n that the carrier took in the period
//!   (one per callback), how many a person answered, and how many gave at least one answer.
//!   An attempt asks every question, so the service filter does not narrow this table.
//! - Filters: service (a question's service) narrows the score tables; campaign, hotline
//!   (the campaign's `from_number`) and customer class (the account's) apply to all; line
//!   kind does not apply (a sample calls a phone line; its strata are not a filter) and is
//!   listed as ignored.

use std::collections::BTreeMap;

use super::callbacks::scope;
use super::{Built, Cell, ReportCtx, Table};
use crate::callbacks::CampaignState;
use crate::repo::StoreError;
use crate::surveys::script::{Purpose, SERVICES};

/// Where a question's row sorts: its service's place among the operator's services (other
/// services after them, none last), the service, then the question's first appearance.
type Place = (usize, String, usize);

/// One question over the campaigns that ask it.
#[derive(Debug, Default)]
struct Tally {
    key: String,
    service: Option<String>,
    answered: i64,
    scored: i64,
    sum: f64,
}

fn average(scored: i64, sum: f64) -> Cell {
    Cell::number((scored > 0).then(|| sum / scored as f64))
}

pub(super) async fn build(ctx: &ReportCtx<'_>) -> Result<Built, StoreError> {
    let mut scope = scope(ctx);
    // The ticket filters of the shared scope mean nothing here: a survey's service is its
    // question's (applied below), and line kind is ignored.
    scope.ticket_kind = None;
    scope.line_kind = None;
    let mut ignored = Vec::new();
    if ctx.filter.line_kind.is_some() {
        ignored.push("line_kind");
    }
    let wanted = ctx.filter.service.as_deref();

    let campaigns: Vec<_> = ctx
        .store
        .campaigns()
        .await?
        .into_iter()
        .filter(|c| c.purpose == Purpose::SampleSurvey)
        .collect();
    let (scores, attempt_counts) = super::rollup::surveys(ctx, &scope).await?;

    // Every (campaign, question) → the row it adds to, keyed by service and question key.
    let mut seen = 0usize;
    let mut tallies: BTreeMap<(Option<String>, String), (usize, Tally)> = BTreeMap::new();
    let mut where_of: BTreeMap<(i64, String), (Option<String>, String)> = BTreeMap::new();
    for c in &campaigns {
        let in_scope = ctx.filter.campaign_id.is_none_or(|id| id == c.id)
            && ctx
                .filter
                .hotline
                .as_deref()
                .is_none_or(|h| h == c.from_number);
        // A draft never called anyone: its questions are listed only once answered.
        let running = c.state != CampaignState::Draft
            && c.starts_at < ctx.period.to
            && c.ends_at.is_none_or(|e| e > ctx.period.from);
        let answered = scores.iter().any(|s| s.campaign_id == c.id);
        for q in &c.script.questions {
            let key = (q.service.clone(), q.key.clone());
            where_of.insert((c.id, q.key.clone()), key.clone());
            if in_scope && (running || answered) && !tallies.contains_key(&key) {
                seen += 1;
                let t = Tally {
                    key: q.key.clone(),
                    service: q.service.clone(),
                    ..Tally::default()
                };
                tallies.insert(key, (seen, t));
            }
        }
    }
    for s in &scores {
        // A question its campaign's script no longer asks keeps its answers, under no service.
        let key = where_of
            .get(&(s.campaign_id, s.question.clone()))
            .cloned()
            .unwrap_or((None, s.question.clone()));
        let (_, t) = tallies.entry(key).or_insert_with(|| {
            seen += 1;
            (
                seen,
                Tally {
                    key: s.question.clone(),
                    ..Tally::default()
                },
            )
        });
        t.answered += s.answered;
        t.scored += s.scored;
        t.sum += s.score_sum.unwrap_or(0.0);
    }
    let mut rows: Vec<(Place, Tally)> = tallies
        .into_values()
        .filter(|(_, t)| wanted.is_none_or(|w| t.service.as_deref() == Some(w)))
        .map(|(order, t)| {
            let rank = match &t.service {
                Some(s) => SERVICES
                    .iter()
                    .position(|k| k == s)
                    .unwrap_or(SERVICES.len()),
                None => SERVICES.len() + 1,
            };
            ((rank, t.service.clone().unwrap_or_default(), order), t)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));

    let mut questions = Table::new(
        "survey_questions",
        "Scores per question",
        "Sample-survey answers given in the period, once per callback; average = mean score \
         (0–100) over the answers that gave points",
        &[
            ("service", "Service"),
            ("question", "Question"),
            ("answered", "Answered"),
            ("scored", "Scored"),
            ("average", "Average score"),
        ],
    );
    let service_label = |s: &Option<String>| s.clone().unwrap_or_else(|| "(none)".into());
    for (_, t) in &rows {
        questions.rows.push(vec![
            Cell::text(service_label(&t.service)),
            Cell::text(t.key.clone()),
            Cell::count(t.answered),
            Cell::count(t.scored),
            average(t.scored, t.sum),
        ]);
    }

    let mut services = Table::new(
        "survey_services",
        "Scores per service",
        "Sample-survey answers given in the period to the questions rating each service; \
         average = mean score (0–100) over all their answers that gave points",
        &[
            ("service", "Service"),
            ("questions", "Questions"),
            ("answered", "Answers"),
            ("scored", "Scored"),
            ("average", "Average score"),
        ],
    );
    let mut per_service: Vec<(Option<String>, i64, i64, i64, f64)> = Vec::new();
    for (_, t) in &rows {
        match per_service.last_mut() {
            Some(last) if last.0 == t.service => {
                last.1 += 1;
                last.2 += t.answered;
                last.3 += t.scored;
                last.4 += t.sum;
            }
            _ => per_service.push((t.service.clone(), 1, t.answered, t.scored, t.sum)),
        }
    }
    let all = per_service.iter().fold((0, 0, 0, 0.0), |a, s| {
        (a.0 + s.1, a.1 + s.2, a.2 + s.3, a.3 + s.4)
    });
    services.rows.push(vec![
        Cell::text("all"),
        Cell::count(all.0),
        Cell::count(all.1),
        Cell::count(all.2),
        average(all.2, all.3),
    ]);
    for (service, n, answered, scored, sum) in &per_service {
        services.rows.push(vec![
            Cell::text(service_label(service)),
            Cell::count(*n),
            Cell::count(*answered),
            Cell::count(*scored),
            average(*scored, *sum),
        ]);
    }

    let mut attempts = Table::new(
        "survey_attempts",
        "Response by attempt",
        "Sample-survey attempts the carrier took in the period, by attempt number (one per \
         callback); answered = a person answered it, responded = at least one answer was \
         given during it (every service: an attempt asks every question)",
        &[
            ("attempt", "Attempt"),
            ("placed", "Placed"),
            ("answered", "Answered by a person"),
            ("responded", "Responded"),
        ],
    );
    for a in attempt_counts {
        attempts.rows.push(vec![
            Cell::text(a.attempt_no.to_string()),
            Cell::count(a.placed),
            Cell::rate(a.person, a.placed),
            Cell::rate(a.responded, a.placed),
        ]);
    }

    Ok((vec![services, questions, attempts], ignored))
}
