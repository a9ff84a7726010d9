//! Every label of the console, in Chinese and English, in one table.
//!
//! Rules: a key is written once with both texts (the macro takes exactly two), so no
//! language can lack a label; texts are plain (maud escapes them like any other data).

use crate::callbacks::{AttemptState, CallbackState, CampaignState};
use crate::prompts::Locale;

macro_rules! texts {
    ($($key:ident => $zh:literal, $en:literal;)*) => {
        /// A label of the console.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum T {
            $($key,)*
        }

        impl T {
            /// Every key, for the table's own tests.
            pub const ALL: &'static [T] = &[$(T::$key,)*];

            /// The label in `l`.
            pub fn get(self, l: Locale) -> &'static str {
                match (self, l) {
                    $(
                        (T::$key, Locale::ZhCn) => $zh,
                        (T::$key, Locale::EnUs) => $en,
                    )*
                }
            }
        }
    };
}

texts! {
    AppName => "客服热线 · 坐席台", "Hotline · agent console";
    Reports => "报表", "Reports";
    Report => "报表", "Report";
    Show => "查看", "Show";
    DownloadCsv => "下载 CSV", "Download CSV";
    NotApplied => "本报表不适用的筛选", "Filters this report cannot apply";
    NothingInPeriod => "本期没有数据。", "Nothing in this period.";
    ReportSatisfaction => "回访满意度", "Satisfaction";
    ReportSurveys => "抽样调查", "Sample surveys";
    ReportServiceLevels => "服务时限", "Service levels";
    ReportHotline => "热线", "Hotline";
    ReportCallbacks => "回访外呼", "Callbacks";
    ReportComplaints => "投诉", "Complaints";
    ReportFrom => "起始日期", "From";
    ReportTo => "截止日期", "To";
    ReportService => "业务", "Service";
    ReportLineKind => "线路类型", "Line kind";
    ReportCustomerClass => "客户类别", "Customer class";
    ReportCampaign => "回访活动编号", "Campaign id";
    ReportHotlineNumber => "热线号码", "Hotline number";
    Queue => "待办队列", "Queue";
    Tickets => "工单", "Tickets";
    Callbacks => "回访", "Callbacks";
    Agents => "坐席", "Agents";
    SignIn => "登录", "Sign in";
    SignOut => "退出", "Sign out";
    Login => "登录名", "Login";
    Password => "密码", "Password";
    Language => "语言", "Language";
    WrongLogin => "登录名或密码错误。连续输错5次后，该登录名将锁定15分钟。", "Wrong login or password. Five wrong passwords in a row lock a login for 15 minutes.";
    Inactive => "该账号已停用，请联系主管。", "This account is deactivated; ask a supervisor.";
    SessionEnded => "您的会话已结束，请重新登录。", "Your session has ended, sign in again.";
    SignedOut => "您已退出。", "You have signed out.";
    Forbidden => "请求被拒绝", "Request refused";
    CsrfRefused => "此表单不是从本坐席台页面提交的（或页面已过期）。未做任何更改。请返回，刷新页面后重试。", "This form did not come from a console page (or the page is out of date). Nothing was changed. Go back, reload the page and try again.";
    SupervisorsOnly => "仅主管可以打开此页面。", "Only supervisors may open this page.";
    NotFound => "未找到", "Not found";
    BadRequest => "输入有误", "Bad input";
    Refused => "未能完成", "Not done";
    NothingChanged => "未做任何更改。", "Nothing was changed.";
    CalendarEndsOn => "工作日历只覆盖到", "The working-day calendar ends on";
    CalendarEmpty => "工作日历没有任何日期", "The working-day calendar lists no dates";
    CalendarEstimated => "。此后的处理时限和回访日期按周末和法定节假日估算，可能与国务院公布的放假安排不同。请安装新一年的放假安排（见 README“工作日历”）。",
        ": deadlines and calling days after it are estimated from weekends and the statutory holidays, and may differ from the official schedule. Install the new year's schedule (README, “Working days”).";
    Estimated => "（估算）", " (estimated)";
    Back => "返回", "Back";
    Error => "出错了，请稍后再试。", "Something went wrong; try again later.";
    Filter => "筛选", "Filter";
    Any => "全部", "Any";
    State => "状态", "State";
    Kind => "类型", "Kind";
    Owner => "负责人", "Owner";
    Mine => "我的", "Mine";
    Unowned => "无人认领", "Unowned";
    Anyone => "任何人", "Anyone";
    OverdueOnly => "仅逾期", "Overdue only";
    Open => "待处理", "Open";
    Unclaimed => "超时未认领", "Unclaimed";
    Overdue => "已逾期", "Overdue";
    Priority => "优先级", "Priority";
    Customer => "客户", "Customer";
    Summary => "摘要", "Summary";
    Due => "答复期限", "Reply due";
    Flags => "标记", "Flags";
    NoEscalations => "没有符合条件的待办。", "No escalations match.";
    Escalation => "待办", "Escalation";
    AccountNo => "账号", "Account no.";
    Name => "姓名", "Name";
    Lines => "线路", "Lines";
    CallbackNumber => "回拨号码", "Callback number";
    Unknown => "未知", "unknown";
    Transcript => "通话记录", "Call transcript";
    Time => "时间", "Time";
    SystemSaid => "系统播报", "The system said";
    CallerDid => "来电者", "The caller";
    Pressed => "按了", "pressed";
    SaidWords => "说了", "said";
    NoAnswer => "（无应答）", "(no answer)";
    NoCall => "没有关联的通话。", "No call is linked.";
    Recording => "录音", "Recording";
    RecordingText => "录音文字", "Transcribed text";
    Address => "地址", "Address";
    AddressSpoken => "客户在电话中口述，见录音", "spoken by the customer: see the recording";
    AddressToTake => "未登记，需致电客户", "not given: call the customer for it";
    Ticket => "工单", "Ticket";
    Number => "编号", "Number";
    Deadline => "承诺期限", "Deadline";
    Breached => "已超期", "Breached";
    SurveyAnswers => "回访答复", "Survey answers";
    Question => "问题", "Question";
    Answer => "答复", "Answer";
    History => "处理记录", "History";
    Actor => "操作人", "By";
    Detail => "详情", "Detail";
    Claim => "认领", "Claim";
    Note => "备注", "Note";
    AddNote => "添加备注", "Add note";
    Reply => "答复客户", "Reply to the customer";
    ReplyText => "答复内容", "What was replied";
    Via => "答复方式", "How";
    RecordReply => "记录答复", "Record the reply";
    Close => "关闭", "Close";
    CloseNote => "关闭说明（可选）", "Closing note (optional)";
    Reassign => "改派", "Reassign";
    ReassignTo => "改派给", "To";
    Reason => "原因", "Reason";
    CallCustomer => "呼叫客户", "Call the customer";
    CallHint => "先呼叫您的电话，接通后再呼叫客户。", "Rings your phone first, then the customer's.";
    RecordedFor => "留言录音", "left a recording of";
    Seconds => "秒", "s";
    Search => "搜索", "Search";
    Assignee => "处理人", "Assignee";
    Opened => "创建时间", "Opened";
    Assign => "派单", "Assign";
    Resolve => "解决", "Resolve";
    ResolutionCode => "解决代码", "Resolution code";
    Description => "描述", "Description";
    NoTickets => "没有符合条件的工单。", "No tickets match.";
    Resolution => "处理结果", "Resolution";
    Campaigns => "回访活动", "Campaigns";
    Purpose => "用途", "Purpose";
    Campaign => "活动", "Campaign";
    Callback => "回访", "Callback";
    To => "被叫号码", "To";
    Attempts => "呼叫尝试", "Attempts";
    Ledger => "回访日志", "Ledger";
    Outcome => "结果", "Outcome";
    Placed => "拨出时间", "Placed";
    Ended => "结束时间", "Ended";
    NoCallbacks => "没有回访。", "No callbacks.";
    Role => "角色", "Role";
    Phone => "电话", "Phone";
    Active => "在用", "Active";
    Locked => "已锁定", "Locked";
    Yes => "是", "yes";
    No => "否", "no";
    AddAgent => "添加坐席", "Add an agent";
    Add => "添加", "Add";
    Deactivate => "停用", "Deactivate";
    Reactivate => "启用", "Reactivate";
    NewPassword => "新密码", "New password";
    SetPassword => "设置密码", "Set password";
    RoleAgent => "坐席", "agent";
    RoleSupervisor => "主管", "supervisor";
    Saved => "已保存。", "Saved.";
    MissingField => "缺少必填项：", "Missing field: ";
    TooLong => "内容过长：", "Too long: ";
    ControlCharacter => "不能包含控制字符：", "Must not contain control characters: ";
    NotANumber => "不是有效的编号：", "Not a valid id: ";
    UnknownValue => "无效的值：", "Not a valid value: ";
    NoSuchAgent => "没有该在用坐席：", "No active agent with login ";
    CannotDeactivateSelf => "不能停用自己的账号。", "You cannot deactivate your own account.";
    LoginTaken => "该登录名已被使用。", "That login is taken.";
    StateOpen => "待处理", "open";
    CbPending => "待回访", "pending";
    CbDialing => "正在外呼", "dialing";
    CbDone => "已完成", "done";
    CbCancelled => "已取消", "cancelled";
    AttemptRequesting => "正在请求运营商", "asking the carrier";
    AttemptPlaced => "已拨出", "placed";
    AttemptUnclear => "结果待核实", "awaiting the carrier's answer";
    AttemptEnded => "已结束", "ended";
    CampaignDraft => "草稿", "draft";
    CampaignRunning => "进行中", "running";
    CampaignPaused => "已暂停", "paused";
    CampaignFinished => "已结束", "finished";
    Why => "为什么", "Why";
    Case => "工单跟进", "Case";
    TkOpened => "受理", "opened";
    TkAssigned => "派单", "assigned";
    TkStarted => "开始处理", "work started";
    TkNoted => "备注", "note";
    TkAppointmentSet => "预约上门", "visit booked";
    TkResolved => "处理完毕", "resolved";
    TkClosed => "结单", "closed";
    TkCancelled => "撤销", "cancelled";
    TkReopened => "重新处理", "reopened";
    TkPersists => "客户来电：故障仍在", "customer called: fault persists";
    TkTranscribed => "录音转写", "recording transcribed";
    TkBreached => "超过承诺期限", "deadline passed";
    Channel => "渠道", "Channel";
    Appointment => "预约时间", "Visit";
    Text => "内容", "Text";
    LinePhone => "固定电话", "phone";
    LineBroadband => "宽带", "broadband";
    LineLeased => "专线", "leased line";
    ClassResidential => "个人客户", "residential";
    ClassBusiness => "企业客户", "business";
    CampaignName => "名称", "Name";
    EventListened => "收听录音", "recording played";
    TryAgainLater => "请稍后再试。", "Please try again later.";
    RecordingUnavailable => "录音暂时无法播放", "The recording cannot be played now";
    NewCampaign => "新建回访活动", "New campaign";
    Create => "创建", "Create";
    FromNumber => "外呼主叫号码", "Calls come from";
    CallsPerSec => "每秒最多外呼", "Calls a second at most";
    QueueList => "导入回访名单（CSV：number,account_no,locale,timezone,due_at,dedup_key）", "Queue a list (CSV: number,account_no,locale,timezone,due_at,dedup_key)";
    ActStart => "开始", "Start";
    ActPause => "暂停", "Pause";
    ActResume => "继续", "Resume";
    ActStop => "结束", "Stop";
    ListQueued => "已排入", "Queued";
    ListAlreadyOwed => "已在名单中", "Already owed";
    ListRejected => "未排入的行", "Rows not queued";
    Row => "行", "Row";
    PurposeSatisfaction => "满意度回访", "satisfaction";
    PurposeSampleSurvey => "抽样调查", "sample survey";
    PurposeAppointment => "预约确认", "appointment";
    SumComplaint => "客户投诉", "A customer's complaint";
    SumBreached => "已超过承诺期限", "passed its promised deadline";
    SumDissatisfied => "回访中客户表示不满意", "Dissatisfied in a satisfaction callback";
    SumNotFixed => "回访中客户表示故障未修复", "Not fixed, says a satisfaction callback";
    SumAppointment => "客户要求更改上门时间", "The customer asks to move a visit";
    SumSurveyAnswer => "调查答复需要跟进", "A survey answer to follow up";
    SumUnreached => "回访多次未接通", "A callback never reached the customer";
    SumTransferCallback => "来电客户选择回电，不再排队等候", "A caller chose a callback instead of holding";
    EventOpened => "创建", "opened";
    EventClaimed => "认领", "claimed";
    EventNote => "备注", "note";
    EventReassigned => "改派", "reassigned";
    EventCall => "外呼", "call";
    EventReplied => "答复", "replied";
    EventClosed => "结案", "closed";
    EventJoined => "并入新原因", "cause joined";
    StateClaimed => "已认领", "claimed";
    StateReplied => "已答复", "replied";
    StateClosed => "已关闭", "closed";
    KindTransferCallback => "转人工回拨", "callback instead of holding";
    KindComplaint => "投诉", "complaint";
    KindDissatisfied => "不满意", "dissatisfied";
    KindNotFixed => "故障未修复", "not fixed";
    KindAppointment => "预约变更", "appointment change";
    KindSurveyAnswer => "回访答复", "survey answer";
    KindUnreached => "回访未接通", "callback unreached";
    KindBreached => "工单超期", "ticket breached";
    ViaPhone => "电话", "phone";
    ViaSms => "短信", "SMS";
    ViaEmail => "邮件", "email";
    ViaVisit => "上门", "visit";
    ViaLetter => "信函", "letter";
    TicketOpen => "已受理", "open";
    TicketAssigned => "已派单", "assigned";
    TicketInProgress => "处理中", "in progress";
    TicketResolved => "已解决", "resolved";
    TicketClosed => "已关闭", "closed";
    TicketCancelled => "已取消", "cancelled";
    TicketReopened => "已重开", "reopened";
    TicketFault => "故障", "fault";
    TicketInstallation => "装机", "installation";
    TicketMove => "移机", "move";
    TicketChange => "业务变更", "change";
    TicketComplaint => "投诉", "complaint";
    SignedInAs => "当前用户", "Signed in as";
    LiveCounts => "实时统计", "Live counts";
    OpenTicketPage => "打开工单", "Open the ticket";
    Nobody => "无", "nobody";
    NoteCaseOwner => "客户待办的负责人", "owner of the customer's case";
    CodeReplied => "已答复客户", "replied";
    ChannelPhone => "电话", "phone";
    ChannelApi => "接口", "API";
    ChannelConsole => "坐席台", "console";
    CallQueued => "排队中", "queued";
    CallInitiated => "发起中", "initiated";
    CallRinging => "振铃中", "ringing";
    CallInProgress => "通话中", "in progress";
    CallCompleted => "已结束", "completed";
    CallBusy => "占线", "busy";
    CallNoAnswer => "无人接听", "no answer";
    CallFailed => "呼叫失败", "failed";
    CallCanceled => "已取消", "canceled";
    Minutes => "分钟", "min";
}

