//! Demo customers and console accounts for `hotline serve --demo`, so a newcomer can dial
//! and sign in straight away.
//!
//! Rules: demo data is upserted by account number, so restarting in demo mode never
//! duplicates it; the demo secrets are fixed, printed, and only used when none is configured.

use chrono::{Datelike, Duration, NaiveDate};

use crate::agents::{NewAgent, Role};
use crate::billing::{Bill, Charge, Payment};
use crate::customers::input::{AccountInput, LineInput};
use crate::repo::Store;

/// Auth token used by `serve --demo` and `dial` when none is configured.
pub const DEMO_AUTH_TOKEN: &str = "demo-auth-token";
/// API token used by `serve --demo` when none is configured.
pub const DEMO_API_TOKEN: &str = "demo-api-token";
/// The hotline's own number in the demo.
pub const DEMO_HOTLINE: &str = "+8610000";

/// One demo customer, for the README and the start-up banner.
pub struct DemoCustomer {
    pub account_no: &'static str,
    pub name: &'static str,
    pub phone: &'static str,
    pub pin: &'static str,
    pub language: Option<&'static str>,
    /// The service address an installation order reads back.
    pub address: &'static str,
}

pub const CUSTOMERS: [DemoCustomer; 3] = [
    DemoCustomer {
        account_no: "10000001",
        name: "张伟",
        phone: "+8613800000001",
        pin: "1234",
        language: None,
        address: "上海市浦东新区世纪大道100号5号楼1203室",
    },
    DemoCustomer {
        account_no: "20000002",
        name: "Alice Smith",
        phone: "+8613800000002",
        pin: "5678",
        language: Some("en-US"),
        address: "Room 802, 18 Fuxing Road, Xuhui District, Shanghai",
    },
    DemoCustomer {
        account_no: "30000003",
        name: "李娜贸易有限公司",
        phone: "+862166660003",
        pin: "2468",
        language: Some("zh-CN"),
        address: "上海市黄浦区南京东路300号12楼",
    },
];

fn bill(today: NaiveDate, i: usize) -> Bill {
    let due = NaiveDate::from_ymd_opt(today.year(), today.month(), 15)
        .map(|d| if d < today { d + Duration::days(30) } else { d })
        .unwrap_or(today);
    let charges = |c: &[(&str, i64)]| {
        c.iter()
            .map(|(cat, amount)| Charge {
                category: cat.to_string(),
                description: String::new(),
                amount: *amount,
            })
            .collect()
    };
    match i {
        0 => Bill {
            currency: "CNY".into(),
            amount_due: 12850,
            due_date: due,
            balance: -12850,
            last_payment: Some(Payment {
                amount: 9800,
                date: today - Duration::days(20),
            }),
            charges: charges(&[
                ("monthly_fee", 5800),
                ("long_distance", 3620),
                ("data", 2930),
                ("value_added", 500),
            ]),
        },
        1 => Bill {
            currency: "CNY".into(),
            amount_due: 0,
            due_date: due,
            balance: 3605,
            last_payment: Some(Payment {
                amount: 20000,
                date: today - Duration::days(3),
            }),
            charges: charges(&[("monthly_fee", 5800), ("international", 10595)]),
        },
        _ => Bill {
            currency: "CNY".into(),
            amount_due: 368000,
            due_date: due,
            balance: -368000,
            last_payment: None,
            charges: charges(&[
                ("leased_line", 300000),
                ("broadband", 50000),
                ("local_calls", 18000),
            ]),
        },
    }
}

/// Creates or refreshes the demo customers.
pub async fn load(store: &dyn Store, now_ms: i64) -> anyhow::Result<()> {
    let today = chrono::DateTime::from_timestamp_millis(now_ms)
        .map(|t| t.date_naive())
        .unwrap_or_default();
    for (i, c) in CUSTOMERS.iter().enumerate() {
        let mut lines = vec![LineInput {
            number: c.phone.into(),
            kind: "phone".into(),
            label: None,
        }];
        if i == 2 {
            lines.push(LineInput {
                number: "SH-LL-30000003".into(),
                kind: "leased".into(),
                label: Some("Head office leased line".into()),
            });
            lines.push(LineInput {
                number: "BB30000003".into(),
                kind: "broadband".into(),
                label: None,
            });
        }
        let input = AccountInput {
            name: c.name.into(),
            language: c.language.map(Into::into),
            customer_class: Some(if i == 2 { "business" } else { "residential" }.into()),
            pin: Some(c.pin.into()),
            address: Some(c.address.into()),
            lines,
            bill: Some(bill(today, i)),
        };
        let write = input.into_write(c.account_no).await?;
        store.put_account(&write, now_ms).await?;
    }
    Ok(())
}

/// The demo console accounts: a supervisor and an agent, with public passwords.
pub const DEMO_AGENTS: [(&str, &str, Role, &str); 2] = [
    ("demo", "Demo Supervisor", Role::Supervisor, "demo-password"),
    ("agent", "Demo Agent", Role::Agent, "agent-password"),
];

/// Creates the demo console accounts that do not exist yet.
pub async fn load_agents(store: &dyn Store, now_ms: i64) -> anyhow::Result<()> {
    for (login, name, role, password) in DEMO_AGENTS {
        if store.agent_by_login(login).await?.is_some() {
            continue;
        }
        let new = NewAgent {
            login: login.into(),
            name: name.into(),
            role,
            phone: None,
            locale: crate::prompts::Locale::ZhCn,
            password_hash: crate::customers::pin::hash_secret_async(password.into()).await?,
        };
        store.create_agent(&new, now_ms).await?;
    }
    Ok(())
}
