//! Lists and samples: the callbacks a campaign is given to make, from a list (the API, or a
//! CSV file with `hotline campaigns import`) or drawn at random from the customers.
//!
//! Rules:
//! - A list entry names the number to call (written any way `normalize_number` reads, 5 to 20
//!   digits) and optionally the customer's `account_no` (which must exist), `locale` (zh-CN or
//!   en-US; default the account's language, else the operator's default), `timezone` (an IANA
//!   name; default the operator's zone), `due_at` (RFC 3339; default now) and `dedup_key`.
//! - The de-duplication key (`dedup_key`, default `list:<number>`) is unique in a campaign:
//!   an entry whose key the campaign has already is not queued, so a list sent or imported
//!   twice queues nobody twice, and two entries of one list with the same key queue one
//!   callback. Each such entry is reported with its index and why (`Duplicate`). The key is
//!   stored as the callback's `source`, and `source` is accepted in its place for the lists
//!   written before it was named for what it does (not both). The prefixes `ticket-event:`
//!   and `sample:` belong to the service and are refused.
//! - Each entry stands alone: a bad one is rejected with its index (its line, in a CSV file)
//!   and the field at fault, and the good ones are queued.
//! - A finished campaign takes no more callbacks.
//! - A sample draws accounts with a phone line at random, never one the campaign owes a call
//!   already (so nobody is drawn twice) nor one whose number opted out; the drawing itself is
//!   the store's (`CallbackStore::draw_sample`). Stratified by line kind, the strata are the
//!   services an account has (`Services`), each given its proportional share by largest
//!   remainder, and at least one per non-empty stratum when the size allows. Each drawn
//!   account is queued with source `sample:<account_no>`, its language, due now.
//! - CSV files have a header; the columns are `number, account_no, locale, timezone` (and
//!   `due_at`, `dedup_key` or `source`), in any order; only `number` is required.

use std::collections::HashMap;
use std::io::Read;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{Campaign, CampaignState, NewCallback, Services};
use crate::callbacks::repo::CallbackStore;
use crate::calls::service::normalize_number;
use crate::customers::Account;
use crate::customers::input::validate_account_no;
use crate::prompts::Locale;
use crate::repo::{Store, StoreError};

/// Longest de-duplication key.
pub const MAX_SOURCE_CHARS: usize = 200;
/// Prefixes of the keys the service writes itself.
pub const RESERVED_SOURCES: [&str; 2] = ["ticket-event:", "sample:"];
/// Shortest and longest number (digits).
const NUMBER_DIGITS: std::ops::RangeInclusive<usize> = 5..=20;
/// Entries queued per store transaction when importing a file.
const IMPORT_CHUNK: usize = 500;

/// One callback of a list, as sent or read; checked by [`queue_list`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListEntry {
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub account_no: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub due_at: Option<String>,
    /// Keys the callback in its campaign: an entry whose key the campaign has is not queued.
    #[serde(default)]
    pub dedup_key: Option<String>,
    /// The key's name before `dedup_key`; still read, so lists written for it still work.
    #[serde(default)]
    pub source: Option<String>,
}

/// An entry that was not queued, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// Its index in the list (from 0), or its line in a CSV file (the header is line 1).
    pub index: u64,
    pub field: String,
    pub error: String,
}

impl Rejected {
    pub fn new(index: u64, field: &str, error: impl Into<String>) -> Self {
        Rejected {
            index,
            field: field.to_string(),
            error: error.into(),
        }
    }
}

/// Why a good entry was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateReason {
    /// The campaign had a callback with its key before this list.
    AlreadyOwed,
    /// An earlier entry of the same list has its key.
    RepeatedInList,
}

/// A good entry that was not queued: its de-duplication key was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Duplicate {
    /// Its index in the list (from 0), or its line in a CSV file.
    pub index: u64,
    pub dedup_key: String,
    pub reason: DuplicateReason,
    /// The earlier entry with the same key, for `RepeatedInList`.
    pub same_as: Option<u64>,
    /// The reason in words.
    pub error: String,
}