use crate::escalations::{Escalation, EscalationKind, EscalationState, ReplyVia};
use crate::tickets::{TicketKind, TicketState};

pub fn esc_state(s: EscalationState) -> T {
    match s {
        EscalationState::Open => T::StateOpen,
        EscalationState::Claimed => T::StateClaimed,
        EscalationState::Replied => T::StateReplied,
        EscalationState::Closed => T::StateClosed,
    }
}

pub fn esc_kind(k: EscalationKind) -> T {
    match k {
        EscalationKind::TransferCallback => T::KindTransferCallback,
        EscalationKind::Complaint => T::KindComplaint,
        EscalationKind::Dissatisfied => T::KindDissatisfied,
        EscalationKind::NotFixed => T::KindNotFixed,
        EscalationKind::Appointment => T::KindAppointment,
        EscalationKind::SurveyAnswer => T::KindSurveyAnswer,
        EscalationKind::Unreached => T::KindUnreached,
        EscalationKind::Breached => T::KindBreached,
    }
}

pub fn callback_state(s: CallbackState) -> T {
    match s {
        CallbackState::Pending => T::CbPending,
        CallbackState::Dialing => T::CbDialing,
        CallbackState::Done => T::CbDone,
        CallbackState::Cancelled => T::CbCancelled,
    }
}

