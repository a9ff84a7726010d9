//! How amounts, dates, times and numbers are written so that a text-to-speech voice reads
//! them correctly in each locale.
//!
//! Rules:
//!
//! - Numbers stay Arabic digits with no thousands separators in either locale (`12800`, not
//!   `12,800` or `一万二千八百`): the voices read plain digits well in both languages, and a
//!   separator is read as a pause or as "comma" by some engines.
//! - Negative values are spelled with a word, never a sign: `负` in Mandarin, `minus ` in
//!   English. Every `i64`, including `i64::MIN`, is handled without overflow.
//! - Money is given in minor units (fen for CNY; `CNY` and `RMB` are recognised,
//!   case-insensitively).
//!   - Mandarin names every non-zero unit and skips zero ones: `12850` → `128元5角`,
//!     `12856` → `128元5角6分`, `12800` → `128元`, `50` → `5角`, `5` → `5分`, `0` → `0元`.
//!     A missing jiao between yuan and fen is read `零`: `12805` → `128元零5分`.
//!   - English reads every amount one way, like a price tag: the yuan, then the fen as two
//!     digits, never labelled (a caller who hears "36 yuan 50" beside "36 yuan 5 fen" cannot
//!     tell which is more): `12850` → `128 yuan 50`, `12856` → `128 yuan 56`, `12805` →
//!     `128 yuan 05` ("128 yuan 5" would be heard as 128.50), `50` → `0 yuan 50`, `5` →
//!     `0 yuan 05`; whole yuan stop there: `12800` → `128 yuan`, `0` → `0 yuan`.
//!   - Any other currency falls back to a decimal amount with two minor digits followed by
//!     its upper-cased code, in both locales: (`1250`, `usd`) → `12.50 USD` (`负12.50 USD`,
//!     `minus 12.50 USD` when negative). An empty code gives just the decimal amount.
//! - Dates: Mandarin `12月15日` / `2026年12月15日`; English `December 15th` /
//!   `December 15th, 2026`, with correct ordinals (1st, 2nd, 3rd, 11th, 12th, 13th, 21st…).
//! - Times of day (seconds are dropped): Mandarin uses the 24-hour clock, `16点`, `16点30分`,
//!   with `零` before a single-digit minute, `9点零5分`. English uses the 12-hour clock,
//!   `4 PM`, `4:30 PM`, `9:05 AM`, and says `noon` for 12:00 and `midnight` for 0:00 because
//!   "12 AM" and "12 PM" are commonly misheard.
//! - Digit strings (account numbers, ticket numbers, PINs, circuit ids, the last digits of a
//!   line; whole phone numbers are `phone`'s, below) are read one character at a time: ASCII
//!   digits are kept as Arabic digits separated by single spaces (`1234` → `1 2 3 4`), so the
//!   voice reads digits rather than a number, in each locale's own digit names. Full-width
//!   digits (`１`) are read as ASCII digits. Letters are kept as separate tokens, ASCII letters
//!   upper-cased so they are read as letters (`bj-0101` → `B J 0 1 0 1`). Everything else
//!   (spaces, `+`, `-`, punctuation) is dropped.
//! - Phone numbers are read as a person reads them at home: digit by digit, in groups, with
//!   a pause (a comma) between groups and no country code. A Chinese number (`+86…`,
//!   `0086…`, or national) loses its `86`: a mobile (11 digits from `1`) is grouped 3-4-4,
//!   `+8613800000001` → `1 3 8, 0 0 0 0, 0 0 0 1`; a landline is its area code with the
//!   trunk `0` (`010`, `02x` are three digits, other codes four), then the local number in
//!   groups of four from the left, `+862166660003` → `0 2 1, 6 6 6 6, 0 0 0 3`; a local
//!   number of 7 or 8 digits alone is grouped the same way. Anything else (a foreign
//!   number, a short code) is read digit by digit as it is, country code included, since
//!   the caller would dial it that way.
//! - Counts are plain integers: `12800`, `负3` / `minus 3`.
//! - Deadlines are said relative to now, in the operator's zone: `今天16点前` / `by 4 PM
//!   today`, `明天12点前` / `by noon tomorrow`, `12月15日12点前` / `by noon on December 15th`
//!   (with the year when it is not now's year). A deadline at 00:00 is the end of the day
//!   before, never "midnight", which callers place on the wrong day: `今天之内` / `by the end
//!   of today`, `明天之内`, `12月15日之内` / `by the end of December 15th`.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike};
use chrono_tz::Tz;