/// What became of a list: every entry is queued, rejected or a duplicate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListReport {
    pub queued: u64,
    /// How many entries are in `duplicates`: the counter of the API's first version.
    pub already_owed: u64,
    pub rejected: Vec<Rejected>,
    pub duplicates: Vec<Duplicate>,
}

impl ListReport {
    fn add(&mut self, other: ListReport) {
        self.queued += other.queued;
        self.already_owed += other.already_owed;
        self.rejected.extend(other.rejected);
        self.duplicates.extend(other.duplicates);
    }

    fn duplicate(&mut self, d: Duplicate) {
        self.already_owed += 1;
        self.duplicates.push(d);
    }
}

/// What entries leave out.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    /// The operator's zone.
    pub tz: Tz,
    /// The operator's default language.
    pub locale: Locale,
}

/// Why a campaign takes no callbacks now; `None` when it does.
pub fn refuses_callbacks(c: &Campaign) -> Option<crate::callbacks::CampaignRefusal> {
    (c.state == CampaignState::Finished)
        .then_some(crate::callbacks::CampaignRefusal::Finished { id: c.id })
}

/// Checks entries of one list, looking each account up once.
struct Checker<'a> {
    store: &'a dyn Store,
    campaign: &'a Campaign,
    defaults: &'a Defaults,
    /// Where the list came from, for the ledger.
    origin: &'a str,
    now: i64,
    accounts: HashMap<String, Option<Account>>,
}

impl Checker<'_> {
    /// Checks one entry into a callback to queue.
    async fn check(&mut self, index: u64, e: ListEntry) -> Result<NewCallback, Rejected> {
        let (store, campaign, defaults, origin, now) = (
            self.store,
            self.campaign,
            self.defaults,
            self.origin,
            self.now,
        );
        let accounts = &mut self.accounts;
        let given = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let reject = |field: &str, error: String| Rejected::new(index, field, error);
        let Some(raw) = given(e.number) else {
            return Err(reject(
                "number",
                "required: the number to call, such as +8613800000001".into(),
            ));
        };
        let number = normalize_number(&raw)
            .filter(|n| NUMBER_DIGITS.contains(&n.trim_start_matches('+').len()))
            .ok_or_else(|| {
                reject(
                    "number",
                    format!("{raw:?} is not a phone number of 5 to 20 digits"),
                )
            })?;
        let account = match given(e.account_no) {
            None => None,
            Some(no) => {
                validate_account_no(&no).map_err(|fe| reject("account_no", fe.message))?;
                if !accounts.contains_key(&no) {
                    let found = store.account_by_no(&no).await.map_err(|err| {
                        reject("account_no", format!("could not look it up: {err}"))
                    })?;
                    accounts.insert(no.clone(), found);
                }
                match accounts.get(&no).cloned().flatten() {
                    Some(a) => Some(a),
                    None => return Err(reject("account_no", format!("no account {no}"))),
                }
            }
        };
        let locale = match given(e.locale) {
            Some(l) => Locale::parse(&l).ok_or_else(|| {
                reject(
                    "locale",
                    format!("unknown locale {l:?}; use zh-CN or en-US"),
                )
            })?,
            None => account
                .as_ref()
                .and_then(|a| a.language)
                .unwrap_or(defaults.locale),
        };
        let timezone = match given(e.timezone) {
            Some(t) => t
                .parse::<Tz>()
                .map_err(|_| {
                    reject(
                        "timezone",
                        format!("unknown time zone {t:?}; use an IANA name such as Asia/Shanghai"),
                    )
                })?
                .name()
                .to_string(),
            None => defaults.tz.name().to_string(),
        };
        let due_at = match given(e.due_at) {
            Some(d) => {
                let at = chrono::DateTime::parse_from_rfc3339(&d).map_err(|_| {
                    reject(
                        "due_at",
                        format!(
                            "{d:?} is not a time in RFC 3339 such as 2026-06-02T09:00:00+08:00"
                        ),
                    )
                })?;
                if !crate::clock::date_in_range(at.date_naive()) {
                    return Err(reject("due_at", crate::clock::date_range_message()));
                }
                at.timestamp_millis()
            }
            None => now,
        };
        // Errors name the field as the sender named it.
        let key = match (given(e.dedup_key), given(e.source)) {
            (Some(_), Some(_)) => {
                return Err(reject(
                    "dedup_key",
                    "give dedup_key or its old name source, not both".into(),
                ));
            }
            (Some(k), None) => Some(("dedup_key", k)),
            (None, Some(k)) => Some(("source", k)),
            (None, None) => None,
        };
        let source = match key {
            None => format!("list:{number}"),
            Some((field, s)) => {
                if s.chars().count() > MAX_SOURCE_CHARS || s.chars().any(char::is_control) {
                    return Err(reject(
                        field,
                        format!("must be one line of at most {MAX_SOURCE_CHARS} characters"),
                    ));
                }
                if let Some(p) = RESERVED_SOURCES.iter().find(|p| s.starts_with(*p)) {
                    return Err(reject(
                        field,
                        format!("keys starting with {p:?} are the service's own"),
                    ));
                }
                s
            }
        };
        Ok(NewCallback {
            campaign_id: campaign.id,
            account_id: account.as_ref().map(|a| a.id),
            ticket_id: None,
            why: format!("on a list {origin} (source {source})"),
            source,
            to_number: number,
            timezone,
            locale,
            due_at,
        })
    }
}

