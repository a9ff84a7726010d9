//! Where bills come from: the hotline's own tables, or the operator's billing system over HTTP.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::Bill;
use crate::billing::repo::BillStore;
use crate::customers::Account;

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error("billing store: {0}")]
    Store(#[from] crate::repo::StoreError),
    #[error("billing endpoint did not answer within {0:?}")]
    Timeout(Duration),
    #[error("billing endpoint: {0}")]
    Http(String),
    #[error("billing endpoint answered a bill that does not parse: {0}")]
    Parse(String),
}

#[async_trait]
pub trait BillingSource: Send + Sync + 'static {
    /// The account's current bill; `None` when it has none.
    async fn bill(&self, account: &Account) -> Result<Option<Bill>, BillingError>;

    /// The store that keeps the bills beside the accounts, when this source reads them
    /// there: an account and its bill are then one read.
    fn kept_with_accounts(&self) -> Option<&dyn BillStore> {
        None
    }
}

/// Bills kept in the hotline's store (filled by the API and CSV import).
pub struct StoreBilling(pub Arc<dyn BillStore>);

#[async_trait]
impl BillingSource for StoreBilling {
    async fn bill(&self, account: &Account) -> Result<Option<Bill>, BillingError> {
        Ok(self.0.bill(account.id).await?)
    }

    fn kept_with_accounts(&self) -> Option<&dyn BillStore> {
        Some(self.0.as_ref())
    }
}

/// An external billing endpoint: `GET {url}?account=<account number>` answers 200 with the
/// bill as JSON (the API's `Bill` shape) or 404 when there is none. Anything slower than
/// `timeout` counts as down, so the caller hears an apology in time.
pub struct HttpBilling {
    client: reqwest::Client,
    url: String,
    timeout: Duration,
}

impl HttpBilling {
    pub fn new(url: &str, timeout: Duration) -> Result<Self, BillingError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| BillingError::Http(e.to_string()))?;
        Ok(HttpBilling {
            client,
            url: url.to_string(),
            timeout,
        })
    }
}

#[async_trait]
impl BillingSource for HttpBilling {
    async fn bill(&self, account: &Account) -> Result<Option<Bill>, BillingError> {
        let req = self
            .client
            .get(&self.url)
            .query(&[("account", &account.account_no)]);
        let res = tokio::time::timeout(self.timeout, async {
            let res = req.send().await?;
            let status = res.status();
            let body = res.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        })
        .await
        .map_err(|_| BillingError::Timeout(self.timeout))?
        .map_err(|e| {
            if e.is_timeout() {
                BillingError::Timeout(self.timeout)
            } else {
                BillingError::Http(e.without_url().to_string())
            }
        })?;
        match res {
            (s, _) if s == reqwest::StatusCode::NOT_FOUND => Ok(None),
            (s, body) if s.is_success() => serde_json::from_slice::<Bill>(&body)
                .map(Some)
                .map_err(|e| BillingError::Parse(e.to_string())),
            (s, _) => Err(BillingError::Http(format!("status {s}"))),
        }
    }
}
