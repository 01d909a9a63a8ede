//! The runtime's own supervision trees, tested with panics injected on purpose
//! (`TASKFORCE_TEST_PANIC`, test-only) into the center's scheduler, a worker's peer
//! service and the center's sessions with workers: each time the cluster recovers and
//! finishes a 1,000-task map with the right answer. Services show in the tree under their
//! group's supervisor, with their restarts.
//!
//! Processes re-run this test binary (so they carry its `#[remote]` functions); a custom
//! test main (libtest-mimic) lets it serve as a center or a worker.

use std::process::Command;
use std::time::{Duration, Instant};

mod support;

use libtest_mimic::{Arguments, Failed, Trial};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::{started_at, taskforce_bin, Proc, PATIENCE};
use taskforce::messages::tree::TreeNode;
use taskforce::{remote, Executor, Restart};

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

#[remote]
fn add(x: i64, y: i64) -> i64 {
    x + y
}

#[remote]
fn sum_all(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

/// A service to find in the tree.
#[taskforce::service]
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Tally {
    n: u64,
}

#[taskforce::service]
impl Tally {
    pub fn bump(&mut self) -> u64 {
        self.n += 1;
        self.n
    }

    pub fn boom(&mut self) -> u64 {
        panic!("tally boom")
    }
}

/// A center and two workers (each under its nanny) of this binary, with `center_env` and
/// `worker_env` added to their environments.
struct Cluster {
    center: Proc,
    addr: String,
    workers: Vec<Proc>,
}

fn cluster(center_env: &[(&str, &str)], worker_env: &[(&str, &str)]) -> Cluster {
    let exe = std::env::current_exe().expect("test binary");
    let args = ["center", "--host", "127.0.0.1", "--port", "0"];
    let center = Proc::start_with_env(&exe, "center", &args, center_env);
    let addr = started_at(&center.wait_for("Start center at "));
    let workers = ["w1", "w2"]
        .iter()
        .map(|name| {
            let args = ["worker", &addr, "--host", "127.0.0.1", "--nthreads", "2"];
            let worker = Proc::start_with_env(&exe, name, &args, worker_env);
            worker.wait_for("Registered with center at");
            worker
        })
        .collect();
    Cluster {
        center,
        addr,
        workers,
    }
}

/// `inc` over 0..1000, summed on the cluster: 500,500 when every task ran right.
fn map_sum(executor: &Executor) -> taskforce::Result<i64> {
    let xs = executor.map(inc, 0..1000_i64)?;
    executor.submit(sum_all, (&xs,))?.result()
}

/// The same map, reduced pairwise so values move between workers many times.
fn map_tree_sum(executor: &Executor) -> taskforce::Result<i64> {
    let mut layer = executor.map(inc, 0..1000_i64)?;
    while layer.len() > 1 {
        layer = layer
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => executor.submit(add, (a, b)),
                [a] => Ok(a.clone()),
                _ => unreachable!("chunks of two"),
            })
            .collect::<taskforce::Result<Vec<_>>>()?;
    }
    layer[0].result()
}

/// Polls `cluster_info` until the trees satisfy `condition`.
fn wait_for_tree(
    executor: &Executor,
    condition: impl Fn(&[TreeNode]) -> bool,
) -> Result<Vec<TreeNode>, Failed> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let tree = executor.cluster_info()?.tree;
        if condition(&tree) {
            return Ok(tree);
        }
        let late = format!("the tree never got there: {tree:#?}");
        check(Instant::now() < deadline, &late)?;
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether a node named `name` in `trees` was restarted, its last exit containing `cause`.
fn restarted(trees: &[TreeNode], name: &str, cause: &str) -> bool {
    fn walk(node: &TreeNode, name: &str, cause: &str) -> bool {
        let here = node.name == name
            && node.restarts >= 1
            && node.last_exit.as_deref().is_some_and(|e| e.contains(cause));
        here || node.children.iter().any(|c| walk(c, name, cause))
    }
    trees.iter().any(|t| walk(t, name, cause))
}

/// `taskforce status ADDR`'s standard output.
fn status(addr: &str) -> Result<String, Failed> {
    let out = Command::new(taskforce_bin())
        .args(["status", addr])
        .env("RUST_LOG", "warn")
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    check(out.status.success(), &format!("status failed: {stderr}"))?;
    Ok(String::from_utf8(out.stdout)?)
}

