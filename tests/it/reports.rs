//! Every report gives the same figures through every surface: the JSON API, its CSV, the
//! console's page and CSV export, and `hotline report` on the command line, for the same
//! period and filter; and each surface refuses a bad filter with the field at fault.

use crate::support::app::{API_TOKEN, Backend, TestApp, both};
use crate::support::cli::run;
use crate::support::console::{add_agent, sign_in};
use crate::support::demo::{ALICE, HOTLINE, UNKNOWN};
use crate::support::fixtures;
use hotline::agents::Role;
use hotline::clock::Clock;
use hotline::reports::{Cell, ReportKind};
use hotline::surveys::script::Purpose;
use hotline::tickets::{NewTicket, TicketKind};

/// Some data for every report: a complaint, and a fault repaired in 12.8 hours.
async fn some_outcomes(app: &TestApp) {
    let desk = &app.state.desk;
    let now = app.clock.now_ms();
    for (kind, description) in [
        (TicketKind::Complaint, "overcharged"),
        (TicketKind::Fault, "no dial tone"),
    ] {
        let t = desk
            .open(
                NewTicket {
                    line_number: Some(ALICE.into()),
                    description: description.into(),
                    callback_number: Some(ALICE.into()),
                    ..fixtures::ticket(kind)
                },
                now - 13 * 3_600_000,
            )
            .await
            .expect("open");
        if kind == TicketKind::Fault {
            let resolved = hotline::tickets::Action::Resolve {
                code: "fixed".into(),
                note: "replaced the drop wire".into(),
            };
            app.clock.set_ms(now - 13 * 3_600_000 + 46_080_000);
            desk.change(&t.number, &resolved, "tech", None)
                .await
                .expect("resolve");
            app.clock.set_ms(now);
        }
    }
}

/// `hotline report args…`: whether it succeeded, its standard output and its standard error.
fn cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = run(&app.database_url, &[&["report"], args].concat());
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

both!(
    every_surface_shows_the_same_figures,
    |app: TestApp| async move {
        // The command line reads the real clock: the app's must agree on what "now" is.
        let real_now = hotline::clock::SystemClock.now_ms();
        app.clock.set_ms(real_now);
        some_outcomes(&app).await;
        add_agent(&app, "boss", Role::Supervisor).await;
        let console = sign_in(&app, "boss").await;
        let today = chrono::DateTime::from_timestamp_millis(real_now)
            .expect("now")
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .date_naive();
        let from = (today - chrono::Duration::days(40)).to_string();
        let to = today.to_string();
        for kind in ReportKind::ALL {
            let k = kind.as_str();
            let query = format!("from={from}&to={to}");
            let (status, api) = app.api_get(&format!("/api/v1/reports/{k}?{query}")).await;
            assert_eq!(status, 200, "{k}: {api}");
            let (ok, cli_json, err) =
                cli(&app, &[k, "--from", &from, "--to", &to, "--format", "json"]);
            assert!(ok, "{k}: {err}");
            let cli_json: serde_json::Value = serde_json::from_str(&cli_json).expect("json");
            assert_eq!(
                api["tables"], cli_json["tables"],
                "{k}: API and command line differ"
            );

            let api_csv = app
                .http
                .get(format!(
                    "{}/api/v1/reports/{k}?{query}&format=csv",
                    app.base
                ))
                .bearer_auth(API_TOKEN)
                .send()
                .await
                .expect("csv")
                .text()
                .await
                .expect("csv body");
            let (_, cli_csv, _) = cli(&app, &[k, "--from", &from, "--to", &to, "--format", "csv"]);
            let console_csv = console
                .get(&format!("/console/reports.csv?kind={k}&{query}"))
                .await;
            assert_eq!(console_csv.status, 200, "{}", console_csv.body);
            crate::support::openapi::assert_csv_report(&api_csv, &api);
            assert_eq!(api_csv, cli_csv, "{k}: CSV differs");
            assert_eq!(api_csv, console_csv.body, "{k}: console CSV differs");

            // The page and the terminal show every figure as a person reads it.
            let page = console
                .get(&format!("/console/reports?kind={k}&{query}"))
                .await;
            assert_eq!(page.status, 200, "{}", page.body);
            // The filters are choices, not free text.
            for select in [
                "<select name=\"service\">",
                "<select name=\"line_kind\">",
                "<select name=\"customer_class\">",
                "<select name=\"campaign\">",
                "<select name=\"hotline\">",
            ] {
                assert!(page.body.contains(select), "{k}: {select}");
            }
            assert!(page.body.contains("<option value=\"leased\">"), "{k}");
            let (_, text, _) = cli(&app, &[k, "--from", &from, "--to", &to]);
            let tables: Vec<serde_json::Value> =
                serde_json::from_value(api["tables"].clone()).expect("tables");
            assert!(!tables.is_empty(), "{k}: a report without tables");
            for t in &tables {
                let definition = t["definition"].as_str().expect("definition");
                assert!(!definition.is_empty(), "{k}: a table without a definition");
                assert!(text.contains(definition), "{k}: {definition}");
                for row in t["rows"].as_array().expect("rows") {
                    for cell in row.as_array().expect("cells") {
                        let cell: Cell = serde_json::from_value(cell.clone()).expect("cell");
                        let shown = cell.display();
                        assert!(text.contains(&shown), "{k}: {shown:?} not in\n{text}");
                        let escaped = shown.replace('&', "&amp;").replace('<', "&lt;");
                        assert!(
                            page.body.contains(&escaped),
                            "{k}: {shown:?} not on the page"
                        );
                    }
                }
            }
        }
    }
);