use super::Locale;

/// Money in minor units (fen for CNY), as the voice of `locale` should read it.
pub fn amount(minor: i64, currency: &str, locale: Locale) -> String {
    let sign = if minor < 0 { minus(locale) } else { "" };
    let abs = minor.unsigned_abs();
    let (major, fraction) = (abs / 100, abs % 100);
    let code = currency.trim();
    if !(code.eq_ignore_ascii_case("CNY") || code.eq_ignore_ascii_case("RMB")) {
        let code = code.to_ascii_uppercase();
        return if code.is_empty() {
            format!("{sign}{major}.{fraction:02}")
        } else {
            format!("{sign}{major}.{fraction:02} {code}")
        };
    }
    let body = match locale {
        Locale::ZhCn => {
            let (jiao, fen) = (fraction / 10, fraction % 10);
            let mut s = String::new();
            if major > 0 || fraction == 0 {
                s.push_str(&format!("{major}元"));
            }
            if jiao > 0 {
                s.push_str(&format!("{jiao}角"));
            }
            if fen > 0 {
                if jiao == 0 && major > 0 {
                    s.push('零');
                }
                s.push_str(&format!("{fen}分"));
            }
            s
        }
        Locale::EnUs => match fraction {
            0 => format!("{major} yuan"),
            f => format!("{major} yuan {f:02}"),
        },
    };
    format!("{sign}{body}")
}

/// A day of the year without the year: `12月15日`, `December 15th`.
pub fn date(d: NaiveDate, locale: Locale) -> String {
    match locale {
        Locale::ZhCn => format!("{}月{}日", d.month(), d.day()),
        Locale::EnUs => format!("{} {}", month_name(d.month()), ordinal(d.day())),
    }
}

/// A full date: `2026年12月15日`, `December 15th, 2026`.
pub fn date_with_year(d: NaiveDate, locale: Locale) -> String {
    match locale {
        Locale::ZhCn => format!("{}年{}", d.year(), date(d, locale)),
        Locale::EnUs => format!("{}, {}", date(d, locale), d.year()),
    }
}

/// A string read character by character: `1234` → `1 2 3 4`; see the module rules.
pub fn digits(s: &str, _locale: Locale) -> String {
    let mut tokens: Vec<String> = Vec::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            tokens.push(c.to_string());
        } else if ('０'..='９').contains(&c) {
            let value = u32::from(c) - u32::from('０');
            if let Some(ascii) = char::from_digit(value, 10) {
                tokens.push(ascii.to_string());
            }
        } else if c.is_ascii_alphabetic() {
            tokens.push(c.to_ascii_uppercase().to_string());
        } else if c.is_alphabetic() {
            tokens.push(c.to_string());
        }
    }
    tokens.join(" ")
}

/// A phone number as read at home: `+8613800000001` → `1 3 8, 0 0 0 0, 0 0 0 1`; see the
/// module rules.
pub fn phone(number: &str, locale: Locale) -> String {
    let all: String = number.chars().filter(char::is_ascii_digit).collect();
    let international = number.trim_start().starts_with('+') || all.starts_with("00");
    let national = match (international, all.strip_prefix("0086")) {
        (_, Some(rest)) => Some(rest.to_string()),
        (true, None) => all.strip_prefix("86").map(str::to_string),
        (false, None) => Some(all.clone()),
    };
    let groups = national.as_deref().and_then(chinese_groups);
    match groups {
        Some(groups) => {
            let sep = match locale {
                Locale::ZhCn => "，",
                Locale::EnUs => ", ",
            };
            groups
                .iter()
                .map(|g| digits(g, locale))
                .collect::<Vec<_>>()
                .join(sep)
        }
        None => digits(number, locale),
    }
}