fn check(condition: bool, what: &str) -> Result<(), Failed> {
    match condition {
        true => Ok(()),
        false => Err(what.into()),
    }
}

/// A panic in the center's session with a worker closes only that connection: the center
/// hears of it (the worker leaves, its tasks go elsewhere), the worker registers again,
/// and the map finishes.
fn session_panic_closes_only_its_connection() -> Result<(), Failed> {
    let env = [("TASKFORCE_TEST_PANIC", "session/WorkerToCenter:after=40")];
    let cluster = cluster(&env, &[]);
    let executor = Executor::connect(&cluster.addr)?;
    let during = map_sum(&executor)?;
    check(
        during == 500_500,
        &format!("the map during the panic gave {during}"),
    )?;
    cluster
        .center
        .wait_for("session panicked: injected test panic at session/WorkerToCenter");
    cluster.center.wait_for_nth("Register worker", 3, PATIENCE);
    let after = map_sum(&executor)?;
    check(
        after == 500_500,
        &format!("the map after the panic gave {after}"),
    )?;
    Ok(())
}

/// A panic in a worker's peer service restarts that service alone: no worker process
/// restarts, no worker registers again, and every map gives the right answer.
fn peer_service_panic_restarts_only_the_service() -> Result<(), Failed> {
    let env = [("TASKFORCE_TEST_PANIC", "peer-service:after=1")];
    let cluster = cluster(&[], &env);
    let executor = Executor::connect(&cluster.addr)?;
    let deadline = Instant::now() + PATIENCE;
    let panicked = |c: &Cluster| {
        c.workers
            .iter()
            .any(|w| w.count("injected test panic at peer-service") > 0)
    };
    while !panicked(&cluster) {
        check(
            Instant::now() < deadline,
            "no value ever moved between workers",
        )?;
        let total = map_tree_sum(&executor)?;
        check(total == 500_500, &format!("a tree sum gave {total}"))?;
    }
    let total = map_tree_sum(&executor)?;
    check(
        total == 500_500,
        &format!("the tree sum after the panic gave {total}"),
    )?;
    let cause = "injected test panic at peer-service";
    wait_for_tree(&executor, |trees| restarted(trees, "peer-service", cause))?;
    check(
        cluster.center.count("Register worker") == 2,
        "a worker registered again: its process restarted instead of its peer service",
    )?;
    Ok(())
}

/// A panic in a worker actor, whose values no restart could rebuild, ends its process
/// with status 1 (never a live process that is deaf); the nanny starts a fresh worker and
/// the map finishes with the right answer.
fn worker_panic_ends_the_process_and_its_nanny_restarts_it() -> Result<(), Failed> {
    let env = [("TASKFORCE_TEST_PANIC", "worker:after=20")];
    let cluster = cluster(&[], &env);
    let executor = Executor::connect(&cluster.addr)?;
    let deadline = Instant::now() + PATIENCE;
    while cluster.center.count("Nanny reports its worker process") == 0 {
        check(Instant::now() < deadline, "no worker process ended")?;
        let total = map_sum(&executor)?;
        check(total == 500_500, &format!("a map gave {total}"))?;
    }
    let report = cluster.center.wait_for("Nanny reports its worker process");
    check(
        report.contains("status 1"),
        &format!("the nanny's report: {report}"),
    )?;
    let gave_up = "Worker gave up: failed: reached maximum restart intensity";
    check(
        cluster.workers.iter().any(|w| w.count(gave_up) > 0),
        "no worker logged why it gave up",
    )?;
    let total = map_sum(&executor)?;
    check(total == 500_500, &format!("the map after gave {total}"))?;
    Ok(())
}

