//! The working calendar: Asia/Shanghai time (UTC+8 all year; China keeps no summer time), the
//! working week, China's statutory holidays and the weekend days worked in exchange (调休), and
//! the working hours of a day. Deadlines are counted on it in working hours, working days or
//! natural time, and a clock that pauses picks up where it stopped.
//!
//! The holidays of 2024, 2025 and 2026 are built in as the State Council's notices published
//! them (国办发明电〔2023〕7号, 〔2024〕12号, 〔2025〕7号); a deployment edits them year by year.

use crate::time::Millis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const DAY_MS: i64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;
/// Asia/Shanghai is UTC+8.
const OFFSET_MS: i64 = 8 * 3_600_000;

/// A calendar day, counted from 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i64);

impl Day {
    /// From a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    pub fn from_ymd(y: i64, m: u32, d: u32) -> Day {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(m);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Day(era * 146_097 + doe - 719_468)
    }

    pub fn ymd(self) -> (i64, u32, u32) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        (
            if m <= 2 {
                yoe + era * 400 + 1
            } else {
                yoe + era * 400
            },
            m,
            d,
        )
    }

    /// `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Day> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let y: i64 = s[..4].parse().ok()?;
        let m: u32 = s[5..7].parse().ok()?;
        let d: u32 = s[8..10].parse().ok()?;
        let day = Day::from_ymd(y, m, d);
        (day.ymd() == (y, m, d)).then_some(day)
    }

    /// 0 Monday … 6 Sunday.
    pub fn weekday(self) -> u32 {
        (self.0 + 3).rem_euclid(7) as u32
    }

    /// The day in Shanghai on which the instant falls.
    pub fn of(t: Millis) -> Day {
        Day((t.0 + OFFSET_MS).div_euclid(DAY_MS))
    }

    /// The instant `minute` minutes after this day's midnight in Shanghai.
    pub fn at_minute(self, minute: u32) -> Millis {
        Millis(self.0 * DAY_MS - OFFSET_MS + i64::from(minute) * MINUTE_MS)
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// What a day is, where it is not what its weekday says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// 放假: no work although a weekday.
    Holiday,
    /// 调休上班: work although a weekend day.
    Workday,
}

/// How a time limit is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitUnit {
    /// 工作时: hours inside working hours on working days.
    WorkingHours,
    /// 工作日: the limit ends when the last working hour of the Nth working day after the start ends.
    WorkingDays,
    /// 自然日: 24-hour days.
    NaturalDays,
    /// Hours of the clock.
    NaturalHours,
    /// Minutes of the clock (吹哨报到: report within 30 minutes).
    NaturalMinutes,
}

impl LimitUnit {
    pub const ALL: [LimitUnit; 5] = [
        LimitUnit::WorkingHours,
        LimitUnit::WorkingDays,
        LimitUnit::NaturalDays,
        LimitUnit::NaturalHours,
        LimitUnit::NaturalMinutes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LimitUnit::WorkingHours => "working_hours",
            LimitUnit::WorkingDays => "working_days",
            LimitUnit::NaturalDays => "natural_days",
            LimitUnit::NaturalHours => "natural_hours",
            LimitUnit::NaturalMinutes => "natural_minutes",
        }
    }

    pub fn parse(s: &str) -> Option<LimitUnit> {
        LimitUnit::ALL.into_iter().find(|u| u.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            LimitUnit::WorkingHours => "工作时",
            LimitUnit::WorkingDays => "工作日",
            LimitUnit::NaturalDays => "自然日",
            LimitUnit::NaturalHours => "小时",
            LimitUnit::NaturalMinutes => "分钟",
        }
    }

    fn is_working(self) -> bool {
        matches!(self, LimitUnit::WorkingHours | LimitUnit::WorkingDays)
    }
}

/// A time limit: so many units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Limit {
    pub amount: u32,
    pub unit: LimitUnit,
}

/// Why a calendar setting is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error(
        "工作时段须在 00:00–24:00 内、依次排列且不重叠 / working hours must lie within the day, in order, without overlaps"
    )]
    BadHours,
}

