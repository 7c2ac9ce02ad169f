//! People in the registry: ID numbers (GB 11643, with its check digit), phone numbers, how each
//! is masked for display, residence types, care grades and key-population tags.

use serde::{Deserialize, Serialize};

/// A resident identity card number (公民身份号码, GB 11643-1999): 17 digits and a check character.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("身份证号须为 18 位 / an ID number has 18 characters")]
    Length,
    #[error("身份证号前 17 位须为数字，末位为数字或 X / 17 digits then a digit or X")]
    Characters,
    #[error("身份证号出生日期无效 / the birth date in the ID number is not a date")]
    BirthDate,
    #[error("身份证号校验位不符 / the check digit of the ID number is wrong")]
    CheckDigit,
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

/// The check character for the first 17 digits.
pub fn id_check_char(first17: &[u8]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

impl IdNumber {
    pub fn parse(s: &str) -> Result<IdNumber, IdNumberError> {
        let s = s.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        if b.len() != 18 {
            return Err(IdNumberError::Length);
        }
        if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
            return Err(IdNumberError::Characters);
        }
        let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
        let (year, month, day) = (num(6..10), num(10..12), num(12..14));
        if !(1900..=2100).contains(&year) || day == 0 || day > days_in_month(year, month) {
            return Err(IdNumberError::BirthDate);
        }
        if id_check_char(&b[..17]) != b[17] {
            return Err(IdNumberError::CheckDigit);
        }
        Ok(IdNumber(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `YYYY-MM-DD`.
    pub fn birth_date(&self) -> String {
        format!("{}-{}-{}", &self.0[6..10], &self.0[10..12], &self.0[12..14])
    }

    /// 1 for male, 2 for female (the 17th digit's parity).
    pub fn gender(&self) -> u8 {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 {
            1
        } else {
            2
        }
    }

    /// `510115********1234`: the region and the last four only.
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.0[..6], &self.0[14..])
    }
}

/// Never printed whole by accident.
impl std::fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

/// A mainland mobile number (11 digits starting with 1) or a landline (digits, optional area code).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "电话号码无效：手机号 11 位，或带区号的固定电话 / not a phone number: 11-digit mobile or a landline with area code"
)]
pub struct BadPhone;

impl Phone {
    pub fn parse(s: &str) -> Result<Phone, BadPhone> {
        let digits: String = s.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let digits = digits.strip_prefix("+86").unwrap_or(&digits).to_owned();
        let mobile = digits.len() == 11 && digits.starts_with('1');
        let landline = (7..=12).contains(&digits.len()) && digits.starts_with('0');
        if digits.bytes().all(|b| b.is_ascii_digit()) && (mobile || landline) {
            Ok(Phone(digits))
        } else {
            Err(BadPhone)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }

    /// `138****5678`.
    pub fn masked(&self) -> String {
        let n = self.0.len();
        format!("{}****{}", &self.0[..3], &self.0[n - 4..])
    }
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

/// 户籍 / 常住 / 流动 / 租户.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidenceType {
    Registered,
    Resident,
    Floating,
    Tenant,
}

impl ResidenceType {
    pub const ALL: [ResidenceType; 4] = [
        ResidenceType::Registered,
        ResidenceType::Resident,
        ResidenceType::Floating,
        ResidenceType::Tenant,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResidenceType::Registered => "registered",
            ResidenceType::Resident => "resident",
            ResidenceType::Floating => "floating",
            ResidenceType::Tenant => "tenant",
        }
    }

    pub fn parse(s: &str) -> Option<ResidenceType> {
        ResidenceType::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ResidenceType::Registered => "户籍",
            ResidenceType::Resident => "常住",
            ResidenceType::Floating => "流动",
            ResidenceType::Tenant => "租户",
        }
    }
}

/// The care grade of a key person: red (urgent survival need), yellow (psychological or social),
/// blue (routine long-term care).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CareGrade {
    Red,
    Yellow,
    Blue,
}

impl CareGrade {
    pub const ALL: [CareGrade; 3] = [CareGrade::Red, CareGrade::Yellow, CareGrade::Blue];

    pub fn as_str(self) -> &'static str {
        match self {
            CareGrade::Red => "red",
            CareGrade::Yellow => "yellow",
            CareGrade::Blue => "blue",
        }
    }

    pub fn parse(s: &str) -> Option<CareGrade> {
        CareGrade::ALL.into_iter().find(|g| g.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            CareGrade::Red => "红",
            CareGrade::Yellow => "黄",
            CareGrade::Blue => "蓝",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_valid_id_number_parses_and_masks() {
        // 11010519491231002X is the standard's own example.
        let id = IdNumber::parse("11010519491231002x").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.birth_date(), "1949-12-31");
        assert_eq!(id.gender(), 2);
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(format!("{id:?}"), "IdNumber(110105********002X)");
    }

    #[test]
    fn bad_id_numbers_say_why() {
        assert_eq!(
            IdNumber::parse("110105194912310021"),
            Err(IdNumberError::CheckDigit)
        );
        assert_eq!(
            IdNumber::parse("11010519491331002X"),
            Err(IdNumberError::BirthDate)
        );
        assert_eq!(
            IdNumber::parse("1101051949123100"),
            Err(IdNumberError::Length)
        );
        assert_eq!(
            IdNumber::parse("11010519491231A02X"),
            Err(IdNumberError::Characters)
        );
    }

    #[test]
    fn phones_parse_and_mask() {
        let p = Phone::parse("+86 138-1234-5678").unwrap();
        assert_eq!(
            (p.as_str(), p.masked().as_str(), p.last4()),
            ("13812345678", "138****5678", "5678")
        );
        assert!(Phone::parse("028-82712345").is_ok());
        assert!(Phone::parse("12345").is_err());
        assert!(Phone::parse("2381234567x").is_err());
    }

    proptest! {
        /// Any 17 digits with a valid date get exactly one check character that makes them valid.
        #[test]
        fn exactly_one_check_character_fits(region in 110000u32..660000, year in 1900u32..2026, month in 1u32..13, day in 1u32..29, seq in 0u32..1000) {
            let first17 = format!("{region:06}{year:04}{month:02}{day:02}{seq:03}");
            let valid: Vec<char> = "0123456789X".chars().filter(|c| IdNumber::parse(&format!("{first17}{c}")).is_ok()).collect();
            prop_assert_eq!(valid.len(), 1);
            prop_assert_eq!(valid[0] as u8, id_check_char(first17.as_bytes()));
        }
    }
}