/// The groups of a Chinese number without its country code, `None` when it is not one.
fn chinese_groups(n: &str) -> Option<Vec<String>> {
    if n.len() == 11 && n.starts_with('1') {
        return Some(vec![
            n[..3].to_string(),
            n[3..7].to_string(),
            n[7..].to_string(),
        ]);
    }
    if (7..=8).contains(&n.len()) && !n.starts_with(['0', '1']) {
        return Some(fours(n));
    }
    // A landline: the trunk 0 (said at home, so added when the number came with a country
    // code), a two-digit area code for 10 and 2x and three digits for the others, then the
    // local number of 7 or 8 digits.
    let rest = n.strip_prefix('0').unwrap_or(n);
    let area_len = if rest.starts_with(['1', '2']) { 2 } else { 3 };
    let local = rest.get(area_len..)?;
    if rest.starts_with('0') || !(7..=8).contains(&local.len()) {
        return None;
    }
    let mut groups = vec![format!("0{}", &rest[..area_len])];
    groups.extend(fours(local));
    Some(groups)
}

/// `n` in groups of four from the left (the last may be shorter).
fn fours(n: &str) -> Vec<String> {
    n.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

/// A plain integer: `12800`, `负3`, `minus 3`.
pub fn count(n: i64, locale: Locale) -> String {
    if n < 0 {
        format!("{}{}", minus(locale), n.unsigned_abs())
    } else {
        n.to_string()
    }
}

/// A time of day, to the minute: `16点30分`, `4:30 PM`.
pub fn time_of_day(t: NaiveTime, locale: Locale) -> String {
    let (h, m) = (t.hour(), t.minute());
    match locale {
        Locale::ZhCn => match m {
            0 => format!("{h}点"),
            1..=9 => format!("{h}点零{m}分"),
            _ => format!("{h}点{m}分"),
        },
        Locale::EnUs => {
            if m == 0 && h == 0 {
                return "midnight".to_string();
            }
            if m == 0 && h == 12 {
                return "noon".to_string();
            }
            let suffix = if h < 12 { "AM" } else { "PM" };
            let h12 = match h % 12 {
                0 => 12,
                x => x,
            };
            if m == 0 {
                format!("{h12} {suffix}")
            } else {
                format!("{h12}:{m:02} {suffix}")
            }
        }
    }
}

/// A promised deadline as said to a caller at `now`: `今天16点前`, `by the end of tomorrow`.
pub fn deadline(deadline: DateTime<Tz>, now: DateTime<Tz>, locale: Locale) -> String {
    let local = deadline.with_timezone(&now.timezone()).naive_local();
    let today = now.date_naive();
    let ends_day = local.hour() == 0 && local.minute() == 0;
    let day = if ends_day {
        local.date().pred_opt().unwrap_or(NaiveDate::MIN)
    } else {
        local.date()
    };
    let relative = if day == today {
        Some(("今天", "today"))
    } else if today.succ_opt() == Some(day) {
        Some(("明天", "tomorrow"))
    } else {
        None
    };
    let on_date = || {
        if day.year() == today.year() {
            date(day, locale)
        } else {
            date_with_year(day, locale)
        }
    };
    let time = time_of_day(local.time(), locale);
    match (locale, relative, ends_day) {
        (Locale::ZhCn, Some((zh, _)), true) => format!("{zh}之内"),
        (Locale::ZhCn, Some((zh, _)), false) => format!("{zh}{time}前"),
        (Locale::ZhCn, None, true) => format!("{}之内", on_date()),
        (Locale::ZhCn, None, false) => format!("{}{time}前", on_date()),
        (Locale::EnUs, Some((_, en)), true) => format!("by the end of {en}"),
        (Locale::EnUs, Some((_, en)), false) => format!("by {time} {en}"),
        (Locale::EnUs, None, true) => format!("by the end of {}", on_date()),
        (Locale::EnUs, None, false) => format!("by {time} on {}", on_date()),
    }
}

fn minus(locale: Locale) -> &'static str {
    match locale {
        Locale::ZhCn => "负",
        Locale::EnUs => "minus ",
    }
}

fn month_name(month: u32) -> &'static str {
    match month {
        1 => "January",
        2 => "February",
        3 => "March",
        4 => "April",
        5 => "May",
        6 => "June",
        7 => "July",
        8 => "August",
        9 => "September",
        10 => "October",
        11 => "November",
        _ => "December",
    }
}

