//! What customers need stored: accounts and their lines.
//!
//! Rules: an account is written with its lines (and bill, when given) in one transaction; a
//! line number belongs to one account.

use async_trait::async_trait;

use super::{Account, AccountWrite};
use crate::repo::Result;

/// One page of accounts.
#[derive(Debug, Clone)]
pub struct AccountPage {
    pub accounts: Vec<Account>,
    pub next_after: Option<i64>,
}

/// Accounts and their lines.
#[async_trait]
pub trait CustomerStore: Send + Sync + 'static {
    /// The account owning a line number, with its lines.
    async fn account_by_line(&self, number: &str) -> Result<Option<Account>>;
    async fn account_by_no(&self, account_no: &str) -> Result<Option<Account>>;
    async fn account(&self, id: i64) -> Result<Option<Account>>;
    /// Accounts ordered by id, after `after`, at most `limit`.
    async fn list_accounts(&self, after: Option<i64>, limit: i64) -> Result<AccountPage>;
    /// Creates or replaces (by account number) an account, its lines and, when given, its
    /// bill, in one transaction. A line number owned by another account is a `Conflict`.
    async fn put_account(&self, write: &AccountWrite, now: i64) -> Result<Account>;
}