both!(
    bad_filters_are_refused_everywhere,
    |app: TestApp| async move {
        add_agent(&app, "boss", Role::Supervisor).await;
        add_agent(&app, "li", Role::Agent).await;
        let console = sign_in(&app, "boss").await;
        let (status, body) = app
            .api_get("/api/v1/reports/satisfaction?customer_class=vip")
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (400, Some("customer_class"))
        );
        let (status, body) = app.api_get("/api/v1/reports/revenue").await;
        assert_eq!((status, body["field"].as_str()), (400, Some("kind")));
        let (status, body) = app
            .api_get("/api/v1/reports/complaints?from=2026-07-01&to=2026-06-01")
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (400, Some("to")),
            "{body}"
        );
        let page = console
            .get("/console/reports?kind=hotline&from=yesterday")
            .await;
        assert_eq!(page.status, 400);
        assert!(page.body.contains("from"), "{}", page.body);
        let (ok, _, err) = cli(&app, &["complaints", "--line-kind", "fax"]);
        assert!(!ok);
        assert!(err.contains("line_kind"), "{err}");
        // Reports are for supervisors.
        let agent = sign_in(&app, "li").await;
        assert_eq!(agent.get("/console/reports").await.status, 403);
    }
);

both!(
    the_hotline_filter_offers_the_numbers_called,
    |app: TestApp| async move {
        add_agent(&app, "boss", Role::Supervisor).await;
        const OTHER: &str = "+862160000000";
        for to in [HOTLINE, OTHER] {
            let mut call = app.sim.start_call(UNKNOWN, to).await.expect("call");
            call.hang_up().await.expect("hang up");
        }
        // Callbacks come from a campaign's number: the callbacks report filters by it.
        const CAMPAIGN: &str = "+862170000000";
        let campaign = hotline::callbacks::NewCampaign {
            from_number: CAMPAIGN.into(),
            ..fixtures::campaign("after repairs", Purpose::Satisfaction)
        };
        (app.state
            .store
            .create_campaign(&campaign, app.clock.now_ms()))
        .await
        .expect("campaign");
        let console = sign_in(&app, "boss").await;
        let page = console.get("/console/reports?kind=hotline").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let select = page
            .body
            .split("<select name=\"hotline\">")
            .nth(1)
            .and_then(|s| s.split("</select>").next())
            .unwrap_or_else(|| panic!("no hotline select: {}", page.body));
        assert!(
            select.starts_with("<option value=\"\" selected>Any</option>"),
            "{select}"
        );
        for n in [HOTLINE, OTHER, CAMPAIGN] {
            assert!(
                select.contains(&format!("<option value=\"{n}\">{n}</option>")),
                "{n}: {select}"
            );
        }
        // The one asked for is selected, and its figures shown.
        let page = console
            .get(&format!(
                "/console/reports?kind=hotline&hotline={}",
                OTHER.replace('+', "%2B")
            ))
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(
            page.body.contains(&format!(
                "<option value=\"{OTHER}\" selected>{OTHER}</option>"
            )),
            "{}",
            page.body
        );
    }
);
