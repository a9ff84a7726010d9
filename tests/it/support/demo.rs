//! The demo customers every `TestApp` starts with (`hotline::demo`), by the numbers tests call
//! from and the accounts they name.

use hotline::demo::{CUSTOMERS, DEMO_HOTLINE};

/// The hotline's own number.
pub const HOTLINE: &str = DEMO_HOTLINE;
/// 张伟: residential, no preferred language (the choice is offered), one phone line, PIN 1234.
pub const ZHANG: &str = CUSTOMERS[0].phone;
pub const ZHANG_ACCOUNT: &str = CUSTOMERS[0].account_no;
pub const ZHANG_ADDRESS: &str = CUSTOMERS[0].address;
/// Alice: residential, English, one phone line, PIN 5678.
pub const ALICE: &str = CUSTOMERS[1].phone;
pub const ALICE_ACCOUNT: &str = CUSTOMERS[1].account_no;
/// 李娜贸易: business, Mandarin, three lines offered in number order (phone, broadband,
/// leased), PIN 2468.
pub const LINA: &str = CUSTOMERS[2].phone;
pub const LINA_ACCOUNT: &str = CUSTOMERS[2].account_no;
pub const LINA_ADDRESS: &str = CUSTOMERS[2].address;
pub const LINA_LEASED: &str = "SH-LL-30000003";
/// A number of no customer.
pub const UNKNOWN: &str = "+8613999999999";
