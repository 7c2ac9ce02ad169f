//! The case's closed loop (发现 → 上报 → 派单 → 处置 → 反馈 → 结案) as a state machine: the
//! states a case can be in, what may be done to it in each, and where that leads. Only these
//! transitions exist; the use cases check who may take them and where.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// 待受理
    Reported,
    /// 已立案: accepted, waiting to be dispatched at its tier.
    Accepted,
    /// 不予立案 / 作废
    Rejected,
    /// 已派遣: with a handler, not yet taken.
    Dispatched,
    /// 处置中
    InProgress,
    /// 已处置: the handler reports it done.
    Handled,
    /// 待核查: being verified by the grid worker or the reporter.
    Verifying,
    /// 已结案
    Closed,
    /// 返工: verification failed or the reporter was not satisfied.
    Rework,
    /// 退回: the handler is not responsible; back to dispatch.
    Returned,
    /// 申请延期: the handler asked for more time.
    ExtensionRequested,
    /// 挂账: cannot be solved now; parked with a reason and a review date.
    Parked,
    /// 合并: merged into another case.
    Merged,
}

impl Status {
    pub const ALL: [Status; 13] = [
        Status::Reported,
        Status::Accepted,
        Status::Rejected,
        Status::Dispatched,
        Status::InProgress,
        Status::Handled,
        Status::Verifying,
        Status::Closed,
        Status::Rework,
        Status::Returned,
        Status::ExtensionRequested,
        Status::Parked,
        Status::Merged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Reported => "reported",
            Status::Accepted => "accepted",
            Status::Rejected => "rejected",
            Status::Dispatched => "dispatched",
            Status::InProgress => "in_progress",
            Status::Handled => "handled",
            Status::Verifying => "verifying",
            Status::Closed => "closed",
            Status::Rework => "rework",
            Status::Returned => "returned",
            Status::ExtensionRequested => "extension_requested",
            Status::Parked => "parked",
            Status::Merged => "merged",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Status::Reported => "待受理",
            Status::Accepted => "已立案",
            Status::Rejected => "不予立案",
            Status::Dispatched => "已派遣",
            Status::InProgress => "处置中",
            Status::Handled => "已处置",
            Status::Verifying => "待核查",
            Status::Closed => "已结案",
            Status::Rework => "返工",
            Status::Returned => "退回",
            Status::ExtensionRequested => "申请延期",
            Status::Parked => "挂账",
            Status::Merged => "已合并",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Status::Reported => "Reported",
            Status::Accepted => "Accepted",
            Status::Rejected => "Rejected",
            Status::Dispatched => "Dispatched",
            Status::InProgress => "In progress",
            Status::Handled => "Handled",
            Status::Verifying => "Verifying",
            Status::Closed => "Closed",
            Status::Rework => "Rework",
            Status::Returned => "Returned",
            Status::ExtensionRequested => "Extension requested",
            Status::Parked => "Parked",
            Status::Merged => "Merged",
        }
    }

    /// No clock runs and nothing more happens, except a reopening by an unsatisfied reporter.
    pub fn is_final(self) -> bool {
        Status::FINAL.contains(&self)
    }

    /// The states a case does not leave.
    pub const FINAL: [Status; 3] = [Status::Rejected, Status::Closed, Status::Merged];

    /// The case's clocks stand still (挂账, or waiting for an extension to be decided).
    pub fn pauses_clock(self) -> bool {
        matches!(self, Status::Parked | Status::ExtensionRequested)
    }
}

