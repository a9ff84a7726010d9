//! The satisfaction report: what customers said when called back after a repair or an order.
//!
//! Rules:
//! - Only satisfaction campaigns (purpose `satisfaction`: the standing one and any other)
//!   count. An answer counts at the time it was given, once per callback.
//! - The rate is the operator's: (very + basically satisfied) over everyone who answered the
//!   satisfaction question (in each campaign's script, the choice whose values are exactly
//!   very / basic / dissatisfied), always with its denominator; nobody answering is "—",
//!   never 0%. Fixed on first repair: "yes" over everyone who answered the script's `fixed`
//!   yes/no question.
//! - The sample beside it is a cohort: callbacks queued in the period, whatever became of
//!   them; of those, reached (an attempt a person answered) and answered (at least one
//!   survey answer), whenever that happened.
//! - By service: the kind of the callback's ticket and its line kind; a callback without a
//!   ticket (from a list) is "(no ticket)". The first row of each table is all of them.
//! - Every filter applies: service is the ticket's kind, line kind the ticket's, customer
//!   class the ticket's (else the account's), campaign, and hotline (the campaign's
//!   `from_number`).

use std::collections::BTreeMap;

use super::callbacks::scope;
use super::{Built, Cell, ReportCtx, Table};
use crate::repo::StoreError;
use crate::surveys::script::{AnswerKind, BASIC, DISSATISFIED, NO, Purpose, VERY, YES};

/// The key the built-in script asks "was it fixed?" under (a yes/no question).
const FIXED: &str = "fixed";

/// A service as this report groups by: ticket kind and line kind.
type Service = (Option<String>, Option<String>);

/// The answers of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    very: i64,
    basic: i64,
    dissatisfied: i64,
    yes: i64,
    no: i64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.very += o.very;
        self.basic += o.basic;
        self.dissatisfied += o.dissatisfied;
        self.yes += o.yes;
        self.no += o.no;
    }
}

/// The questions that count in one campaign's script.
struct Keys {
    satisfaction: Option<String>,
    fixed: Option<String>,
}

fn labels((kind, line): &Service) -> [Cell; 2] {
    [
        Cell::text(kind.as_deref().unwrap_or("(no ticket)")),
        Cell::text(line.as_deref().unwrap_or("—")),
    ]
}

/// Ticket kinds in name order, callbacks without a ticket last (the backends sort NULLs
/// differently, so the order is made here).
fn order(s: &Service) -> (bool, &Option<String>, bool, &Option<String>) {
    (s.0.is_none(), &s.0, s.1.is_none(), &s.1)
}

pub(super) async fn build(ctx: &ReportCtx<'_>) -> Result<Built, StoreError> {
    let scope = scope(ctx);
    let keys: BTreeMap<i64, Keys> = ctx
        .store
        .campaigns()
        .await?
        .into_iter()
        .filter(|c| c.purpose == Purpose::Satisfaction)
        .map(|c| {
            let fixed = c
                .script
                .question(FIXED)
                .filter(|q| q.answer == AnswerKind::YesNo)
                .map(|q| q.key.clone());
            let satisfaction = c.script.satisfaction_question().map(|q| q.key.clone());
            (
                c.id,
                Keys {
                    satisfaction,
                    fixed,
                },
            )
        })
        .collect();

    let mut groups: BTreeMap<Service, Counts> = BTreeMap::new();
    let (answers, sample) = super::rollup::satisfaction(ctx, &scope).await?;
    for a in answers {
        let Some(k) = keys.get(&a.campaign_id) else {
            continue;
        };
        let mut c = Counts::default();
        if k.satisfaction.as_deref() == Some(a.question.as_str()) {
            match a.answer.as_str() {
                VERY => c.very = a.callbacks,
                BASIC => c.basic = a.callbacks,
                DISSATISFIED => c.dissatisfied = a.callbacks,
                _ => continue,
            }
        } else if k.fixed.as_deref() == Some(a.question.as_str()) {
            match a.answer.as_str() {
                YES => c.yes = a.callbacks,
                NO => c.no = a.callbacks,
                _ => continue,
            }
        } else {
            continue;
        }
        groups
            .entry((a.ticket_kind, a.line_kind))
            .or_default()
            .add(&c);
    }
    let mut total = Counts::default();
    for c in groups.values() {
        total.add(c);
    }

    let mut answers = Table::new(
        "satisfaction",
        "Satisfaction after repairs and orders",
        "Answers given in the period to satisfaction callbacks, once per callback; satisfied = \
         (very + basically satisfied) / everyone who answered the satisfaction question; \
         fixed on first repair = \"yes\" / everyone who answered whether it was fixed",
        &[
            ("service", "Service (ticket kind)"),
            ("line_kind", "Line kind"),
            ("very", "Very satisfied"),
            ("basic", "Basically satisfied"),
            ("dissatisfied", "Dissatisfied"),
            ("satisfied", "Satisfied"),
            ("fixed", "Fixed on first repair"),
        ],
    );
    let answer_row = |service: [Cell; 2], c: &Counts| {
        let [kind, line] = service;
        vec![
            kind,
            line,
            Cell::count(c.very),
            Cell::count(c.basic),
            Cell::count(c.dissatisfied),
            Cell::rate(c.very + c.basic, c.very + c.basic + c.dissatisfied),
            Cell::rate(c.yes, c.yes + c.no),
        ]
    };
    answers
        .rows
        .push(answer_row([Cell::text("all"), Cell::text("all")], &total));
    let mut ordered: Vec<_> = groups.iter().collect();
    ordered.sort_by(|a, b| order(a.0).cmp(&order(b.0)));
    for (service, c) in ordered {
        answers.rows.push(answer_row(labels(service), c));
    }

    let mut cohort = Table::new(
        "satisfaction_sample",
        "Customers sampled",
        "Satisfaction callbacks queued in the period, whatever became of them; reached = a \
         person answered an attempt; answered = gave at least one survey answer (at any time \
         since)",
        &[
            ("service", "Service (ticket kind)"),
            ("line_kind", "Line kind"),
            ("sampled", "Sampled"),
            ("reached", "Reached"),
            ("answered", "Answered"),
        ],
    );
    let (sampled, reached, answered) = sample.iter().fold((0, 0, 0), |(s, r, a), g| {
        (s + g.sampled, r + g.reached, a + g.answered)
    });
    let cohort_row = |service: [Cell; 2], s: i64, r: i64, a: i64| {
        let [kind, line] = service;
        vec![
            kind,
            line,
            Cell::count(s),
            Cell::rate(r, s),
            Cell::rate(a, s),
        ]
    };
    cohort.rows.push(cohort_row(
        [Cell::text("all"), Cell::text("all")],
        sampled,
        reached,
        answered,
    ));
    let mut by_service: Vec<_> = sample
        .iter()
        .map(|g| ((g.ticket_kind.clone(), g.line_kind.clone()), g))
        .collect();
    by_service.sort_by(|a, b| order(&a.0).cmp(&order(&b.0)));
    for (service, g) in by_service {
        cohort.rows.push(cohort_row(
            labels(&service),
            g.sampled,
            g.reached,
            g.answered,
        ));
    }

    Ok((vec![answers, cohort], Vec::new()))
}
