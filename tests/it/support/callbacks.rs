//! Callbacks: a campaign started, the dialer run, a ticket to call the customer back about.

use hotline::callbacks::dialer::Round;
use hotline::callbacks::{Campaign, CampaignState, NewCampaign};
use hotline::clock::Clock;
use hotline::customers::LineKind;
use hotline::tickets::{Action, Ticket, TicketKind};

use super::app::{HOUR, START_MS, TestApp};
use super::demo::ALICE;
use super::fixtures;

/// Creates and starts a campaign.
pub async fn running(app: &TestApp, c: NewCampaign) -> Campaign {
    let store = &app.state.store;
    let c = store.create_campaign(&c, START_MS).await.expect("campaign");
    store
        .set_campaign_state(c.id, CampaignState::Running, START_MS)
        .await
        .expect("start")
}

/// Runs the dialer once and lets the fake carrier finish every call it placed.
pub async fn dial(app: &TestApp) -> Round {
    let round = app.state.callbacks.round().await.expect("round");
    app.twilio.wait_idle().await;
    round
}

/// A ticket of `kind` about Alice's line (as a line of `line_kind`), reported by phone now
/// and resolved an hour later: what a satisfaction callback follows.
pub async fn resolved(app: &TestApp, kind: TicketKind, line_kind: LineKind) -> Ticket {
    let acc = app
        .state
        .store
        .account_by_line(ALICE)
        .await
        .expect("store")
        .expect("Alice");
    let desk = &app.state.desk;
    let t = desk
        .open(
            fixtures::reported(kind, &acc, &fixtures::line(ALICE, line_kind)),
            app.clock.now_ms(),
        )
        .await
        .expect("open");
    app.clock.advance_ms(HOUR);
    let resolve = Action::Resolve {
        code: "fixed".into(),
        note: "cable replaced".into(),
    };
    desk.change(&t.number, &resolve, "tech-7", None)
        .await
        .expect("resolve")
}
