use super::*;
use crate::prompts::Locale;

fn agent(login: &str, role: Role) -> Agent {
    Agent {
        id: 1,
        login: login.into(),
        name: login.into(),
        role,
        phone: None,
        locale: Locale::ZhCn,
        active: true,
        password_hash: String::new(),
        failed_logins: 0,
        locked_until: None,
        created_at: 0,
    }
}

fn open() -> Escalation {
    let n = NewEscalation::new(
        EscalationKind::Complaint,
        "ticket:1:complaint".into(),
        "s".into(),
        0,
    );
    Escalation {
        id: 7,
        kind: n.kind,
        state: EscalationState::Open,
        priority: n.priority,
        source: n.source,
        account_id: None,
        ticket_id: Some(1),
        ticket_number: Some("12345674".into()),
        callback_id: None,
        call_sid: None,
        answer: None,
        callback_number: None,
        summary: n.summary,
        owner: None,
        due_at: n.due_at,
        queued_at: 0,
        created_at: 0,
        updated_at: 0,
        claimed_at: None,
        replied_at: None,
        closed_at: None,
        reply: None,
        reply_via: None,
        version: 1,
    }
}

fn reply() -> EscAction {
    EscAction::Reply {
        text: "Refunded the charge".into(),
        via: ReplyVia::Phone,
    }
}

#[test]
fn the_claimer_owns_it_through_reply_and_close() {
    let li = agent("li", Role::Agent);
    let c = apply(&open(), None, &li, &EscAction::Claim, 10).unwrap();
    let e = c.escalation;
    assert_eq!(
        (e.state, e.owner.as_deref(), e.version),
        (EscalationState::Claimed, Some("li"), 2)
    );
    assert_eq!(c.from_version, 1);
    let e = apply(&e, None, &li, &reply(), 20).unwrap().escalation;
    assert_eq!(e.state, EscalationState::Replied);
    assert_eq!(e.reply_via, Some(ReplyVia::Phone));
    let e = apply(&e, None, &li, &EscAction::Close { note: "".into() }, 30)
        .unwrap()
        .escalation;
    assert_eq!((e.state, e.closed_at), (EscalationState::Closed, Some(30)));
    assert_eq!(
        apply(&e, None, &li, &EscAction::Note { text: "x".into() }, 40),
        Err(EscError::Closed { id: 7 })
    );
}

#[test]
fn others_cannot_work_or_claim_what_is_owned() {
    let li = agent("li", Role::Agent);
    let wang = agent("wang", Role::Agent);
    let e = apply(&open(), None, &li, &EscAction::Claim, 10)
        .unwrap()
        .escalation;
    assert_eq!(
        apply(&e, None, &wang, &EscAction::Claim, 11),
        Err(EscError::AlreadyClaimed {
            id: 7,
            owner: "li".into()
        })
    );
    let err = apply(&e, None, &wang, &reply(), 11).unwrap_err();
    assert_eq!(
        err.to_string(),
        "escalation 7 is owned by li: only they or a supervisor may work it"
    );
    assert_eq!(
        apply(&open(), None, &wang, &reply(), 11),
        Err(EscError::Unclaimed { id: 7 })
    );
    assert_eq!(
        apply(
            &e,
            None,
            &wang,
            &EscAction::Reassign {
                to: "wang".into(),
                reason: "r".into()
            },
            11
        ),
        Err(EscError::NotSupervisor)
    );
}

#[test]
fn supervisors_reassign_with_a_reason() {
    let li = agent("li", Role::Agent);
    let boss = agent("zhang", Role::Supervisor);
    let e = apply(&open(), None, &li, &EscAction::Claim, 10)
        .unwrap()
        .escalation;
    let to_wang = |reason: &str| EscAction::Reassign {
        to: "wang".into(),
        reason: reason.into(),
    };
    assert_eq!(
        apply(&e, None, &boss, &to_wang("  "), 11),
        Err(EscError::Missing("reason"))
    );
    let c = apply(&e, None, &boss, &to_wang("li is on leave"), 11).unwrap();
    assert_eq!(c.escalation.owner.as_deref(), Some("wang"));
    assert_eq!(c.detail, "from li to wang: li is on leave");
    // The former owner can no longer work it.
    assert!(matches!(
        apply(&c.escalation, None, &li, &reply(), 12),
        Err(EscError::NotOwner { .. })
    ));
}

#[test]
fn closing_needs_a_recorded_reply() {
    let li = agent("li", Role::Agent);
    let e = apply(&open(), None, &li, &EscAction::Claim, 10)
        .unwrap()
        .escalation;
    assert_eq!(
        apply(
            &e,
            None,
            &li,
            &EscAction::Close {
                note: "done".into()
            },
            11
        ),
        Err(EscError::NoReply { id: 7 })
    );
    let empty = EscAction::Reply {
        text: " ".into(),
        via: ReplyVia::Sms,
    };
    assert_eq!(
        apply(&e, None, &li, &empty, 11),
        Err(EscError::Missing("reply"))
    );
    let long = EscAction::Note {
        text: "x".repeat(MAX_TEXT + 1),
    };
    assert_eq!(
        apply(&e, None, &li, &long, 11),
        Err(EscError::TooLong("note"))
    );
}