pub fn attempt_state(s: AttemptState) -> T {
    match s {
        AttemptState::Requesting => T::AttemptRequesting,
        AttemptState::Placed => T::AttemptPlaced,
        AttemptState::Unclear => T::AttemptUnclear,
        AttemptState::Ended => T::AttemptEnded,
    }
}

pub fn campaign_state(s: CampaignState) -> T {
    match s {
        CampaignState::Draft => T::CampaignDraft,
        CampaignState::Running => T::CampaignRunning,
        CampaignState::Paused => T::CampaignPaused,
        CampaignState::Finished => T::CampaignFinished,
    }
}

/// What a case is about, in the agent's language. The summaries the hotline stores are
/// English; a case it raised itself (from a ticket, a survey follow-up or a call) is described
/// in Chinese from its facts, and one a back-office system raised keeps the words it was given.
pub fn case_summary(e: &Escalation, l: Locale) -> String {
    cause_summary(e.kind, &e.source, e.ticket_number.as_deref(), &e.summary, l)
}

/// What a cause of kind `kind` from `source` is about, in the agent's language: described
/// from its facts when the hotline raised it, else the summary it was given.
pub fn cause_summary(
    kind: EscalationKind,
    source: &str,
    ticket: Option<&str>,
    summary: &str,
    l: Locale,
) -> String {
    let raised_here = ["ticket:", "followup:", "call:"]
        .iter()
        .any(|p| source.starts_with(p));
    if l == Locale::EnUs || !raised_here {
        return summary.to_string();
    }
    let what = match kind {
        EscalationKind::Complaint => T::SumComplaint,
        EscalationKind::Breached => T::SumBreached,
        EscalationKind::Dissatisfied => T::SumDissatisfied,
        EscalationKind::NotFixed => T::SumNotFixed,
        EscalationKind::Appointment => T::SumAppointment,
        EscalationKind::SurveyAnswer => T::SumSurveyAnswer,
        EscalationKind::Unreached => T::SumUnreached,
        EscalationKind::TransferCallback => T::SumTransferCallback,
    }
    .get(l);
    match (kind, ticket) {
        (EscalationKind::Breached, Some(n)) => format!("{} {n} {what}", T::Ticket.get(l)),
        (_, Some(n)) => format!("{what}（{} {n}）", T::Ticket.get(l)),
        (_, None) => what.to_string(),
    }
}