/// A panic in the scheduler restarts the center's tree in place (one for all): the port
/// stays bound, workers register again, and an executor that connects then finishes the
/// map. The executor connected during the panic reconnects to the restarted center and
/// finishes its map with the right answer too.
fn scheduler_panic_restarts_the_center_tree() -> Result<(), Failed> {
    let env = [("TASKFORCE_TEST_PANIC", "scheduler:after=20")];
    let cluster = cluster(&env, &[]);
    let panicked = "injected test panic at scheduler";
    let deadline = Instant::now() + PATIENCE;
    // Maps until one meets the panic (how many task reports a map takes varies with
    // batching, so the 20th may come in the first map or a later one).
    while cluster.center.count(panicked) == 0 {
        check(Instant::now() < deadline, "the scheduler never panicked")?;
        let during = Executor::connect(&cluster.addr)?;
        // The executor connected through the panic reconnects to the restarted center
        // and finishes its map: an error here is a failure.
        let total = map_sum(&during)?;
        check(total == 500_500, &format!("a map gave {total}"))?;
    }
    cluster.center.wait_for_nth("Register worker", 4, PATIENCE);
    let after = Executor::connect(&cluster.addr)?;
    let total = map_sum(&after)?;
    check(
        total == 500_500,
        &format!("the map after the restart gave {total}"),
    )?;
    check(
        cluster.center.count("Nanny reports its worker process") == 0,
        "a worker process died",
    )?;
    let drawn = status(&cluster.addr)?;
    eprintln!("taskforce status after the scheduler's panic:\n{drawn}");
    let line = drawn
        .lines()
        .find(|line| line.contains("── scheduler"))
        .ok_or_else(|| format!("no scheduler in the status:\n{drawn}"))?;
    check(
        line.contains("restarts=1") && line.contains("injected test panic at scheduler"),
        &format!("the scheduler's line: {line}"),
    )?;
    Ok(())
}

/// Past its restart intensity (3 in 60 s) the center's tree gives up: the process exits
/// with status 1 and the reason logged, rather than staying up but deaf.
fn center_past_its_intensity_exits_naming_the_cause() -> Result<(), Failed> {
    let armed = "scheduler:after=1,scheduler:after=2,scheduler:after=3,scheduler:after=4";
    let mut cluster = cluster(&[("TASKFORCE_TEST_PANIC", armed)], &[]);
    let deadline = Instant::now() + PATIENCE;
    while cluster.center.count("Center gave up") == 0 {
        check(Instant::now() < deadline, "the center never gave up")?;
        // Each restart closes this executor's connection: its errors are expected here.
        if let Ok(executor) = Executor::connect(&cluster.addr) {
            let _ = executor.submit(inc, (1,)).and_then(|f| f.result());
        }
    }
    let code = cluster.center.wait_exit(PATIENCE);
    check(code == Some(1), &format!("the center exited with {code:?}"))?;
    let line = cluster.center.wait_for("Center gave up");
    check(
        line.contains("reached maximum restart intensity (3 restarts in 60s)")
            && line.contains("injected test panic at scheduler"),
        &format!("the last words: {line}"),
    )?;
    Ok(())
}

/// Two nannies, each with its worker (and the worker's own tree) under it, one of them
/// having restarted its worker after a signal.
fn nanny_restarted_after_a_kill(trees: &[TreeNode]) -> bool {
    let nannies: Vec<&TreeNode> = trees
        .iter()
        .filter(|t| t.name.starts_with("nanny "))
        .collect();
    let each_with_its_worker = nannies
        .iter()
        .all(|n| n.children.len() == 1 && !n.children[0].children.is_empty());
    let one_restarted = nannies.iter().any(|n| {
        n.restarts == 1
            && n.last_exit
                .as_deref()
                .is_some_and(|e| e.contains("SIGKILL"))
    });
    nannies.len() == 2 && each_with_its_worker && one_restarted
}

/// `taskforce status` draws the whole cluster: the center's tree, each nanny with its
/// worker (and the worker's own tree) under it; a worker process killed by a signal shows
/// as its nanny's restart, with the signal as the last exit.
fn status_draws_the_whole_cluster() -> Result<(), Failed> {
    let cluster = cluster(&[], &[]);
    let executor = Executor::connect(&cluster.addr)?;
    let before = executor.cluster_info()?;
    check(before.workers.len() == 2, "two workers")?;
    kill(Pid::from_raw(before.workers[0].pid as i32), Signal::SIGKILL)?;
    wait_for_tree(&executor, nanny_restarted_after_a_kill)?;
    let drawn = status(&cluster.addr)?;
    for expected in [
        "center  running\n",
        "├── scheduler  running\n",
        "├── center  running\n",
        "└── listener  running\n",
        "└── worker 127.0.0.1:",
        "    ├── worker  running\n",
        "    └── peers  running\n",
        "        ├── peer-service  running\n",
        "        └── listener  running\n",
        "restarts=1",
        "SIGKILL",
        "workers: 2,",
    ] {
        let missing = format!("no {expected:?} in the status:\n{drawn}");
        check(drawn.contains(expected), &missing)?;
    }
    Ok(())
}

