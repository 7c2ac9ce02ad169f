//! Weige's pure rules: roles and permissions on grid scopes, account and password policy, the
//! vocabulary of the audit log. No I/O, no async, no database, no HTTP: everything here is a value
//! or a function of values, so it can be property-tested and shared by every layer above.

pub mod access;
pub mod account;
pub mod audit;
pub mod calendar;
pub mod case;
pub mod grid;
pub mod person;
pub mod roster;
pub mod time;

pub use access::{Grant, Permission, Role};
pub use account::{LoginPolicy, PasswordError, Username, check_password_policy};
pub use audit::{AuditAction, Outcome};
pub use grid::{GridCode, GridCodeError, GridKind, Level};
pub use person::{BadPhone, CareGrade, IdNumber, IdNumberError, Phone, ResidenceType};
pub use roster::Duty;
pub use time::Millis;
