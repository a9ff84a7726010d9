use super::*;

fn ticket(state: TicketState, deadline: Option<i64>) -> Ticket {
    Ticket {
        account_id: Some(1),
        line_number: Some("+861000".into()),
        deadline_at: deadline,
        ..sample(TicketKind::Fault, state)
    }
}

/// A ticket of `kind` in `state` with nothing else set, for other modules' tests.
pub(crate) fn sample(kind: TicketKind, state: TicketState) -> Ticket {
    Ticket {
        id: 1,
        number: "12345674".into(),
        kind,
        state,
        account_id: None,
        line_number: None,
        line_kind: None,
        customer_class: None,
        channel: Channel::Phone,
        category: None,
        description: String::new(),
        callback_number: None,
        assignee: None,
        opened_at: 0,
        deadline_at: None,
        deadline_estimated: false,
        appointment_at: None,
        resolved_at: None,
        resolution_code: None,
        resolution_note: None,
        closed_at: None,
        breached_at: None,
        recording: None,
        transcript: None,
        origin_call_sid: None,
        address: None,
        updated_at: 0,
    }
}

#[test]
fn the_life_cycle_goes_forward_and_refuses_the_rest() {
    let t = ticket(TicketState::Open, Some(1000));
    let assigned = apply(
        &t,
        &Action::Assign {
            assignee: "tech-7".into(),
            note: None,
        },
        10,
    )
    .expect("assign");
    assert_eq!(assigned.ticket.state, TicketState::Assigned);
    assert_eq!(assigned.ticket.assignee.as_deref(), Some("tech-7"));
    assert_eq!(assigned.from_state, Some(TicketState::Open));
    let started = apply(&assigned.ticket, &Action::Start { note: None }, 20).expect("start");
    let resolved = apply(
        &started.ticket,
        &Action::Resolve {
            code: "fixed".into(),
            note: "replaced the modem".into(),
        },
        30,
    )
    .expect("resolve");
    assert_eq!(resolved.ticket.resolved_at, Some(30));
    assert!(!resolved.ticket.is_breached(5000), "resolved in time");
    let closed = apply(&resolved.ticket, &Action::Close { note: None }, 40).expect("close");
    assert_eq!(closed.ticket.state, TicketState::Closed);

    let err = apply(&closed.ticket, &Action::Reopen { reason: "x".into() }, 50)
        .expect_err("closed is final");
    assert_eq!(
        err.to_string(),
        "ticket 12345674 is closed; it cannot be reopened (it may go to: nothing: it is final)"
    );
    let err = apply(&t, &Action::Close { note: None }, 50).expect_err("open cannot close");
    assert!(
        err.to_string()
            .contains("it may go to: assigned, in_progress, resolved, cancelled"),
        "{err}"
    );
}

#[test]
fn reopening_clears_the_resolution_and_keeps_the_history_in_events() {
    let mut t = ticket(TicketState::Resolved, Some(1000));
    t.resolved_at = Some(500);
    t.resolution_code = Some("fixed".into());
    let reopened = apply(
        &t,
        &Action::Reopen {
            reason: "still no dial tone".into(),
        },
        600,
    )
    .expect("reopen");
    assert_eq!(reopened.ticket.state, TicketState::Reopened);
    assert_eq!(reopened.ticket.resolved_at, None);
    assert_eq!(reopened.detail["reason"], "still no dial tone");
    // Past its deadline and open again: breached.
    assert!(reopened.ticket.is_breached(1001));
}

#[test]
fn breach_is_the_deadline_instant_and_happens_once() {
    let t = ticket(TicketState::Assigned, Some(1000));
    assert!(!t.is_breached(1000), "due at the deadline, not yet late");
    assert!(t.is_breached(1001));
    apply(&t, &Action::Breach, 999).expect_err("not yet due");
    let b = apply(&t, &Action::Breach, 5000).expect("breach");
    assert_eq!(b.ticket.breached_at, Some(1000));
    assert_eq!(
        b.ticket.state,
        TicketState::Assigned,
        "a breach does not move the state"
    );
    apply(&b.ticket, &Action::Breach, 6000).expect_err("only once");
    // Resolved late: breached at the deadline too.
    let late = apply(
        &t,
        &Action::Resolve {
            code: "fixed".into(),
            note: String::new(),
        },
        2000,
    )
    .expect("resolve");
    assert_eq!(late.ticket.breached_at, Some(1000));
    // No deadline, no breach; cancelled, no breach.
    assert!(!ticket(TicketState::Open, None).is_breached(i64::MAX));
    assert!(!ticket(TicketState::Cancelled, Some(1)).is_breached(5));
}

#[test]
fn notes_and_appointments() {
    let t = ticket(TicketState::Open, None);
    let n = apply(
        &t,
        &Action::Note {
            note: "called".into(),
        },
        5,
    )
    .expect("note");
    assert_eq!(n.ticket.state, TicketState::Open);
    assert_eq!(n.to_state, None);
    let a = apply(&t, &Action::Appointment { at: 99 }, 5).expect("appointment");
    assert_eq!(a.ticket.appointment_at, Some(99));
    apply(
        &ticket(TicketState::Closed, None),
        &Action::Appointment { at: 9 },
        5,
    )
    .expect_err("not on a closed ticket");
    apply(&ticket(TicketState::Resolved, None), &Action::Persists, 5)
        .expect_err("a resolved fault cannot persist: reopen it");
}

#[test]
fn numbers_carry_a_check_digit() {
    let mut rng = rand::rng();
    for _ in 0..1000 {
        let n = new_number(&mut rng);
        assert!(is_valid_number(&n), "{n}");
        // Any single mistyped digit is caught.
        for i in 0..8 {
            let mut b = n.clone().into_bytes();
            b[i] = if b[i] == b'9' { b'1' } else { b[i] + 1 };
            let typo = String::from_utf8(b).expect("ascii");
            assert!(!is_valid_number(&typo), "{typo} from {n}");
        }
    }
    assert!(is_valid_number("12345674"));
    assert!(!is_valid_number("1234567"));
    assert!(!is_valid_number("02345674"));
    assert!(!is_valid_number("1234567a"));
}