/// The node of the service named `name` (drawn `name (its type)`), anywhere in `trees`.
fn service_node<'a>(trees: &'a [TreeNode], name: &str) -> Option<&'a TreeNode> {
    fn walk<'a>(node: &'a TreeNode, prefix: &str) -> Option<&'a TreeNode> {
        if node.name.starts_with(prefix) && node.name.ends_with("Tally)") {
            return Some(node);
        }
        node.children.iter().find_map(|c| walk(c, prefix))
    }
    let prefix = format!("{name} (");
    trees.iter().find_map(|t| walk(t, &prefix))
}

/// A spawned service shows in `cluster_info().tree` and `taskforce status` under its
/// group's supervisor, in its worker's `services`; after a panic, with one restart and the
/// panic as its last exit.
fn services_show_under_their_supervisors() -> Result<(), Failed> {
    let cluster = cluster(&[], &[]);
    let executor = Executor::connect(&cluster.addr)?;
    let policy = Restart::one_for_one().max_restarts(5, Duration::from_secs(60));
    let tally = executor.spawn_named_service("tally", Tally::default(), policy)?;
    check(tally.call(Bump)? == 1, "one bump")?;
    let trees = wait_for_tree(&executor, |t| service_node(t, "tally").is_some())?;
    let node = service_node(&trees, "tally").expect("found above");
    check(
        node.status == "running" && node.restarts == 0,
        &format!("a fresh service: {node:?}"),
    )?;
    let drawn = status(&cluster.addr)?;
    for expected in [
        "── services  running
",
        "── service group svc-",
        "── tally (",
    ] {
        let missing = format!("no {expected:?} in the status:\n{drawn}");
        check(drawn.contains(expected), &missing)?;
    }
    check(tally.call(Boom).is_err(), "a panicking call fails")?;
    let trees = wait_for_tree(&executor, |t| {
        service_node(t, "tally").is_some_and(|n| n.restarts == 1)
    })?;
    let node = service_node(&trees, "tally").expect("found above");
    check(
        node.last_exit
            .as_deref()
            .is_some_and(|e| e.contains("tally boom")),
        &format!("the last exit names the panic: {node:?}"),
    )?;
    check(tally.call(Bump)? == 1, "restarted from its initial state")?;
    let drawn = status(&cluster.addr)?;
    eprintln!("taskforce status with a restarted service:\n{drawn}");
    let line = drawn
        .lines()
        .find(|line| line.contains("── tally ("))
        .ok_or_else(|| format!("no tally in the status:\n{drawn}"))?;
    check(
        line.contains("restarts=1") && line.contains("tally boom"),
        &format!("the service's line: {line}"),
    )?;
    Ok(())
}

fn main() {
    if support::serve_role_if_asked() {
        return;
    }
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test(
            "session_panic_closes_only_its_connection",
            session_panic_closes_only_its_connection,
        ),
        Trial::test(
            "peer_service_panic_restarts_only_the_service",
            peer_service_panic_restarts_only_the_service,
        ),
        Trial::test(
            "scheduler_panic_restarts_the_center_tree",
            scheduler_panic_restarts_the_center_tree,
        ),
        Trial::test(
            "worker_panic_ends_the_process_and_its_nanny_restarts_it",
            worker_panic_ends_the_process_and_its_nanny_restarts_it,
        ),
        Trial::test(
            "center_past_its_intensity_exits_naming_the_cause",
            center_past_its_intensity_exits_naming_the_cause,
        ),
        Trial::test(
            "status_draws_the_whole_cluster",
            status_draws_the_whole_cluster,
        ),
        Trial::test(
            "services_show_under_their_supervisors",
            services_show_under_their_supervisors,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