/// The working calendar. Cheap to clone; pure.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkingCalendar {
    exceptions: BTreeMap<Day, DayKind>,
    /// Working periods of a working day, minutes after midnight, in order, not overlapping.
    hours: Vec<(u32, u32)>,
}

/// Working hours of a government office in Chengdu: 09:00–12:00 and 13:30–17:30 (seven hours).
pub const DEFAULT_HOURS: [(u32, u32); 2] = [(9 * 60, 12 * 60), (13 * 60 + 30, 17 * 60 + 30)];

/// The statutory holidays and worked weekend days of 2024–2026: (first day, last day, kind).
pub const CHINA_2024_2026: &[(&str, &str, DayKind)] = &[
    // 2024 (国办发明电〔2023〕7号)
    ("2024-01-01", "2024-01-01", DayKind::Holiday),
    ("2024-02-10", "2024-02-17", DayKind::Holiday),
    ("2024-02-04", "2024-02-04", DayKind::Workday),
    ("2024-02-18", "2024-02-18", DayKind::Workday),
    ("2024-04-04", "2024-04-06", DayKind::Holiday),
    ("2024-04-07", "2024-04-07", DayKind::Workday),
    ("2024-05-01", "2024-05-05", DayKind::Holiday),
    ("2024-04-28", "2024-04-28", DayKind::Workday),
    ("2024-05-11", "2024-05-11", DayKind::Workday),
    ("2024-06-10", "2024-06-10", DayKind::Holiday),
    ("2024-09-15", "2024-09-17", DayKind::Holiday),
    ("2024-09-14", "2024-09-14", DayKind::Workday),
    ("2024-10-01", "2024-10-07", DayKind::Holiday),
    ("2024-09-29", "2024-09-29", DayKind::Workday),
    ("2024-10-12", "2024-10-12", DayKind::Workday),
    // 2025 (国办发明电〔2024〕12号)
    ("2025-01-01", "2025-01-01", DayKind::Holiday),
    ("2025-01-28", "2025-02-04", DayKind::Holiday),
    ("2025-01-26", "2025-01-26", DayKind::Workday),
    ("2025-02-08", "2025-02-08", DayKind::Workday),
    ("2025-04-04", "2025-04-06", DayKind::Holiday),
    ("2025-05-01", "2025-05-05", DayKind::Holiday),
    ("2025-04-27", "2025-04-27", DayKind::Workday),
    ("2025-05-31", "2025-06-02", DayKind::Holiday),
    ("2025-10-01", "2025-10-08", DayKind::Holiday),
    ("2025-09-28", "2025-09-28", DayKind::Workday),
    ("2025-10-11", "2025-10-11", DayKind::Workday),
    // 2026 (国办发明电〔2025〕7号)
    ("2026-01-01", "2026-01-03", DayKind::Holiday),
    ("2026-01-04", "2026-01-04", DayKind::Workday),
    ("2026-02-15", "2026-02-23", DayKind::Holiday),
    ("2026-02-14", "2026-02-14", DayKind::Workday),
    ("2026-02-28", "2026-02-28", DayKind::Workday),
    ("2026-04-04", "2026-04-06", DayKind::Holiday),
    ("2026-05-01", "2026-05-05", DayKind::Holiday),
    ("2026-05-09", "2026-05-09", DayKind::Workday),
    ("2026-06-19", "2026-06-21", DayKind::Holiday),
    ("2026-09-25", "2026-09-27", DayKind::Holiday),
    ("2026-10-01", "2026-10-07", DayKind::Holiday),
    ("2026-09-20", "2026-09-20", DayKind::Workday),
    ("2026-10-10", "2026-10-10", DayKind::Workday),
];

/// Searching further than this for a working day gives up (a calendar with no working days).
const HORIZON_DAYS: i64 = 3_660;

impl WorkingCalendar {
    /// A calendar with the given working hours and no holidays.
    pub fn new(hours: &[(u32, u32)]) -> Result<WorkingCalendar, CalendarError> {
        let ordered = hours.windows(2).all(|w| w[0].1 <= w[1].0);
        let inside = hours.iter().all(|(s, e)| s < e && *e <= 24 * 60);
        if hours.is_empty() || !ordered || !inside {
            return Err(CalendarError::BadHours);
        }
        Ok(WorkingCalendar {
            exceptions: BTreeMap::new(),
            hours: hours.to_vec(),
        })
    }

