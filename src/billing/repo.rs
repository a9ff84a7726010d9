//! What billing needs stored: the bill kept with an account (the `store` billing source).

use async_trait::async_trait;

use super::Bill;
use crate::customers::Account;
use crate::repo::Result;

/// Stored bills.
#[async_trait]
pub trait BillStore: Send + Sync + 'static {
    /// The account's current bill.
    async fn bill(&self, account_id: i64) -> Result<Option<Bill>>;

    /// The account with its current bill, in one read; `None` when there is no such account.
    async fn account_with_bill(&self, account_id: i64) -> Result<Option<(Account, Option<Bill>)>>;
}