/// Checks every entry and queues the good ones in one transaction; `origin` says where the
/// list came from, for the ledger ("sent through the API", "imported from calls.csv line 3").
pub async fn queue_list(
    store: &dyn Store,
    campaign: &Campaign,
    entries: Vec<(u64, ListEntry)>,
    defaults: &Defaults,
    origin: &str,
    now: i64,
) -> Result<ListReport, StoreError> {
    let mut seen = HashMap::new();
    queue_entries(store, campaign, entries, defaults, origin, now, &mut seen).await
}

/// `queue_list` for one part of a list; `seen` holds the keys of the parts before it, with
/// the entry that had each first.
async fn queue_entries(
    store: &dyn Store,
    campaign: &Campaign,
    entries: Vec<(u64, ListEntry)>,
    defaults: &Defaults,
    origin: &str,
    now: i64,
    seen: &mut HashMap<String, u64>,
) -> Result<ListReport, StoreError> {
    let mut report = ListReport::default();
    let mut checker = Checker {
        store,
        campaign,
        defaults,
        origin,
        now,
        accounts: HashMap::new(),
    };
    let mut queue = Vec::with_capacity(entries.len());
    let mut indexes = Vec::with_capacity(entries.len());
    for (index, e) in entries {
        match checker.check(index, e).await {
            Ok(cb) => match seen.get(&cb.source) {
                Some(&first) => report.duplicate(Duplicate {
                    index,
                    error: format!(
                        "not queued: entry {first} of this list has the same dedup_key {:?}",
                        cb.source
                    ),
                    dedup_key: cb.source,
                    reason: DuplicateReason::RepeatedInList,
                    same_as: Some(first),
                }),
                None => {
                    seen.insert(cb.source.clone(), index);
                    indexes.push(index);
                    queue.push(cb);
                }
            },
            Err(r) => report.rejected.push(r),
        }
    }
    if !queue.is_empty() {
        let ids = store.queue_callbacks(&queue, now).await?;
        for ((id, cb), index) in ids.into_iter().zip(queue).zip(indexes) {
            if id.is_some() {
                report.queued += 1;
            } else {
                report.duplicate(Duplicate {
                    index,
                    error: format!(
                        "not queued: campaign {} already has a callback with dedup_key {:?} \
                         (this list, or another with the same key, was queued before)",
                        campaign.id, cb.source
                    ),
                    dedup_key: cb.source,
                    reason: DuplicateReason::AlreadyOwed,
                    same_as: None,
                });
            }
        }
    }
    report.duplicates.sort_by_key(|d| d.index);
    Ok(report)
}