/// A ticket history entry's kind (`tickets::EVENT_KINDS`); `None` for one unknown here.
pub fn ticket_event(kind: &str) -> Option<T> {
    Some(match kind {
        "opened" => T::TkOpened,
        "assigned" => T::TkAssigned,
        "started" => T::TkStarted,
        "noted" => T::TkNoted,
        "appointment_set" => T::TkAppointmentSet,
        "resolved" => T::TkResolved,
        "closed" => T::TkClosed,
        "cancelled" => T::TkCancelled,
        "reopened" => T::TkReopened,
        "persists" => T::TkPersists,
        "transcribed" => T::TkTranscribed,
        "breached" => T::TkBreached,
        _ => return None,
    })
}

/// An escalation history entry's kind; `None` for one this console does not know (written by
/// a newer instance), shown as stored.
pub fn esc_event(kind: &str) -> Option<T> {
    Some(match kind {
        "opened" => T::EventOpened,
        "claimed" => T::EventClaimed,
        "note" => T::EventNote,
        "reassigned" => T::EventReassigned,
        "call" => T::EventCall,
        "replied" => T::EventReplied,
        "closed" => T::EventClosed,
        "joined" => T::EventJoined,
        "listened" => T::EventListened,
        _ => return None,
    })
}

pub fn via(v: ReplyVia) -> T {
    match v {
        ReplyVia::Phone => T::ViaPhone,
        ReplyVia::Sms => T::ViaSms,
        ReplyVia::Email => T::ViaEmail,
        ReplyVia::Visit => T::ViaVisit,
        ReplyVia::Letter => T::ViaLetter,
    }
}