#[test]
fn flags_and_policy() {
    let e = open();
    assert!(!e.unclaimed(UNCLAIMED_AFTER_MS - 1));
    assert!(e.unclaimed(UNCLAIMED_AFTER_MS));
    assert!(e.overdue(e.due_at + 1) && !e.overdue(e.due_at));
    assert_eq!(e.due_at, 24 * HOUR);
    assert_eq!(
        EscalationKind::of_followup("satisfaction:dissatisfied"),
        EscalationKind::Dissatisfied
    );
    assert_eq!(
        EscalationKind::of_followup("fixed:no"),
        EscalationKind::NotFixed
    );
    assert_eq!(
        EscalationKind::of_followup("confirm:change"),
        EscalationKind::Appointment
    );
    assert_eq!(
        EscalationKind::of_followup("exhausted"),
        EscalationKind::Unreached
    );
}

fn ticket(kind: TicketKind, state: crate::tickets::TicketState) -> Ticket {
    crate::tickets::tests::sample(kind, state)
}

#[test]
fn the_case_and_its_ticket_move_together() {
    use crate::tickets::TicketState as S;
    let li = agent("li", Role::Agent);
    let complaint = ticket(TicketKind::Complaint, S::Open);
    let c = apply(&open(), Some(&complaint), &li, &EscAction::Claim, 10).unwrap();
    assert_eq!(
        c.ticket,
        Some(TicketFollow::Assign {
            ticket_id: 1,
            to: "li".into()
        })
    );
    let e = apply(&c.escalation, Some(&complaint), &li, &reply(), 20)
        .unwrap()
        .escalation;
    let close = EscAction::Close { note: "".into() };
    let c = apply(&e, Some(&complaint), &li, &close, 30).unwrap();
    assert_eq!(
        c.ticket,
        Some(TicketFollow::ResolveComplaint {
            ticket_id: 1,
            reply: "Refunded the charge".into()
        })
    );
    // A complaint already resolved (through the API, say) is left as it is.
    let done = ticket(TicketKind::Complaint, S::Resolved);
    assert_eq!(
        apply(&e, Some(&done), &li, &close, 30).unwrap().ticket,
        None
    );

    // A fault still worked keeps its case open; resolved, the case may close.
    let fault = ticket(TicketKind::Fault, S::InProgress);
    assert_eq!(
        apply(&e, Some(&fault), &li, &close, 30),
        Err(EscError::TicketActive {
            id: 7,
            number: "12345674".into(),
            state: "in_progress"
        })
    );
    let fixed = ticket(TicketKind::Fault, S::Resolved);
    assert!(apply(&e, Some(&fixed), &li, &close, 30).is_ok());
}

#[test]
fn what_the_hotline_writes_into_a_history_reads_back_as_its_facts() {
    let all = [
        (
            "reassigned",
            SystemDetail::Reassigned {
                from: Some("amy".into()),
                to: "bob".into(),
                reason: "amy is on leave: back Monday".into(),
            },
        ),
        (
            "reassigned",
            SystemDetail::Reassigned {
                from: None,
                to: "bob".into(),
                reason: "new".into(),
            },
        ),
        (
            "replied",
            SystemDetail::Replied {
                via: ReplyVia::Sms,
                text: "refund: ¥20".into(),
            },
        ),
        (
            "call",
            SystemDetail::Called {
                agent: "amy".into(),
                number: "+86138****0001".into(),
            },
        ),
        (
            "closed",
            SystemDetail::TicketResolved {
                number: "10000001".into(),
            },
        ),
        (
            "joined",
            SystemDetail::Joined {
                kind: EscalationKind::NotFixed,
                summary: "Not fixed: says so".into(),
            },
        ),
    ];
    for (kind, d) in all {
        let text = d.to_string();
        assert_eq!(SystemDetail::parse(kind, &text), Some(d), "{text}");
    }
    assert_eq!(
        SystemDetail::Reassigned {
            from: Some("amy".into()),
            to: "bob".into(),
            reason: "on leave".into()
        }
        .to_string(),
        "from amy to bob: on leave"
    );
    // What people typed is not mistaken for it.
    assert_eq!(SystemDetail::parse("note", "from amy to bob: x"), None);
    assert_eq!(SystemDetail::parse("closed", "all done"), None);
    assert_eq!(SystemDetail::parse("replied", "by pigeon: hi"), None);
}
