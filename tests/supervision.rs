//! Supervision trees of real actix actors: panics become exit reasons, restarts follow the
//! strategy, shutdown runs in reverse order, and intensity escalates to the parent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use taskforce::actors::supervisor::{
    ChildRef, ChildSpec, ExitSlot, ShutdownSupervisor, StopChild, Supervisor, SupervisorView,
    ViewSupervisor,
};
use taskforce::supervision::{ChildStatus, ExitReason, RestartType, Strategy};

const PATIENCE: Duration = Duration::from_secs(20);

/// An actor that answers `Ping` with its incarnation, panics on `Boom`, and records its stop.
struct Probe {
    name: &'static str,
    incarnation: u32,
    stops: Arc<Mutex<Vec<&'static str>>>,
    obey_stop: bool,
}

impl Actor for Probe {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.stops.lock().unwrap().push(self.name);
    }
}

#[derive(Message)]
#[rtype(result = "u32")]
struct Ping;

#[derive(Message)]
#[rtype(result = "()")]
struct Boom;

impl Handler<Ping> for Probe {
    type Result = u32;
    fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> u32 {
        self.incarnation
    }
}

impl Handler<Boom> for Probe {
    type Result = ();
    fn handle(&mut self, _: Boom, _: &mut Context<Self>) {
        panic!("boom in {}", self.name);
    }
}

impl Handler<StopChild> for Probe {
    type Result = ();
    fn handle(&mut self, _: StopChild, ctx: &mut Context<Self>) {
        if self.obey_stop {
            ctx.stop();
        }
    }
}

type Stops = Arc<Mutex<Vec<&'static str>>>;

fn probe_spec(
    name: &'static str,
    restart: RestartType,
    child: ChildRef<Probe>,
    stops: Stops,
) -> ChildSpec {
    let mut incarnation = 0;
    ChildSpec::actor(name, restart, child, move |_exit: ExitSlot| {
        incarnation += 1;
        Probe {
            name,
            incarnation,
            stops: stops.clone(),
            obey_stop: true,
        }
    })
}

