//! Staff accounts: usernames, the password policy and the lockout rule.

use crate::time::Millis;
use serde::{Deserialize, Serialize};

/// A login name: 3 to 32 characters of lower-case ASCII letters, digits, `_`, `.` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a username has 3 to 32 characters: lower-case letters, digits, '_', '.' or '-'")]
pub struct BadUsername;

impl Username {
    pub fn parse(s: &str) -> Result<Username, BadUsername> {
        let s = s.trim().to_ascii_lowercase();
        let ok_len = (3..=32).contains(&s.len());
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
        if ok_len && ok_chars {
            Ok(Username(s))
        } else {
            Err(BadUsername)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = BadUsername;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Username::parse(&s)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> String {
        u.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("密码至少 8 个字符 / a password has at least 8 characters")]
    TooShort,
    #[error(
        "密码须包含大写字母、小写字母、数字、符号中的至少三类 / a password mixes at least 3 of: upper case, lower case, digits, symbols"
    )]
    TooFewClasses,
    #[error("密码不能超过 128 个字符 / a password has at most 128 characters")]
    TooLong,
}

/// At least 8 characters and 3 of the 4 character classes (等保 2.0 identity management).
pub fn check_password_policy(password: &str) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if chars < 8 {
        return Err(PasswordError::TooShort);
    }
    if chars > 128 {
        return Err(PasswordError::TooLong);
    }
    let has = |f: fn(&char) -> bool| password.chars().any(|c| f(&c)) as u8;
    let classes = has(|c| c.is_uppercase())
        + has(|c| c.is_lowercase())
        + has(|c| c.is_ascii_digit())
        + has(|c| !c.is_alphanumeric());
    if classes < 3 {
        return Err(PasswordError::TooFewClasses);
    }
    Ok(())
}

/// Lock the account for `lock_minutes` after `max_failures` wrong passwords in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    pub max_failures: u32,
    pub lock_minutes: i64,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy {
            max_failures: 5,
            lock_minutes: 15,
        }
    }
}

/// What a wrong password does to the account's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterFailure {
    pub failures: u32,
    pub locked_until: Option<Millis>,
}

impl LoginPolicy {
    pub fn is_locked(&self, locked_until: Option<Millis>, now: Millis) -> bool {
        locked_until.is_some_and(|until| now < until)
    }

    pub fn after_failure(&self, failures_before: u32, now: Millis) -> AfterFailure {
        let failures = failures_before.saturating_add(1);
        if failures >= self.max_failures {
            AfterFailure {
                failures: 0,
                locked_until: Some(now.plus_minutes(self.lock_minutes)),
            }
        } else {
            AfterFailure {
                failures,
                locked_until: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_policy_wants_length_and_three_classes() {
        assert_eq!(check_password_policy("Ab1!"), Err(PasswordError::TooShort));
        assert_eq!(
            check_password_policy("abcdefgh1"),
            Err(PasswordError::TooFewClasses)
        );
        assert_eq!(check_password_policy("abcdefG1"), Ok(()));
        assert_eq!(check_password_policy("网格员密码ab1!"), Ok(()));
    }

    #[test]
    fn the_fifth_failure_locks_for_fifteen_minutes() {
        let policy = LoginPolicy::default();
        let now = Millis(1_000_000);
        let mut failures = 0;
        for _ in 0..4 {
            let after = policy.after_failure(failures, now);
            assert_eq!(after.locked_until, None);
            failures = after.failures;
        }
        let fifth = policy.after_failure(failures, now);
        assert_eq!(fifth.locked_until, Some(now.plus_minutes(15)));
        assert!(policy.is_locked(fifth.locked_until, now.plus_minutes(14)));
        assert!(!policy.is_locked(fifth.locked_until, now.plus_minutes(15)));
    }

    #[test]
    fn usernames_are_normalised_or_refused() {
        assert_eq!(
            Username::parse(" Grid.Worker ").unwrap().as_str(),
            "grid.worker"
        );
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("网格员").is_err());
    }

    proptest! {
        #[test]
        fn short_passwords_never_pass(p in "\\PC{0,7}") {
            prop_assert!(check_password_policy(&p).is_err());
        }

        #[test]
        fn a_password_with_all_four_classes_passes_if_long_enough(p in "[a-z]{2,10}[A-Z]{2,10}[0-9]{2,10}[!@#%]{2,10}") {
            prop_assert_eq!(check_password_policy(&p), Ok(()));
        }
    }
}
