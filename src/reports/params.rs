//! What a user asks for (kind, period, filters) as the command line, the API and the console
//! receive it: text, checked here once so every surface refuses the same things with the same
//! message.

use chrono::NaiveDate;

use super::{Period, ReportFilter, ReportKind};
use crate::customers::{CustomerClass, LineKind};

/// The request as text; empty fields are absent.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// First local day, `YYYY-MM-DD`; default the first day of this month.
    pub from: Option<String>,
    /// Last local day, inclusive; default today.
    pub to: Option<String>,
    pub service: Option<String>,
    pub line_kind: Option<String>,
    pub customer_class: Option<String>,
    pub campaign: Option<String>,
    pub hotline: Option<String>,
    /// How the API and the console's export answer (`json`, `csv`); not a filter.
    pub format: Option<String>,
}

/// A field that was refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ParamError {
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> ParamError {
    ParamError {
        field,
        message: message.into(),
    }
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The report kind named `s`, or what the kinds are.
pub fn kind(s: &str) -> Result<ReportKind, ParamError> {
    ReportKind::parse(s.trim()).ok_or_else(|| {
        let names: Vec<&str> = ReportKind::ALL.iter().map(|k| k.as_str()).collect();
        bad("kind", format!("must be one of {}", names.join(", ")))
    })
}

impl ReportParams {
    /// The period and filter asked for; `now` and `tz` give the defaults.
    pub fn parse(&self, now: i64, tz: chrono_tz::Tz) -> Result<(Period, ReportFilter), ParamError> {
        use chrono::{Datelike, TimeZone};
        let today = tz
            .timestamp_millis_opt(now)
            .single()
            .map(|t| t.date_naive())
            .ok_or_else(|| bad("to", "the current date is out of range"))?;
        let date = |field: &'static str, v: &Option<String>, default: NaiveDate| match given(v) {
            None => Ok(default),
            Some(s) => s
                .parse::<NaiveDate>()
                .map_err(|_| bad(field, format!("{s:?} is not a date (YYYY-MM-DD)")))
                .and_then(|d| {
                    if crate::clock::date_in_range(d) {
                        Ok(d)
                    } else {
                        Err(bad(field, crate::clock::date_range_message()))
                    }
                }),
        };
        let first = today.with_day(1).unwrap_or(today);
        let from = date("from", &self.from, first)?;
        let to = date("to", &self.to, today)?;
        let period = Period::days(from, to, tz).map_err(|m| bad("to", m))?;
        let service = match given(&self.service) {
            None => None,
            Some(s) if s.len() <= 40 && s.chars().all(|c| c.is_ascii_graphic()) => {
                Some(s.to_string())
            }
            Some(_) => return Err(bad("service", "must be a short name such as fault")),
        };
        let line_kind = match given(&self.line_kind) {
            None => None,
            Some(s) => Some(
                LineKind::parse(s)
                    .ok_or_else(|| bad("line_kind", "must be phone, broadband or leased"))?,
            ),
        };
        let customer_class = match given(&self.customer_class) {
            None => None,
            Some(s) => Some(
                CustomerClass::parse(s)
                    .ok_or_else(|| bad("customer_class", "must be residential or business"))?,
            ),
        };
        let campaign_id =
            match given(&self.campaign) {
                None => None,
                Some(s) => Some(s.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
                    bad("campaign", "must be a campaign id (a positive integer)")
                })?),
            };
        let hotline = match given(&self.hotline) {
            None => None,
            Some(s) => Some(
                crate::calls::service::normalize_number(s)
                    .ok_or_else(|| bad("hotline", "must be a phone number"))?,
            ),
        };
        Ok((
            period,
            ReportFilter {
                service,
                line_kind,
                customer_class,
                campaign_id,
                hotline,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;
    /// 2026-06-15T04:00Z, noon in Shanghai.
    const NOW: i64 = 1_781_496_000_000;

    #[test]
    fn defaults_to_this_month_so_far() {
        let (p, f) = ReportParams::default().parse(NOW, TZ).unwrap();
        let (want, _) = ReportParams {
            from: Some("2026-06-01".into()),
            to: Some("2026-06-15".into()),
            ..ReportParams::default()
        }
        .parse(NOW, TZ)
        .unwrap();
        assert_eq!(p, want);
        assert_eq!(f, ReportFilter::default());
    }

    #[test]
    fn refuses_with_the_field_at_fault() {
        let p = |f: fn(&mut ReportParams)| {
            let mut r = ReportParams::default();
            f(&mut r);
            r.parse(NOW, TZ).unwrap_err().field
        };
        assert_eq!(p(|r| r.from = Some("June".into())), "from");
        assert_eq!(p(|r| r.from = Some("2026-07-01".into())), "to");
        assert_eq!(p(|r| r.line_kind = Some("fax".into())), "line_kind");
        assert_eq!(
            p(|r| r.customer_class = Some("vip".into())),
            "customer_class"
        );
        assert_eq!(p(|r| r.campaign = Some("-1".into())), "campaign");
        assert_eq!(p(|r| r.hotline = Some("call me".into())), "hotline");
        assert_eq!(kind("revenue").unwrap_err().field, "kind");
    }
}