async fn wait_for(
    root: &Addr<Supervisor>,
    what: &str,
    done: impl Fn(&SupervisorView) -> bool,
) -> SupervisorView {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let view = root.send(ViewSupervisor).await.expect("supervisor alive");
        if done(&view) {
            return view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {view:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn incarnation(child: &ChildRef<Probe>) -> u32 {
    child
        .get()
        .expect("started")
        .send(Ping)
        .await
        .expect("child answers")
}

#[actix_rt::test]
async fn a_panicking_child_is_restarted_with_the_panic_as_its_exit_reason() {
    let (a, b) = (ChildRef::default(), ChildRef::default());
    let stops = Stops::default();
    let (root, _task) = Supervisor::builder("root")
        .child(probe_spec(
            "a",
            RestartType::Permanent,
            a.clone(),
            stops.clone(),
        ))
        .child(probe_spec(
            "b",
            RestartType::Permanent,
            b.clone(),
            stops.clone(),
        ))
        .build()
        .start_root();
    wait_for(&root, "start", |v| {
        v.children.iter().all(|c| c.status == ChildStatus::Running)
    })
    .await;
    assert_eq!(incarnation(&a).await, 1);
    a.get().unwrap().do_send(Boom);
    let view = wait_for(&root, "restart of a", |v| v.children[0].restarts == 1).await;
    assert_eq!(
        view.children[0].last_exit,
        Some(ExitReason::Panicked("boom in a".into()))
    );
    assert_eq!(view.children[1].restarts, 0, "one-for-one leaves b alone");
    assert_eq!(incarnation(&a).await, 2);
    assert_eq!(incarnation(&b).await, 1);
}

#[actix_rt::test]
async fn one_for_all_restarts_every_child_and_shutdown_stops_in_reverse_order() {
    let refs: Vec<ChildRef<Probe>> = (0..3).map(|_| ChildRef::default()).collect();
    let stops = Stops::default();
    let mut builder = Supervisor::builder("group").strategy(Strategy::OneForAll);
    for (name, child) in ["reader", "transformer", "sink"].into_iter().zip(&refs) {
        builder = builder.child(probe_spec(
            name,
            RestartType::Permanent,
            child.clone(),
            stops.clone(),
        ));
    }
    let (root, task) = builder.build().start_root();
    wait_for(&root, "start", |v| {
        v.children.iter().all(|c| c.status == ChildStatus::Running)
    })
    .await;
    refs[1].get().unwrap().do_send(Boom);
    wait_for(&root, "group restart", |v| {
        v.children.iter().all(|c| c.restarts == 1)
    })
    .await;
    for child in &refs {
        assert_eq!(incarnation(child).await, 2);
    }
    assert_eq!(
        *stops.lock().unwrap(),
        vec!["transformer", "sink", "reader"]
    );
    stops.lock().unwrap().clear();
    root.do_send(ShutdownSupervisor);
    let reason = tokio::time::timeout(PATIENCE, task.exited())
        .await
        .expect("stops");
    assert_eq!(reason, ExitReason::Shutdown);
    assert_eq!(
        *stops.lock().unwrap(),
        vec!["sink", "transformer", "reader"]
    );
}

#[actix_rt::test]
async fn past_its_intensity_a_supervisor_escalates_to_its_parent() {
    let worker = ChildRef::default();
    let stops = Stops::default();
    let inner_spec = {
        let (worker, stops) = (worker.clone(), stops.clone());
        ChildSpec::supervisor("inner", RestartType::Permanent, move || {
            Supervisor::builder("inner")
                .intensity(0, Duration::from_secs(60))
                .child(probe_spec(
                    "worker",
                    RestartType::Permanent,
                    worker.clone(),
                    stops.clone(),
                ))
                .build()
        })
    };
    let (root, _task) = Supervisor::builder("root")
        .child(inner_spec)
        .build()
        .start_root();
    wait_for(&root, "start", |v| {
        v.children[0].status == ChildStatus::Running
    })
    .await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while worker.get().is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "inner never started its child"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let first = worker.get().unwrap();
    first.do_send(Boom);
    let view = wait_for(&root, "escalation", |v| v.children[0].restarts == 1).await;
    let Some(ExitReason::Failed(cause)) = &view.children[0].last_exit else {
        panic!("expected the inner supervisor to fail: {view:?}");
    };
    assert!(
        cause.contains("reached maximum restart intensity"),
        "{cause}"
    );
    assert!(
        cause.contains("child 'worker' panicked: boom in worker"),
        "{cause}"
    );
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while worker.get().is_some_and(|addr| addr == first) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the subtree was not restarted"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        incarnation(&worker).await,
        1,
        "a fresh subtree builds a fresh child"
    );
}

#[actix_rt::test]
async fn a_root_past_its_intensity_ends_naming_the_cause() {
    let child = ChildRef::default();
    let (root, task) = Supervisor::builder("root")
        .intensity(1, Duration::from_secs(60))
        .child(probe_spec(
            "flaky",
            RestartType::Permanent,
            child.clone(),
            Stops::default(),
        ))
        .build()
        .start_root();
    wait_for(&root, "start", |v| {
        v.children[0].status == ChildStatus::Running
    })
    .await;
    child.get().unwrap().do_send(Boom);
    wait_for(&root, "first restart", |v| v.children[0].restarts == 1).await;
    child.get().unwrap().do_send(Boom);
    let reason = tokio::time::timeout(PATIENCE, task.exited())
        .await
        .expect("ends");
    let ExitReason::Failed(cause) = reason else {
        panic!("expected a failure, got {reason:?}");
    };
    assert!(cause.contains("1 restarts in 60s"), "{cause}");
}

#[actix_rt::test]
async fn a_child_that_ignores_stop_is_aborted_after_its_timeout() {
    let child = ChildRef::<Probe>::default();
    let stops = Stops::default();
    let spec = {
        let stops = stops.clone();
        ChildSpec::actor(
            "stubborn",
            RestartType::Permanent,
            child.clone(),
            move |_| Probe {
                name: "stubborn",
                incarnation: 1,
                stops: stops.clone(),
                obey_stop: false,
            },
        )
        .shutdown_timeout(Duration::from_millis(50))
    };
    let (root, task) = Supervisor::builder("root").child(spec).build().start_root();
    wait_for(&root, "start", |v| {
        v.children[0].status == ChildStatus::Running
    })
    .await;
    root.do_send(ShutdownSupervisor);
    let reason = tokio::time::timeout(PATIENCE, task.exited())
        .await
        .expect("ends");
    assert_eq!(reason, ExitReason::Shutdown);
    // actix runs the lifecycle hooks of an actor whose task is dropped.
    assert_eq!(*stops.lock().unwrap(), vec!["stubborn"]);
    assert!(
        child.get().unwrap().send(Ping).await.is_err(),
        "its mailbox is closed"
    );
}

#[actix_rt::test]
async fn a_failed_start_counts_as_an_abnormal_exit() {
    let attempts = Arc::new(Mutex::new(0));
    let spec = {
        let attempts = attempts.clone();
        ChildSpec::new("broken", RestartType::Permanent, move || {
            *attempts.lock().unwrap() += 1;
            Err("no such file".to_string())
        })
    };
    let (_root, task) = Supervisor::builder("root")
        .intensity(2, Duration::from_secs(60))
        .child(spec)
        .build()
        .start_root();
    let reason = tokio::time::timeout(PATIENCE, task.exited())
        .await
        .expect("ends");
    let ExitReason::Failed(cause) = reason else {
        panic!("expected a failure, got {reason:?}");
    };
    assert!(cause.contains("could not start: no such file"), "{cause}");
    assert_eq!(
        *attempts.lock().unwrap(),
        3,
        "the first start and two restarts"
    );
}
