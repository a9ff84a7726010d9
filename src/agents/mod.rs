//! Agents and supervisors: who may sign in to the console, and what each role may do.
//!
//! Rules:
//! - A login is 2–32 characters of `a-z 0-9 . _ -`; a password 10–128 characters. Passwords
//!   are stored only as argon2id PHC strings (the same hashing as customers' PINs).
//! - `MAX_FAILED_LOGINS` wrong passwords in a row lock the login for `LOGIN_LOCK_MINUTES`;
//!   a right password afterwards does not sign in until the lock has passed, and the answer
//!   does not tell a wrong login from a wrong password.
//! - A session is a random 32-byte token in an `HttpOnly` cookie; the store keeps only its
//!   SHA-256, with its own CSRF token and an expiry. Sign-out and deactivation end it.
//! - Supervisors manage agents and may work (and reassign) any escalation; agents work what
//!   they own.

pub mod auth;
pub mod calls;
pub mod queue;
pub mod repo;

use serde::{Deserialize, Serialize};

use crate::prompts::Locale;

/// Wrong passwords in a row before a login is locked.
pub const MAX_FAILED_LOGINS: i64 = 5;
/// How long a locked login stays locked.
pub const LOGIN_LOCK_MINUTES: i64 = 15;

/// How callers reach a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferMode {
    /// Into the carrier's agent queue, which agents dial into from the agent line.
    Queue,
    /// Straight to `agent_number` (a number or SIP address).
    Dial,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Supervisor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "agent" => Some(Role::Agent),
            "supervisor" => Some(Role::Supervisor),
            _ => None,
        }
    }
}

/// A person who may sign in to the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agent {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub role: Role,
    /// Where click-to-call rings them.
    pub phone: Option<String>,
    /// The console's language for them.
    pub locale: Locale,
    pub active: bool,
    #[serde(skip)]
    pub password_hash: String,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub created_at: i64,
}

impl Agent {
    pub fn is_supervisor(&self) -> bool {
        self.role == Role::Supervisor
    }
}

/// An agent to create; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewAgent {
    pub login: String,
    pub name: String,
    pub role: Role,
    pub phone: Option<String>,
    pub locale: Locale,
    pub password_hash: String,
}

/// A change to an agent; `None` keeps the field.
#[derive(Debug, Clone, Default)]
pub struct AgentUpdate {
    pub name: Option<String>,
    pub role: Option<Role>,
    /// `Some(None)` removes the phone.
    pub phone: Option<Option<String>>,
    pub locale: Option<Locale>,
    pub active: Option<bool>,
    pub password_hash: Option<String>,
}

/// A field of an agent that was refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    #[error("login must be 2 to 32 characters of a-z, 0-9, '.', '_' or '-'")]
    Login,
    #[error("name must be 1 to 80 characters")]
    Name,
    #[error("password must be 10 to 128 characters")]
    Password,
    #[error("phone must be a number of 5 to 20 digits, optionally starting with +")]
    Phone,
    #[error("role must be agent or supervisor")]
    Role,
}

pub fn validate_login(login: &str) -> Result<(), AgentError> {
    let ok = (2..=32).contains(&login.len())
        && login
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok { Ok(()) } else { Err(AgentError::Login) }
}

pub fn validate_name(name: &str) -> Result<(), AgentError> {
    let n = name.trim().chars().count();
    if (1..=80).contains(&n) && !name.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(AgentError::Name)
    }
}

pub fn validate_password(password: &str) -> Result<(), AgentError> {
    if (10..=128).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(AgentError::Password)
    }
}

/// A phone number as lines are stored, or the reason it is not one.
pub fn normalize_phone(phone: &str) -> Result<String, AgentError> {
    let n = crate::calls::service::normalize_number(phone).ok_or(AgentError::Phone)?;
    if (5..=21).contains(&n.len()) {
        Ok(n)
    } else {
        Err(AgentError::Phone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_fields() {
        assert!(validate_login("li.ming").is_ok());
        assert!(validate_login("a").is_err());
        assert!(validate_login("Li").is_err());
        assert!(validate_login("a b").is_err());
        assert!(validate_name("李明").is_ok());
        assert!(validate_name("  ").is_err());
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough!").is_ok());
        assert_eq!(
            normalize_phone("+86 138 0000 0001"),
            Ok("+8613800000001".into())
        );
        assert!(normalize_phone("12").is_err());
    }
}