fn ordinal(day: u32) -> String {
    let suffix = match (day % 10, day % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{day}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use Locale::{EnUs, ZhCn};

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
    }

    #[test]
    fn extreme_amounts_are_spoken_exactly_without_wrapping() {
        // i64::MIN has no positive counterpart: the magnitude is taken unsigned.
        assert_eq!(amount(i64::MIN, "CNY", ZhCn), "负92233720368547758元零8分");
        assert_eq!(amount(i64::MAX, "CNY", ZhCn), "92233720368547758元零7分");
        assert_eq!(
            amount(i64::MIN, "CNY", EnUs),
            "minus 92233720368547758 yuan 08"
        );
        assert_eq!(
            amount(i64::MIN, "USD", EnUs),
            "minus 92233720368547758.08 USD"
        );
    }

    #[test]
    fn mandarin_amounts() {
        let cases = [
            (12850, "128元5角"),
            (12805, "128元零5分"),
            (12856, "128元5角6分"),
            (12800, "128元"),
            (50, "5角"),
            (0, "0元"),
            (1, "1分"),
            (5, "5分"),
            (10, "1角"),
            (99, "9角9分"),
            (100, "1元"),
            (101, "1元零1分"),
            (110, "1元1角"),
            (1_000_000, "10000元"),
            (-12850, "负128元5角"),
            (-5, "负5分"),
            (-100, "负1元"),
        ];
        for (minor, want) in cases {
            assert_eq!(amount(minor, "CNY", ZhCn), want, "{minor}");
        }
    }

    #[test]
    fn english_amounts() {
        let cases = [
            (12850, "128 yuan 50"),
            (12856, "128 yuan 56"),
            (12810, "128 yuan 10"),
            (12805, "128 yuan 05"),
            (12801, "128 yuan 01"),
            (12800, "128 yuan"),
            (3650, "36 yuan 50"),
            (3605, "36 yuan 05"),
            (100, "1 yuan"),
            (0, "0 yuan"),
            (1, "0 yuan 01"),
            (5, "0 yuan 05"),
            (10, "0 yuan 10"),
            (50, "0 yuan 50"),
            (99, "0 yuan 99"),
            (1_000_000, "10000 yuan"),
            (-12850, "minus 128 yuan 50"),
            (-5, "minus 0 yuan 05"),
            (-100, "minus 1 yuan"),
        ];
        for (minor, want) in cases {
            assert_eq!(amount(minor, "CNY", EnUs), want, "{minor}");
        }
    }

    #[test]
    fn english_amounts_read_one_way_whatever_the_fen() {
        // Never "fen", never a bare single digit after "yuan": every amount is the yuan, then
        // two digits of fen or nothing.
        for minor in [
            -10_001, -5, 0, 1, 5, 9, 10, 50, 99, 100, 3605, 3650, 12_805, 12_850,
        ] {
            let said = amount(minor, "CNY", EnUs);
            assert!(!said.contains("fen"), "{minor}: {said}");
            let words: Vec<&str> = said.split(' ').collect();
            let after = words.iter().skip_while(|w| **w != "yuan").nth(1);
            assert!(after.is_none_or(|f| f.len() == 2), "{minor}: {said}");
        }
    }

    #[test]
    fn phone_numbers_are_read_as_at_home() {
        let cases = [
            ("+8613800000001", "1 3 8, 0 0 0 0, 0 0 0 1"),
            ("008613800000001", "1 3 8, 0 0 0 0, 0 0 0 1"),
            ("13900001111", "1 3 9, 0 0 0 0, 1 1 1 1"),
            ("+86 138-0013-8000", "1 3 8, 0 0 1 3, 8 0 0 0"),
            ("+862166660003", "0 2 1, 6 6 6 6, 0 0 0 3"),
            ("02166660003", "0 2 1, 6 6 6 6, 0 0 0 3"),
            ("+861012345678", "0 1 0, 1 2 3 4, 5 6 7 8"),
            ("+8675512345678", "0 7 5 5, 1 2 3 4, 5 6 7 8"),
            ("07551234567", "0 7 5 5, 1 2 3 4, 5 6 7"),
            ("66660003", "6 6 6 6, 0 0 0 3"),
            // Not Chinese, or not a number a person dials: digit by digit, as it is.
            ("+15550001234", "1 5 5 5 0 0 0 1 2 3 4"),
            ("12345", "1 2 3 4 5"),
            ("10086", "1 0 0 8 6"),
        ];
        for (number, want) in cases {
            assert_eq!(phone(number, EnUs), want, "{number}");
            assert_eq!(phone(number, ZhCn), want.replace(", ", "，"), "{number}");
        }
    }

    #[test]
    fn currency_code_is_recognised_loosely() {
        assert_eq!(amount(12850, "cny", ZhCn), "128元5角");
        assert_eq!(amount(12850, " RMB ", EnUs), "128 yuan 50");
        assert_eq!(amount(12850, "rmb", ZhCn), "128元5角");
    }

    #[test]
    fn other_currencies_fall_back_to_decimal() {
        assert_eq!(amount(1250, "USD", EnUs), "12.50 USD");
        assert_eq!(amount(1250, "usd", ZhCn), "12.50 USD");
        assert_eq!(amount(5, "EUR", EnUs), "0.05 EUR");
        assert_eq!(amount(0, "EUR", EnUs), "0.00 EUR");
        assert_eq!(amount(-1250, "USD", EnUs), "minus 12.50 USD");
        assert_eq!(amount(-1250, "USD", ZhCn), "负12.50 USD");
        assert_eq!(amount(1250, "", EnUs), "12.50");
    }

    #[test]
    fn extreme_amounts_do_not_overflow() {
        assert_eq!(amount(i64::MAX, "CNY", ZhCn), "92233720368547758元零7分");
        assert_eq!(amount(i64::MIN, "CNY", ZhCn), "负92233720368547758元零8分");
        assert_eq!(amount(i64::MAX, "CNY", EnUs), "92233720368547758 yuan 07");
        assert_eq!(
            amount(i64::MIN, "CNY", EnUs),
            "minus 92233720368547758 yuan 08"
        );
        assert_eq!(
            amount(i64::MIN, "USD", EnUs),
            "minus 92233720368547758.08 USD"
        );
        assert_eq!(
            amount(i64::MIN + 1, "CNY", ZhCn),
            "负92233720368547758元零7分"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(date(ymd(2026, 12, 15), ZhCn), "12月15日");
        assert_eq!(date(ymd(2026, 12, 15), EnUs), "December 15th");
        assert_eq!(date(ymd(2026, 1, 1), ZhCn), "1月1日");
        assert_eq!(date(ymd(2026, 1, 1), EnUs), "January 1st");
        assert_eq!(date_with_year(ymd(2026, 12, 15), ZhCn), "2026年12月15日");
        assert_eq!(
            date_with_year(ymd(2026, 12, 15), EnUs),
            "December 15th, 2026"
        );
        assert_eq!(
            date_with_year(ymd(2024, 2, 29), EnUs),
            "February 29th, 2024"
        );
        assert_eq!(date_with_year(ymd(2024, 2, 29), ZhCn), "2024年2月29日");
    }

    #[test]
    fn all_month_names() {
        let names = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        for (i, name) in names.iter().enumerate() {
            let month = u32::try_from(i + 1).expect("small");
            assert_eq!(date(ymd(2026, month, 2), EnUs), format!("{name} 2nd"));
            assert_eq!(date(ymd(2026, month, 2), ZhCn), format!("{month}月2日"));
        }
    }

    #[test]
    fn english_ordinals() {
        let cases = [
            (1, "1st"),
            (2, "2nd"),
            (3, "3rd"),
            (4, "4th"),
            (10, "10th"),
            (11, "11th"),
            (12, "12th"),
            (13, "13th"),
            (14, "14th"),
            (20, "20th"),
            (21, "21st"),
            (22, "22nd"),
            (23, "23rd"),
            (24, "24th"),
            (30, "30th"),
            (31, "31st"),
        ];
        for (day, want) in cases {
            assert_eq!(date(ymd(2026, 1, day), EnUs), format!("January {want}"));
        }
        // Every day of a year gets a well-formed ordinal.
        let mut d = ymd(2026, 1, 1);
        while d.year() == 2026 {
            let s = date(d, EnUs);
            assert!(
                ["st", "nd", "rd", "th"].iter().any(|x| s.ends_with(x)),
                "{s}"
            );
            d = d.succ_opt().expect("next day");
        }
    }

    #[test]
    fn extreme_years() {
        assert_eq!(
            date_with_year(NaiveDate::MAX, EnUs),
            format!("December 31st, {}", NaiveDate::MAX.year())
        );
        assert_eq!(
            date_with_year(NaiveDate::MIN, ZhCn),
            format!("{}年1月1日", NaiveDate::MIN.year())
        );
    }

    #[test]
    fn digit_strings() {
        for locale in Locale::ALL {
            assert_eq!(digits("1234", locale), "1 2 3 4");
            assert_eq!(
                digits("+86 138-0013-8000", locale),
                "8 6 1 3 8 0 0 1 3 8 0 0 0"
            );
            assert_eq!(digits("bj-0101", locale), "B J 0 1 0 1");
            assert_eq!(digits("ＡＣ１２", locale), "Ａ Ｃ 1 2");
            assert_eq!(digits("京A 12", locale), "京 A 1 2");
            assert_eq!(digits("0", locale), "0");
            assert_eq!(digits("", locale), "");
            assert_eq!(digits(" -+.#*", locale), "");
        }
    }

    #[test]
    fn counts() {
        assert_eq!(count(0, ZhCn), "0");
        assert_eq!(count(1, EnUs), "1");
        assert_eq!(count(12800, EnUs), "12800");
        assert_eq!(count(12800, ZhCn), "12800");
        assert_eq!(count(-3, ZhCn), "负3");
        assert_eq!(count(-3, EnUs), "minus 3");
        assert_eq!(count(i64::MAX, EnUs), "9223372036854775807");
        assert_eq!(count(i64::MIN, ZhCn), "负9223372036854775808");
        assert_eq!(count(i64::MIN, EnUs), "minus 9223372036854775808");
    }

    #[test]
    fn mandarin_times() {
        assert_eq!(time_of_day(hm(16, 0), ZhCn), "16点");
        assert_eq!(time_of_day(hm(16, 30), ZhCn), "16点30分");
        assert_eq!(time_of_day(hm(9, 5), ZhCn), "9点零5分");
        assert_eq!(time_of_day(hm(9, 10), ZhCn), "9点10分");
        assert_eq!(time_of_day(hm(0, 0), ZhCn), "0点");
        assert_eq!(time_of_day(hm(12, 0), ZhCn), "12点");
        assert_eq!(time_of_day(hm(23, 59), ZhCn), "23点59分");
    }

    #[test]
    fn english_times() {
        assert_eq!(time_of_day(hm(16, 0), EnUs), "4 PM");
        assert_eq!(time_of_day(hm(16, 30), EnUs), "4:30 PM");
        assert_eq!(time_of_day(hm(9, 5), EnUs), "9:05 AM");
        assert_eq!(time_of_day(hm(0, 0), EnUs), "midnight");
        assert_eq!(time_of_day(hm(0, 30), EnUs), "12:30 AM");
        assert_eq!(time_of_day(hm(12, 0), EnUs), "noon");
        assert_eq!(time_of_day(hm(12, 15), EnUs), "12:15 PM");
        assert_eq!(time_of_day(hm(1, 0), EnUs), "1 AM");
        assert_eq!(time_of_day(hm(11, 59), EnUs), "11:59 AM");
        assert_eq!(time_of_day(hm(13, 0), EnUs), "1 PM");
        assert_eq!(time_of_day(hm(23, 59), EnUs), "11:59 PM");
    }

    #[test]
    fn times_drop_seconds_and_leap_seconds() {
        let t = NaiveTime::from_hms_opt(16, 30, 59).expect("valid");
        assert_eq!(time_of_day(t, ZhCn), "16点30分");
        assert_eq!(time_of_day(t, EnUs), "4:30 PM");
        let leap = NaiveTime::from_hms_milli_opt(23, 59, 59, 1500).expect("leap second");
        assert_eq!(time_of_day(leap, EnUs), "11:59 PM");
    }

    fn shanghai(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Tz> {
        use chrono::TimeZone;
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("valid local time")
    }

    #[test]
    fn deadlines_today_and_tomorrow() {
        let now = shanghai(2026, 12, 14, 10, 0);
        let cases = [
            (shanghai(2026, 12, 14, 16, 0), "今天16点前", "by 4 PM today"),
            (
                shanghai(2026, 12, 14, 16, 30),
                "今天16点30分前",
                "by 4:30 PM today",
            ),
            (
                shanghai(2026, 12, 15, 0, 0),
                "今天之内",
                "by the end of today",
            ),
            (
                shanghai(2026, 12, 15, 12, 0),
                "明天12点前",
                "by noon tomorrow",
            ),
            (
                shanghai(2026, 12, 15, 9, 5),
                "明天9点零5分前",
                "by 9:05 AM tomorrow",
            ),
            (
                shanghai(2026, 12, 16, 0, 0),
                "明天之内",
                "by the end of tomorrow",
            ),
        ];
        for (at, zh, en) in cases {
            assert_eq!(deadline(at, now, ZhCn), zh, "{at}");
            assert_eq!(deadline(at, now, EnUs), en, "{at}");
        }
    }

    #[test]
    fn deadlines_on_a_later_date() {
        let now = shanghai(2026, 12, 13, 23, 0);
        let cases = [
            (
                shanghai(2026, 12, 15, 12, 0),
                "12月15日12点前",
                "by noon on December 15th",
            ),
            (
                shanghai(2026, 12, 16, 0, 0),
                "12月15日之内",
                "by the end of December 15th",
            ),
            (
                shanghai(2026, 12, 15, 17, 45),
                "12月15日17点45分前",
                "by 5:45 PM on December 15th",
            ),
        ];
        for (at, zh, en) in cases {
            assert_eq!(deadline(at, now, ZhCn), zh, "{at}");
            assert_eq!(deadline(at, now, EnUs), en, "{at}");
        }
    }

    #[test]
    fn deadlines_in_another_year_name_it() {
        let now = shanghai(2026, 12, 29, 9, 0);
        let noon = shanghai(2027, 1, 4, 12, 0);
        assert_eq!(deadline(noon, now, ZhCn), "2027年1月4日12点前");
        assert_eq!(deadline(noon, now, EnUs), "by noon on January 4th, 2027");
        // Midnight after New Year's Eve ends a day of this year.
        assert_eq!(
            deadline(shanghai(2027, 1, 1, 0, 0), now, ZhCn),
            "12月31日之内"
        );
        let eve = shanghai(2026, 12, 31, 20, 0);
        assert_eq!(
            deadline(shanghai(2027, 1, 2, 0, 0), eve, EnUs),
            "by the end of tomorrow"
        );
        assert_eq!(
            deadline(shanghai(2027, 1, 3, 0, 0), eve, ZhCn),
            "2027年1月2日之内"
        );
    }

    #[test]
    fn deadlines_are_said_in_the_zone_of_now() {
        use chrono::TimeZone;
        // 08:00 UTC is 16:00 in Shanghai: the deadline's own zone does not matter.
        let utc_tz: Tz = chrono_tz::UTC;
        let at = utc_tz
            .with_ymd_and_hms(2026, 12, 14, 8, 0, 0)
            .single()
            .expect("valid");
        let now = shanghai(2026, 12, 14, 10, 0);
        assert_eq!(deadline(at, now, ZhCn), "今天16点前");
        // The start of a day after a fold is still the end of the day before.
        let la = chrono_tz::America::Los_Angeles;
        let now = la
            .with_ymd_and_hms(2026, 11, 1, 9, 0, 0)
            .single()
            .expect("valid");
        let end = la
            .with_ymd_and_hms(2026, 11, 2, 0, 0, 0)
            .single()
            .expect("valid");
        assert_eq!(deadline(end, now, EnUs), "by the end of today");
    }

    #[test]
    fn past_deadlines_are_said_by_date() {
        let now = shanghai(2026, 12, 14, 10, 0);
        assert_eq!(
            deadline(shanghai(2026, 12, 13, 12, 0), now, ZhCn),
            "12月13日12点前"
        );
        // Midnight starting today ended yesterday.
        assert_eq!(
            deadline(shanghai(2026, 12, 14, 0, 0), now, EnUs),
            "by the end of December 13th"
        );
    }

    #[test]
    fn every_minute_of_the_day_is_well_formed() {
        for h in 0..24 {
            for m in 0..60 {
                let zh = time_of_day(hm(h, m), ZhCn);
                assert!(zh.starts_with(&format!("{h}点")), "{zh}");
                let en = time_of_day(hm(h, m), EnUs);
                assert!(
                    en.ends_with(" AM") || en.ends_with(" PM") || en == "noon" || en == "midnight",
                    "{en}"
                );
            }
        }
    }
}