/// Why a CSV file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Csv(#[from] csv::Error),
    #[error("unknown column {0:?}; the columns are {columns}", columns = CSV_COLUMNS.join(", "))]
    UnknownColumn(String),
    #[error("the header has no column \"number\" (the columns are {columns})", columns = CSV_COLUMNS.join(", "))]
    NoNumberColumn,
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// The CSV columns, in documentation order (`source` is `dedup_key`'s old name).
pub const CSV_COLUMNS: [&str; 7] = [
    "number",
    "account_no",
    "locale",
    "timezone",
    "due_at",
    "dedup_key",
    "source",
];

/// Imports a CSV list into a campaign, `IMPORT_CHUNK` rows per transaction; `progress` is
/// told the byte offset after each chunk. Rejected rows carry their line number.
pub async fn import_csv(
    store: &dyn Store,
    campaign: &Campaign,
    reader: impl Read,
    defaults: &Defaults,
    file_name: &str,
    now: i64,
    mut progress: impl FnMut(u64),
) -> Result<ListReport, ImportError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(reader);
    let headers: Vec<String> = rdr
        .headers()?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if let Some(unknown) = headers.iter().find(|h| !CSV_COLUMNS.contains(&h.as_str())) {
        return Err(ImportError::UnknownColumn(unknown.clone()));
    }
    if !headers.iter().any(|h| h == "number") {
        return Err(ImportError::NoNumberColumn);
    }
    let origin = format!("imported from {file_name}");
    let mut report = ListReport::default();
    let mut seen = HashMap::new();
    let mut chunk: Vec<(u64, ListEntry)> = Vec::with_capacity(IMPORT_CHUNK);
    let mut record = csv::StringRecord::new();
    loop {
        let line = rdr.position().line();
        let more = match rdr.read_record(&mut record) {
            Ok(more) => more,
            Err(e) if e.is_io_error() => return Err(e.into()),
            Err(e) => {
                // A malformed row (wrong field count, bad UTF-8) is reported; the rest go on.
                report
                    .rejected
                    .push(Rejected::new(line, "row", e.to_string()));
                continue;
            }
        };
        if more {
            let mut e = ListEntry::default();
            for (h, v) in headers.iter().zip(record.iter()) {
                let v = Some(v.to_string());
                match h.as_str() {
                    "number" => e.number = v,
                    "account_no" => e.account_no = v,
                    "locale" => e.locale = v,
                    "timezone" => e.timezone = v,
                    "due_at" => e.due_at = v,
                    "dedup_key" => e.dedup_key = v,
                    _ => e.source = v,
                }
            }
            chunk.push((line, e));
        }
        if chunk.len() >= IMPORT_CHUNK || (!more && !chunk.is_empty()) {
            let entries = std::mem::take(&mut chunk);
            let part =
                queue_entries(store, campaign, entries, defaults, &origin, now, &mut seen).await?;
            report.add(part);
            progress(rdr.position().byte());
        }
        if !more {
            break;
        }
    }
    progress(rdr.position().byte());
    Ok(report)
}