    /// China's calendar of 2024–2026 with the default working hours.
    pub fn china() -> WorkingCalendar {
        let mut c = WorkingCalendar {
            exceptions: BTreeMap::new(),
            hours: DEFAULT_HOURS.to_vec(),
        };
        for (from, to, kind) in CHINA_2024_2026 {
            if let (Some(from), Some(to)) = (Day::parse(from), Day::parse(to)) {
                for d in from.0..=to.0 {
                    c.set(Day(d), Some(*kind));
                }
            }
        }
        c
    }

    /// Marks a day as a holiday or a worked weekend day, or (`None`) as its weekday says.
    pub fn set(&mut self, day: Day, kind: Option<DayKind>) {
        match kind {
            Some(k) => self.exceptions.insert(day, k),
            None => self.exceptions.remove(&day),
        };
    }

    pub fn exceptions(&self) -> impl Iterator<Item = (Day, DayKind)> + '_ {
        self.exceptions.iter().map(|(d, k)| (*d, *k))
    }

    pub fn hours(&self) -> &[(u32, u32)] {
        &self.hours
    }

    /// Working minutes in one working day.
    pub fn minutes_per_day(&self) -> i64 {
        self.hours.iter().map(|(s, e)| i64::from(e - s)).sum()
    }

    pub fn is_working_day(&self, day: Day) -> bool {
        match self.exceptions.get(&day) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::Workday) => true,
            None => day.weekday() < 5,
        }
    }

    /// The working periods of `day` as instants (none on a day off).
    fn periods(&self, day: Day) -> impl Iterator<Item = (i64, i64)> + '_ {
        let working = self.is_working_day(day);
        self.hours
            .iter()
            .filter(move |_| working)
            .map(move |(s, e)| (day.at_minute(*s).0, day.at_minute(*e).0))
    }

    /// The instant `minutes` working minutes after `start`.
    pub fn add_working_minutes(&self, start: Millis, minutes: i64) -> Millis {
        let mut remaining = minutes.max(0) * MINUTE_MS;
        let first = Day::of(start);
        let mut last = start.0;
        for d in first.0..first.0 + HORIZON_DAYS {
            for (s, e) in self.periods(Day(d)) {
                let from = s.max(start.0);
                if from >= e {
                    continue;
                }
                if remaining <= e - from {
                    return Millis(from + remaining);
                }
                remaining -= e - from;
                last = e;
            }
        }
        Millis(last)
    }

    /// Working minutes between two instants (0 when `to` is not after `from`).
    pub fn working_minutes_between(&self, from: Millis, to: Millis) -> i64 {
        if to <= from {
            return 0;
        }
        let mut total = 0;
        for d in Day::of(from).0..=Day::of(to).0 {
            for (s, e) in self.periods(Day(d)) {
                let overlap = e.min(to.0) - s.max(from.0);
                if overlap > 0 {
                    total += overlap;
                }
            }
        }
        total / MINUTE_MS
    }

    /// The end of the last working period of the `n`th working day after the day of `start`
    /// (the start day itself does not count; with `n` = 0, the end of the start day's work, or
    /// of the next working day's when the start day is over or off).
    fn end_of_working_days(&self, start: Millis, n: u32) -> Millis {
        let last_minute = self.hours.last().map_or(24 * 60, |h| h.1);
        let first = Day::of(start);
        if n == 0 && self.is_working_day(first) && first.at_minute(last_minute) > start {
            return first.at_minute(last_minute);
        }
        let mut counted = 0;
        for d in first.0 + 1..first.0 + HORIZON_DAYS {
            if self.is_working_day(Day(d)) {
                counted += 1;
                if counted >= n.max(1) {
                    return Day(d).at_minute(last_minute);
                }
            }
        }
        Day(first.0 + HORIZON_DAYS).at_minute(last_minute)
    }

    /// When a limit started at `start` runs out.
    pub fn deadline(&self, start: Millis, limit: Limit) -> Millis {
        let n = i64::from(limit.amount);
        match limit.unit {
            LimitUnit::WorkingHours => self.add_working_minutes(start, n * 60),
            LimitUnit::WorkingDays => self.end_of_working_days(start, limit.amount),
            LimitUnit::NaturalDays => Millis(start.0 + n * DAY_MS),
            LimitUnit::NaturalHours => Millis(start.0 + n * 60 * MINUTE_MS),
            LimitUnit::NaturalMinutes => Millis(start.0 + n * MINUTE_MS),
        }
    }

    /// When a clock of `unit` running from `start` to `deadline` turns yellow: after `share`
    /// (0–1) of its time, counted in working time for working units.
    pub fn warning(&self, start: Millis, deadline: Millis, unit: LimitUnit, share: f64) -> Millis {
        let share = share.clamp(0.0, 1.0);
        if unit.is_working() {
            let total = self.working_minutes_between(start, deadline);
            self.add_working_minutes(start, (total as f64 * share).round() as i64)
        } else {
            Millis(start.0 + ((deadline.0 - start.0) as f64 * share).round() as i64)
        }
    }

    /// The deadline of a clock paused at `paused_at` and resumed at `resumed_at`: what was left
    /// at the pause is left again at the resumption (in working time for working units).
    pub fn resumed(
        &self,
        deadline: Millis,
        unit: LimitUnit,
        paused_at: Millis,
        resumed_at: Millis,
    ) -> Millis {
        if resumed_at <= paused_at {
            return deadline;
        }
        if unit.is_working() {
            let left = self.working_minutes_between(paused_at, deadline);
            self.add_working_minutes(resumed_at, left)
        } else {
            Millis(deadline.0 + (resumed_at.0 - paused_at.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(day: &str, h: u32, m: u32) -> Millis {
        Day::parse(day).unwrap().at_minute(h * 60 + m)
    }

    #[test]
    fn days_convert_both_ways_and_know_their_weekday() {
        assert_eq!(Day::parse("1970-01-01"), Some(Day(0)));
        assert_eq!(Day::parse("2025-09-28").unwrap().weekday(), 6, "a Sunday");
        assert_eq!(Day::parse("2025-10-11").unwrap().weekday(), 5, "a Saturday");
        assert_eq!(Day::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
        assert_eq!(Day::parse("2025-02-29"), None);
        assert_eq!(Day::parse("2025-13-01"), None);
        assert_eq!(Day::of(Millis(0)), Day(0));
        assert_eq!(
            Day::of(Millis(16 * 3_600_000)),
            Day(1),
            "midnight in Shanghai"
        );
    }

    #[test]
    fn the_national_day_holiday_and_its_worked_weekend_days() {
        let c = WorkingCalendar::china();
        assert!(c.is_working_day(Day::parse("2025-09-28").unwrap()));
        assert!(c.is_working_day(Day::parse("2025-10-11").unwrap()));
        for d in 1..=8 {
            assert!(!c.is_working_day(Day::parse(&format!("2025-10-0{d}")).unwrap()));
        }
        // Three working days from 2025-09-30: 10-09, 10-10 and the worked Saturday 10-11.
        let limit = Limit {
            amount: 3,
            unit: LimitUnit::WorkingDays,
        };
        assert_eq!(
            c.deadline(at("2025-09-30", 10, 0), limit),
            at("2025-10-11", 17, 30)
        );
        // Four working hours from Tuesday 30 September 16:00: 1.5 h that day, 2.5 h after the break.
        let limit = Limit {
            amount: 4,
            unit: LimitUnit::WorkingHours,
        };
        assert_eq!(
            c.deadline(at("2025-09-30", 16, 0), limit),
            at("2025-10-09", 11, 30)
        );
    }

    #[test]
    fn the_spring_festival_of_2026_and_a_paused_clock() {
        let c = WorkingCalendar::china();
        assert!(
            c.is_working_day(Day::parse("2026-02-14").unwrap()),
            "a worked Saturday"
        );
        assert!(
            !c.is_working_day(Day::parse("2026-02-23").unwrap()),
            "a Monday off"
        );
        let limit = Limit {
            amount: 1,
            unit: LimitUnit::WorkingDays,
        };
        assert_eq!(
            c.deadline(at("2026-02-13", 9, 0), limit),
            at("2026-02-14", 17, 30)
        );
        assert_eq!(
            c.deadline(at("2026-02-14", 9, 0), limit),
            at("2026-02-24", 17, 30)
        );
        // Paused on Friday 2026-02-13 at 16:30 with 2 working hours left, resumed a week later.
        let deadline = at("2026-02-14", 10, 0);
        let resumed = c.resumed(
            deadline,
            LimitUnit::WorkingHours,
            at("2026-02-13", 16, 30),
            at("2026-02-24", 9, 0),
        );
        assert_eq!(resumed, at("2026-02-24", 11, 0));
        let natural = c.resumed(
            at("2026-03-02", 0, 0),
            LimitUnit::NaturalDays,
            at("2026-03-01", 0, 0),
            at("2026-03-01", 6, 0),
        );
        assert_eq!(natural, at("2026-03-02", 6, 0));
    }

    #[test]
    fn working_hours_are_checked() {
        assert!(WorkingCalendar::new(&[(600, 540)]).is_err());
        assert!(WorkingCalendar::new(&[(540, 720), (700, 800)]).is_err());
        assert!(WorkingCalendar::new(&[]).is_err());
        assert!(WorkingCalendar::new(&[(0, 1440)]).is_ok());
    }

    fn instant() -> impl Strategy<Value = Millis> {
        // 2024-01-01 … 2026-12-31, to the minute.
        let from = Day::parse("2024-01-01").unwrap().at_minute(0).0;
        let to = Day::parse("2026-12-31").unwrap().at_minute(0).0;
        (from / MINUTE_MS..to / MINUTE_MS).prop_map(|m| Millis(m * MINUTE_MS))
    }

    proptest! {
        #[test]
        fn working_hours_add_up(start in instant(), a in 0i64..3_000, b in 0i64..3_000) {
            let c = WorkingCalendar::china();
            let end = c.add_working_minutes(start, a);
            prop_assert!(end >= start);
            prop_assert_eq!(c.working_minutes_between(start, end), a);
            prop_assert_eq!(c.add_working_minutes(end, b), c.add_working_minutes(start, a + b));
        }

        #[test]
        fn later_starts_never_end_earlier(s1 in instant(), s2 in instant(), n in 0u32..20, unit in 0usize..5) {
            let c = WorkingCalendar::china();
            let limit = Limit { amount: n, unit: LimitUnit::ALL[unit] };
            let (early, late) = if s1 <= s2 { (s1, s2) } else { (s2, s1) };
            prop_assert!(c.deadline(early, limit) <= c.deadline(late, limit));
            prop_assert!(c.deadline(early, limit) >= early);
        }

        #[test]
        fn a_working_day_limit_ends_on_the_nth_working_day(start in instant(), n in 1u32..15) {
            let c = WorkingCalendar::china();
            let end = c.deadline(start, Limit { amount: n, unit: LimitUnit::WorkingDays });
            let last = Day::of(end);
            prop_assert!(c.is_working_day(last));
            let between = (Day::of(start).0 + 1..last.0).filter(|d| c.is_working_day(Day(*d))).count();
            prop_assert_eq!(between as u32, n - 1);
        }

        #[test]
        fn a_pause_keeps_what_was_left(start in instant(), hours in 1u32..40, pause in 0i64..20_000, gap in 0i64..50_000) {
            let c = WorkingCalendar::china();
            let deadline = c.deadline(start, Limit { amount: hours, unit: LimitUnit::WorkingHours });
            let paused = Millis(start.0 + pause * MINUTE_MS).min(deadline);
            let resumed_at = Millis(paused.0 + gap * MINUTE_MS);
            let resumed = c.resumed(deadline, LimitUnit::WorkingHours, paused, resumed_at);
            prop_assert_eq!(
                c.working_minutes_between(resumed_at, resumed),
                c.working_minutes_between(paused, deadline)
            );
        }
    }
}