pub fn ticket_state(s: TicketState) -> T {
    match s {
        TicketState::Open => T::TicketOpen,
        TicketState::Assigned => T::TicketAssigned,
        TicketState::InProgress => T::TicketInProgress,
        TicketState::Resolved => T::TicketResolved,
        TicketState::Closed => T::TicketClosed,
        TicketState::Cancelled => T::TicketCancelled,
        TicketState::Reopened => T::TicketReopened,
    }
}

pub fn ticket_kind(k: TicketKind) -> T {
    match k {
        TicketKind::Fault => T::TicketFault,
        TicketKind::Installation => T::TicketInstallation,
        TicketKind::Move => T::TicketMove,
        TicketKind::Change => T::TicketChange,
        TicketKind::Complaint => T::TicketComplaint,
    }
}

pub fn line_kind(k: crate::customers::LineKind) -> T {
    use crate::customers::LineKind;
    match k {
        LineKind::Phone => T::LinePhone,
        LineKind::Broadband => T::LineBroadband,
        LineKind::Leased => T::LineLeased,
    }
}

/// A call's status as the carrier reports it; `None` for one unknown here.
pub fn call_status(s: &str) -> Option<T> {
    use crate::telephony::CallStatus;
    Some(match CallStatus::parse(s)? {
        CallStatus::Queued => T::CallQueued,
        CallStatus::Initiated => T::CallInitiated,
        CallStatus::Ringing => T::CallRinging,
        CallStatus::InProgress => T::CallInProgress,
        CallStatus::Completed => T::CallCompleted,
        CallStatus::Busy => T::CallBusy,
        CallStatus::NoAnswer => T::CallNoAnswer,
        CallStatus::Failed => T::CallFailed,
        CallStatus::Canceled => T::CallCanceled,
    })
}

pub fn role(r: crate::agents::Role) -> T {
    match r {
        crate::agents::Role::Agent => T::RoleAgent,
        crate::agents::Role::Supervisor => T::RoleSupervisor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_has_both_languages() {
        for t in T::ALL {
            for l in Locale::ALL {
                assert!(!t.get(l).trim().is_empty(), "{t:?} in {}", l.tag());
            }
        }
    }
}