/// What can be done to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// 立案
    Accept,
    /// 不予立案 (with a reason)
    Reject,
    /// 派遣 to a handler (or 改派 before it is taken; to a department: 吹哨)
    Dispatch,
    /// 接单
    Claim,
    /// 退回 (with a reason)
    Return,
    /// 处置完成 (with the result and after-photos)
    Handle,
    /// 核查: the verifier takes it up
    StartVerification,
    /// 核查通过 → 结案
    Pass,
    /// 核查不通过 → 返工
    Fail,
    /// 满意 / 基本满意 / 不满意; 不满意 reopens as rework
    Rate,
    /// 上报上一级 (micro-grid → grid → community → street → department)
    Escalate,
    /// 申请延期
    RequestExtension,
    /// 同意延期
    GrantExtension,
    /// 不同意延期
    DenyExtension,
    /// 挂账 (with a reason and a review date)
    Park,
    /// 恢复处置
    Resume,
    /// 督办: urged by a supervisor; the case stays where it is
    Supervise,
    /// 合并 into another case
    Merge,
    /// 特殊结案 (forced, with a reason)
    ForceClose,
    /// A note in the history (补充说明)
    Comment,
}

impl Action {
    pub const ALL: [Action; 20] = [
        Action::Accept,
        Action::Reject,
        Action::Dispatch,
        Action::Claim,
        Action::Return,
        Action::Handle,
        Action::StartVerification,
        Action::Pass,
        Action::Fail,
        Action::Rate,
        Action::Escalate,
        Action::RequestExtension,
        Action::GrantExtension,
        Action::DenyExtension,
        Action::Park,
        Action::Resume,
        Action::Supervise,
        Action::Merge,
        Action::ForceClose,
        Action::Comment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Reject => "reject",
            Action::Dispatch => "dispatch",
            Action::Claim => "claim",
            Action::Return => "return",
            Action::Handle => "handle",
            Action::StartVerification => "start_verification",
            Action::Pass => "pass",
            Action::Fail => "fail",
            Action::Rate => "rate",
            Action::Escalate => "escalate",
            Action::RequestExtension => "request_extension",
            Action::GrantExtension => "grant_extension",
            Action::DenyExtension => "deny_extension",
            Action::Park => "park",
            Action::Resume => "resume",
            Action::Supervise => "supervise",
            Action::Merge => "merge",
            Action::ForceClose => "force_close",
            Action::Comment => "comment",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Action::Accept => "立案",
            Action::Reject => "不予立案",
            Action::Dispatch => "派遣",
            Action::Claim => "接单",
            Action::Return => "退回",
            Action::Handle => "处置完成",
            Action::StartVerification => "开始核查",
            Action::Pass => "核查通过",
            Action::Fail => "核查不通过",
            Action::Rate => "评价",
            Action::Escalate => "上报上级",
            Action::RequestExtension => "申请延期",
            Action::GrantExtension => "同意延期",
            Action::DenyExtension => "不同意延期",
            Action::Park => "挂账",
            Action::Resume => "恢复处置",
            Action::Supervise => "督办",
            Action::Merge => "合并",
            Action::ForceClose => "特殊结案",
            Action::Comment => "补充说明",
        }
    }

    /// Actions that must say why (the reason goes into the history).
    pub fn needs_reason(self) -> bool {
        matches!(
            self,
            Action::Reject
                | Action::Return
                | Action::Fail
                | Action::RequestExtension
                | Action::DenyExtension
                | Action::Park
                | Action::Supervise
                | Action::ForceClose
                | Action::Comment
        )
    }
}

/// How satisfied the reporter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    /// 满意
    Satisfied,
    /// 基本满意
    Fair,
    /// 不满意
    Unsatisfied,
}

impl Satisfaction {
    pub fn as_str(self) -> &'static str {
        match self {
            Satisfaction::Satisfied => "satisfied",
            Satisfaction::Fair => "fair",
            Satisfaction::Unsatisfied => "unsatisfied",
        }
    }

    pub fn parse(s: &str) -> Option<Satisfaction> {
        [
            Satisfaction::Satisfied,
            Satisfaction::Fair,
            Satisfaction::Unsatisfied,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Satisfaction::Satisfied => "满意",
            Satisfaction::Fair => "基本满意",
            Satisfaction::Unsatisfied => "不满意",
        }
    }
}

/// How a case was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Closure {
    /// 正常结案
    Normal,
    /// 超时结案
    Overdue,
    /// 特殊结案
    Special,
}

impl Closure {
    pub fn as_str(self) -> &'static str {
        match self {
            Closure::Normal => "normal",
            Closure::Overdue => "overdue",
            Closure::Special => "special",
        }
    }
}