/// How many to draw from each stratum for a sample of `size` from strata of the given
/// populations: proportional shares by largest remainder (ties to the larger stratum, then
/// the earlier), then at least one for every non-empty stratum when the size allows, taken
/// from the largest shares. Never more than a stratum holds; in all, `min(size, total)`.
pub fn allocate<K: Clone>(strata: &[(K, i64)], size: i64) -> Vec<(K, i64)> {
    let total: i64 = strata.iter().map(|(_, n)| (*n).max(0)).sum();
    let n = size.clamp(0, total.max(0));
    if n == 0 {
        return strata.iter().map(|(k, _)| (k.clone(), 0)).collect();
    }
    let pops: Vec<i64> = strata.iter().map(|(_, p)| (*p).max(0)).collect();
    // i128: n * population cannot overflow.
    let mut shares: Vec<i64> = pops
        .iter()
        .map(|p| i64::try_from(i128::from(n) * i128::from(*p) / i128::from(total)).unwrap_or(0))
        .collect();
    let mut order: Vec<usize> = (0..pops.len()).collect();
    order.sort_by(|a, b| {
        let rem = |i: usize| i128::from(n) * i128::from(pops[i]) % i128::from(total);
        rem(*b)
            .cmp(&rem(*a))
            .then(pops[*b].cmp(&pops[*a]))
            .then(a.cmp(b))
    });
    let mut left = n - shares.iter().sum::<i64>();
    for i in order {
        if left == 0 {
            break;
        }
        if shares[i] < pops[i] {
            shares[i] += 1;
            left -= 1;
        }
    }
    let non_empty = pops.iter().filter(|p| **p > 0).count();
    if usize::try_from(n).unwrap_or(usize::MAX) >= non_empty {
        for i in 0..pops.len() {
            if pops[i] > 0 && shares[i] == 0 {
                // Some other stratum has at least two, as n ≥ the non-empty strata.
                let Some(from) = (0..pops.len())
                    .filter(|j| shares[*j] > 1)
                    .max_by_key(|j| (shares[*j], std::cmp::Reverse(*j)))
                else {
                    break;
                };
                shares[from] -= 1;
                shares[i] = 1;
            }
        }
    }
    strata
        .iter()
        .zip(shares)
        .map(|((k, _), s)| (k.clone(), s))
        .collect()
}

/// What one stratum of a sample gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StratumDraw {
    /// `all`, or the services (`phone`, `phone+broadband`…).
    pub stratum: String,
    /// Accounts it could draw from.
    pub population: i64,
    /// Its share of the sample.
    pub allocated: i64,
    pub queued: u64,
}

/// What a sample gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SampleReport {
    pub size: i64,
    /// `line_kind`, when stratified.
    pub stratified_by: Option<&'static str>,
    /// Accounts it could draw from.
    pub population: i64,
    pub queued: u64,
    pub strata: Vec<StratumDraw>,
}

