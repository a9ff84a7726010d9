//! Placeholder until the backend lands.
use async_trait::async_trait;
use super::*;
use crate::billing::Bill;
use crate::calls::CallRecord;
use crate::customers::{Account, AccountWrite};

pub struct SqliteStore;
impl SqliteStore {
    pub async fn open(_url: &str) -> Result<Self> { Err(StoreError::UnsupportedUrl) }
}
#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<()> { Ok(()) }
    async fn ping(&self) -> Result<()> { Ok(()) }
    async fn account_by_line(&self, _n: &str) -> Result<Option<Account>> { Ok(None) }
    async fn account_by_no(&self, _n: &str) -> Result<Option<Account>> { Ok(None) }
    async fn account(&self, _id: i64) -> Result<Option<Account>> { Ok(None) }
    async fn list_accounts(&self, _a: Option<i64>, _l: i64) -> Result<AccountPage> { Ok(AccountPage { accounts: vec![], next_after: None }) }
    async fn put_account(&self, _w: &AccountWrite, _now: i64) -> Result<Account> { Err(StoreError::NotFound) }
    async fn bill(&self, _id: i64) -> Result<Option<Bill>> { Ok(None) }
    async fn commit_steps(&self, _s: &[StepWrite]) -> Result<Vec<StepOutcome>> { Ok(vec![]) }
    async fn record_status(&self, _e: &StatusEvent) -> Result<()> { Ok(()) }
    async fn call(&self, _sid: &str) -> Result<Option<CallRecord>> { Ok(None) }
}
