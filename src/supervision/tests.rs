//! Strategies, restart types and intensity, with an injected clock.

use std::time::{Duration, Instant};

use super::*;

fn core(strategy: Strategy, types: &[RestartType]) -> SupervisorCore {
    let children = types
        .iter()
        .enumerate()
        .map(|(n, &restart)| ChildInfo::new(format!("c{n}"), restart))
        .collect();
    let mut core = SupervisorCore::new(
        strategy,
        Intensity::new(3, Duration::from_secs(5)),
        children,
    );
    assert_eq!(core.start_all().len(), types.len());
    core
}

fn panicked() -> ExitReason {
    ExitReason::Panicked("boom".into())
}

use Command::{Start, Stop};
use RestartType::{Permanent, Temporary, Transient};

#[test]
fn starts_children_in_order_and_shuts_down_in_reverse() {
    let mut core = core(Strategy::OneForOne, &[Permanent, Permanent, Permanent]);
    assert_eq!(core.shutdown(), vec![Stop(2), Stop(1), Stop(0)]);
    assert!(core
        .children()
        .all(|(_, status, _, _)| *status == ChildStatus::Exited(ExitReason::Shutdown)));
}

#[test]
fn one_for_one_restarts_only_the_child_that_exited() {
    let mut core = core(Strategy::OneForOne, &[Permanent, Permanent, Permanent]);
    assert_eq!(
        core.on_child_exited(1, panicked(), Instant::now()),
        vec![Start(1)]
    );
    let restarts: Vec<u32> = core.children().map(|(_, _, n, _)| n).collect();
    assert_eq!(restarts, vec![0, 1, 0]);
}

#[test]
fn one_for_all_stops_the_others_in_reverse_then_starts_all_in_order() {
    let mut core = core(Strategy::OneForAll, &[Permanent, Permanent, Permanent]);
    let commands = core.on_child_exited(1, panicked(), Instant::now());
    assert_eq!(
        commands,
        vec![Stop(2), Stop(0), Start(0), Start(1), Start(2)]
    );
}

#[test]
fn rest_for_one_restarts_the_child_and_those_started_after_it() {
    let mut core = core(
        Strategy::RestForOne,
        &[Permanent, Permanent, Permanent, Permanent],
    );
    let commands = core.on_child_exited(1, panicked(), Instant::now());
    assert_eq!(
        commands,
        vec![Stop(3), Stop(2), Start(1), Start(2), Start(3)]
    );
}

#[test]
fn transient_children_restart_only_after_an_abnormal_exit() {
    let mut core = core(Strategy::OneForOne, &[Transient, Transient]);
    let now = Instant::now();
    assert_eq!(core.on_child_exited(0, ExitReason::Normal, now), vec![]);
    assert_eq!(
        core.on_child_exited(1, ExitReason::Failed("disk".into()), now),
        vec![Start(1)]
    );
    let statuses: Vec<ChildStatus> = core.children().map(|(_, s, _, _)| s.clone()).collect();
    assert_eq!(
        statuses,
        vec![
            ChildStatus::Exited(ExitReason::Normal),
            ChildStatus::Running
        ]
    );
}

#[test]
fn temporary_children_are_never_restarted_even_by_a_sibling() {
    let mut core = core(Strategy::OneForAll, &[Permanent, Temporary, Permanent]);
    let commands = core.on_child_exited(0, panicked(), Instant::now());
    assert_eq!(commands, vec![Stop(2), Stop(1), Start(0), Start(2)]);
    let (_, status, _, _) = core.children().nth(1).expect("child 1");
    assert_eq!(*status, ChildStatus::Removed);
    assert_eq!(core.on_child_exited(1, panicked(), Instant::now()), vec![]);
}

#[test]
fn exceeding_intensity_stops_everything_and_escalates_naming_the_cause() {
    let mut core = core(Strategy::OneForOne, &[Permanent, Permanent]);
    let start = Instant::now();
    for n in 0..3 {
        let at = start + Duration::from_secs(n);
        assert_eq!(core.on_child_exited(0, panicked(), at), vec![Start(0)]);
    }
    let commands = core.on_child_exited(0, panicked(), start + Duration::from_secs(3));
    assert_eq!(commands.len(), 2);
    assert_eq!(commands[0], Stop(1));
    let Command::Escalate(ExitReason::Failed(cause)) = &commands[1] else {
        panic!("expected escalation, got {commands:?}");
    };
    assert!(cause.contains("3 restarts in 5s"), "{cause}");
    assert!(cause.contains("child 'c0' panicked: boom"), "{cause}");
    assert!(core.gave_up().is_some());
    assert_eq!(core.on_child_exited(1, panicked(), start), vec![]);
}

#[test]
fn restarts_older_than_the_window_do_not_count() {
    let mut core = core(Strategy::OneForOne, &[Permanent]);
    let start = Instant::now();
    for n in 0..20 {
        let at = start + Duration::from_secs(2 * n);
        assert_eq!(
            core.on_child_exited(0, panicked(), at),
            vec![Start(0)],
            "restart {n}"
        );
    }
    assert!(core.gave_up().is_none());
}

#[test]
fn zero_intensity_gives_up_on_the_first_restart() {
    let children = vec![ChildInfo::new("only", Permanent)];
    let mut core = SupervisorCore::new(
        Strategy::OneForOne,
        Intensity::new(0, Duration::from_secs(1)),
        children,
    );
    core.start_all();
    let commands = core.on_child_exited(0, ExitReason::Failed("x".into()), Instant::now());
    assert!(
        matches!(commands.as_slice(), [Command::Escalate(_)]),
        "{commands:?}"
    );
}

#[test]
fn an_added_child_starts_at_once_and_is_supervised_like_the_others() {
    let mut core = core(Strategy::RestForOne, &[Permanent]);
    let (index, commands) = core.add_child(ChildInfo::new("late", Permanent));
    assert_eq!((index, commands), (1, vec![Start(1)]));
    assert_eq!(
        core.on_child_exited(0, panicked(), Instant::now()),
        vec![Stop(1), Start(0), Start(1)]
    );
}