/// Draws a sample of `size` accounts for the campaign and queues a callback to each; see the
/// module rules.
pub async fn draw_sample(
    store: &dyn CallbackStore,
    campaign: &Campaign,
    size: i64,
    stratified: bool,
    defaults: &Defaults,
    now: i64,
) -> Result<SampleReport, StoreError> {
    let strata = store.sample_strata(campaign.id).await?;
    let population: i64 = strata.iter().map(|(_, n)| n).sum();
    let plan: Vec<(Option<Services>, i64, i64)> = if stratified {
        let all: Vec<(Services, i64)> = Services::ALL
            .into_iter()
            .map(|s| {
                let n = strata.iter().find(|(t, _)| *t == s).map_or(0, |(_, n)| *n);
                (s, n)
            })
            .collect();
        allocate(&all, size)
            .into_iter()
            .zip(all.iter())
            .map(|((s, k), (_, pop))| (Some(s), *pop, k))
            .collect()
    } else {
        vec![(None, population, size.min(population))]
    };
    let mut report = SampleReport {
        size,
        stratified_by: stratified.then_some("line_kind"),
        population,
        queued: 0,
        strata: Vec::new(),
    };
    for (stratum, pop, k) in plan {
        let label = stratum.map_or_else(|| "all".to_string(), Services::label);
        let mut draw = StratumDraw {
            stratum: label.clone(),
            population: pop,
            allocated: k,
            queued: 0,
        };
        if k > 0 {
            let drawn = store.draw_sample(campaign.id, stratum, k).await?;
            let queue: Vec<NewCallback> = drawn
                .into_iter()
                .map(|a| NewCallback {
                    campaign_id: campaign.id,
                    account_id: Some(a.account_id),
                    ticket_id: None,
                    source: format!("sample:{}", a.account_no),
                    why: format!(
                        "drawn at random for a sample of {size} ({label}: {k} of {pop} accounts); \
                         account {}",
                        a.account_no
                    ),
                    to_number: a.number,
                    timezone: defaults.tz.name().to_string(),
                    locale: a.language.unwrap_or(defaults.locale),
                    due_at: now,
                })
                .collect();
            draw.queued = store
                .queue_callbacks(&queue, now)
                .await?
                .iter()
                .flatten()
                .count() as u64;
        }
        report.queued += draw.queued;
        report.strata.push(draw);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::allocate;

    fn shares(pops: &[i64], size: i64) -> Vec<i64> {
        let strata: Vec<(usize, i64)> = pops.iter().copied().enumerate().collect();
        allocate(&strata, size)
            .into_iter()
            .map(|(_, n)| n)
            .collect()
    }

    #[test]
    fn proportional_by_largest_remainder_with_one_per_stratum() {
        // 6.67, 2.67, 0.67: the remainders tie, the larger strata win them, then the small
        // stratum gets its one from the largest share.
        assert_eq!(shares(&[20, 8, 2, 0], 10), [6, 3, 1, 0]);
        assert_eq!(shares(&[5, 5], 3), [2, 1]);
        assert_eq!(shares(&[60, 30, 10], 10), [6, 3, 1]);
        // Too small a sample for one per stratum: proportional only.
        assert_eq!(shares(&[100, 1], 1), [1, 0]);
        assert_eq!(shares(&[100, 1], 2), [1, 1]);
    }

    #[test]
    fn never_more_than_there_is() {
        assert_eq!(shares(&[3, 2], 10), [3, 2]);
        assert_eq!(shares(&[3, 2], 0), [0, 0]);
        assert_eq!(shares(&[0, 0], 5), [0, 0]);
        assert_eq!(shares(&[], 5), Vec::<i64>::new());
        for size in 0..40 {
            let got = shares(&[17, 9, 4, 1], size);
            assert_eq!(got.iter().sum::<i64>(), size.min(31), "{size}: {got:?}");
            assert!(
                got.iter().zip([17, 9, 4, 1]).all(|(g, p)| *g <= p),
                "{got:?}"
            );
            if size >= 4 {
                assert!(got.iter().all(|g| *g >= 1), "{size}: {got:?}");
            }
        }
    }
}

/// Why a campaign action was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("{0}")]
    Refused(crate::callbacks::CampaignRefusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Takes `action` on campaign `c`; a stop also cancels its pending callbacks, each saying
/// why. Returns the campaign after it and how many callbacks were cancelled. The store
/// refuses, as a conflict, a move another request made impossible since `c` was read.
pub async fn act(
    store: &dyn crate::callbacks::repo::CallbackStore,
    c: &Campaign,
    action: crate::callbacks::CampaignAction,
    now: i64,
) -> Result<(Campaign, u64), ActionError> {
    if let Some(why) = action.refusal(c) {
        return Err(ActionError::Refused(why));
    }
    let (to, _) = action.moves();
    let after = store.set_campaign_state(c.id, to, now).await?;
    let cancelled = if action == crate::callbacks::CampaignAction::Stop {
        let why = format!(
            "not called: campaign {:?} was stopped before the call",
            c.name
        );
        store.cancel_campaign_callbacks(c.id, &why, now).await?
    } else {
        0
    };
    tracing::info!(
        campaign = c.id,
        state = after.state.as_str(),
        action = action.as_str(),
        "campaign changed"
    );
    Ok((after, cancelled))
}