/// The tiers a case climbs (小事不出格，大事不出社区): the tier that solved it is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// 微网格
    MicroGrid,
    /// 一般网格
    Grid,
    /// 社区（总网格联席会）
    Community,
    /// 街道
    Street,
    /// 区级部门（吹哨报到）
    Department,
}

impl Tier {
    pub const ALL: [Tier; 5] = [
        Tier::MicroGrid,
        Tier::Grid,
        Tier::Community,
        Tier::Street,
        Tier::Department,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::MicroGrid => "micro_grid",
            Tier::Grid => "grid",
            Tier::Community => "community",
            Tier::Street => "street",
            Tier::Department => "department",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Tier::MicroGrid => "微网格",
            Tier::Grid => "网格",
            Tier::Community => "社区联席会",
            Tier::Street => "街道",
            Tier::Department => "职能部门",
        }
    }

    /// The next tier up, if any.
    pub fn up(self) -> Option<Tier> {
        match self {
            Tier::MicroGrid => Some(Tier::Grid),
            Tier::Grid => Some(Tier::Community),
            Tier::Community => Some(Tier::Street),
            Tier::Street => Some(Tier::Department),
            Tier::Department => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{} 状态下不能{} / cannot {} a case that is {}", from.label_zh(), action.label_zh(), action.as_str(), from.as_str())]
pub struct IllegalTransition {
    pub from: Status,
    pub action: Action,
}

/// Where `action` takes a case that is `from`, or why it cannot. `unsatisfied` says, for
/// [`Action::Rate`], whether the rating is 不满意 (which reopens the case as rework).
pub fn next(from: Status, action: Action, unsatisfied: bool) -> Result<Status, IllegalTransition> {
    use Action as A;
    use Status as S;
    let to = match (from, action) {
        (S::Reported, A::Accept) => S::Accepted,
        (S::Reported, A::Reject) => S::Rejected,
        (S::Reported | S::Accepted, A::Merge) => S::Merged,
        // From `Dispatched` it is a reassignment (改派) before anyone took it.
        (S::Accepted | S::Returned | S::Dispatched, A::Dispatch) => S::Dispatched,
        (S::Dispatched | S::Rework, A::Claim) => S::InProgress,
        (S::Dispatched | S::InProgress | S::Rework, A::Return) => S::Returned,
        (S::InProgress, A::Handle) => S::Handled,
        (S::Handled, A::StartVerification) => S::Verifying,
        (S::Handled | S::Verifying, A::Pass) => S::Closed,
        (S::Handled | S::Verifying, A::Fail) => S::Rework,
        (S::Handled | S::Verifying | S::Closed, A::Rate) if unsatisfied => S::Rework,
        (S::Handled | S::Verifying | S::Closed, A::Rate) => from,
        (S::Accepted | S::Dispatched | S::InProgress | S::Returned | S::Rework, A::Escalate) => {
            S::Accepted
        }
        (S::InProgress, A::RequestExtension) => S::ExtensionRequested,
        (S::ExtensionRequested, A::GrantExtension | A::DenyExtension) => S::InProgress,
        (S::InProgress, A::Park) => S::Parked,
        (S::Parked, A::Resume) => S::InProgress,
        (s, A::Supervise) if !s.is_final() => s,
        (s, A::ForceClose) if !s.is_final() => S::Closed,
        (s, A::Comment) => s,
        _ => return Err(IllegalTransition { from, action }),
    };
    Ok(to)
}

/// When a case's next clock event falls due: the earliest of its clocks' times (its stage's and
/// its whole case's warning and deadline); none while they stand still, because the case is
/// paused or in a state that stops them.
pub fn next_clock_event(
    status: Status,
    paused_at: Option<i64>,
    clocks: [Option<i64>; 4],
) -> Option<i64> {
    let running = paused_at.is_none() && !status.is_final() && !status.pauses_clock();
    running
        .then(|| clocks.into_iter().flatten().min())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_next_clock_event_is_the_earliest_of_a_running_case() {
        let clocks = [Some(30), Some(40), Some(20), Some(50)];
        assert_eq!(next_clock_event(Status::InProgress, None, clocks), Some(20));
        // Between stages (no stage clock) the whole case's clock still runs.
        assert_eq!(
            next_clock_event(Status::Dispatched, None, [None, None, Some(20), Some(50)]),
            Some(20)
        );
        // Clocks that stand still, and finished cases, have none.
        assert_eq!(next_clock_event(Status::InProgress, Some(10), clocks), None);
        for status in [
            Status::Parked,
            Status::ExtensionRequested,
            Status::Closed,
            Status::Rejected,
            Status::Merged,
        ] {
            assert_eq!(next_clock_event(status, None, clocks), None, "{status:?}");
        }
    }

    #[test]
    fn the_whole_loop_runs_from_report_to_close() {
        let mut s = Status::Reported;
        for a in [
            Action::Accept,
            Action::Dispatch,
            Action::Claim,
            Action::Handle,
            Action::StartVerification,
            Action::Pass,
        ] {
            s = next(s, a, false).unwrap();
        }
        assert_eq!(s, Status::Closed);
        assert_eq!(
            next(s, Action::Rate, true),
            Ok(Status::Rework),
            "不满意 reopens"
        );
        assert_eq!(next(s, Action::Rate, false), Ok(Status::Closed));
        assert!(next(s, Action::Claim, false).is_err());
        assert!(next(Status::Merged, Action::ForceClose, false).is_err());
    }

    #[test]
    fn a_refusal_says_what_and_from_where() {
        let e = next(Status::Reported, Action::Handle, false).unwrap_err();
        assert!(e.to_string().contains("待受理") && e.to_string().contains("handle"));
    }

    #[test]
    fn tiers_climb_to_the_department_and_stop() {
        let mut t = Tier::MicroGrid;
        let mut steps = 0;
        while let Some(up) = t.up() {
            t = up;
            steps += 1;
        }
        assert_eq!((t, steps), (Tier::Department, 4));
    }

    fn any_status() -> impl Strategy<Value = Status> {
        (0..Status::ALL.len()).prop_map(|i| Status::ALL[i])
    }

    fn any_action() -> impl Strategy<Value = Action> {
        (0..Action::ALL.len()).prop_map(|i| Action::ALL[i])
    }

    proptest! {
        /// From any state, a run of actions keeps to the legal transitions: every success leads
        /// where the table says, every refusal changes nothing, and nothing leaves a final state
        /// but a comment or an unsatisfied rating of a closed case.
        #[test]
        fn only_legal_transitions_happen(start in any_status(), actions in proptest::collection::vec((any_action(), any::<bool>()), 0..40)) {
            let mut s = start;
            for (a, unsatisfied) in actions {
                match next(s, a, unsatisfied) {
                    Ok(to) => {
                        if s.is_final() {
                            prop_assert!(
                                to == s || (s == Status::Closed && a == Action::Rate && unsatisfied),
                                "{:?} left the final state {:?} by {:?}", to, s, a
                            );
                        }
                        if a == Action::Supervise || a == Action::Comment {
                            prop_assert_eq!(to, s);
                        }
                        if to == Status::Closed && s != Status::Closed {
                            prop_assert!(matches!(a, Action::Pass | Action::ForceClose), "closed by {:?}", a);
                        }
                        if to == Status::Rework && s != Status::Rework {
                            prop_assert!(a == Action::Fail || (a == Action::Rate && unsatisfied), "rework by {:?}", a);
                        }
                        s = to;
                    }
                    Err(e) => prop_assert_eq!(e, IllegalTransition { from: s, action: a }),
                }
            }
        }

        #[test]
        fn every_state_can_be_left_or_is_final(s in any_status()) {
            let moves = Action::ALL
                .iter()
                .filter(|a| **a != Action::Comment)
                .filter_map(|a| next(s, *a, true).ok())
                .filter(|to| *to != s)
                .count();
            prop_assert!(moves > 0 || s.is_final(), "{:?} is a dead end", s);
        }
    }
}
