//! Restrictions and resources on a real cluster started from the command line with this
//! test binary as center and workers: tasks asking for a GPU run only on the worker started
//! with `--resources GPU=1`, one at a time; a task restricted to a worker not connected
//! waits, visibly, until that worker joins; bad resources are refused with the reason; tasks
//! all sent to the holder of their input are shared with an idle worker (work stealing).
//!
//! A custom test main (libtest-mimic) lets the same binary serve as a worker.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod support;

use libtest_mimic::{Arguments, Failed, Trial};
use support::{check, program_cluster, Proc, PATIENCE};
use taskforce::resources::ResourceError;
use taskforce::{remote, Error, Executor, SubmitOptions};

/// The `--name` this worker process was started with ("?" without one).
fn worker_name() -> String {
    let args: Vec<String> = std::env::args().collect();
    for (at, arg) in args.iter().enumerate() {
        if let Some(name) = arg.strip_prefix("--name=") {
            return name.to_string();
        }
        if arg == "--name" {
            return args.get(at + 1).cloned().unwrap_or_default();
        }
    }
    "?".into()
}

/// Which worker ran the call.
#[remote]
fn whoami(_call: u32) -> String {
    worker_name()
}

/// Holds "the GPU" for a moment: creates `dir/busy` exclusively (failing if another GPU
/// task holds it), keeps it 30 ms, removes it; returns the worker's name.
#[remote]
fn gpu_job(call: u32, dir: String) -> Result<String, String> {
    let busy = Path::new(&dir).join("busy");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&busy)
        .map_err(|e| format!("call {call}: another GPU task is running ({e})"))?;
    std::thread::sleep(Duration::from_millis(30));
    std::fs::remove_file(&busy).map_err(|e| e.to_string())?;
    Ok(worker_name())
}

/// The worker's process id plus `offset`.
#[remote]
fn process_id(offset: u32) -> u32 {
    std::process::id() + offset
}

/// `n` bytes, to be read by [`slow_read`].
#[remote]
fn bytes_here(n: u32) -> Vec<u8> {
    vec![1; n as usize]
}

/// Reads `data`, takes 300 ms, names the worker that ran it.
#[remote]
fn slow_read(data: Vec<u8>, call: u32) -> String {
    let _ = (data.len(), call);
    std::thread::sleep(Duration::from_millis(300));
    worker_name()
}

/// A worker of this binary named `name`, with `extra` flags, registered.
fn named_worker(center: &str, name: &str, extra: &[&str]) -> Proc {
    let exe = std::env::current_exe().expect("test binary");
    let mut args = vec!["worker", center, "--host", "127.0.0.1", "--name", name];
    args.extend_from_slice(extra);
    let worker = Proc::start_program(&exe, name, &args);
    worker.wait_for("Registered with center at");
    worker
}

/// A fresh empty directory for one test.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("taskforce-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn gpu_tasks_all_land_on_the_gpu_worker_never_two_at_once() -> Result<(), Failed> {
    let exe = std::env::current_exe()?;
    let (_center, addr, _none) = program_cluster(&exe, &[], "1");
    let _cpu = named_worker(&addr, "cpu", &["--nthreads", "4"]);
    let _gpu = named_worker(&addr, "gpu", &["--nthreads", "4", "--resources", "GPU=1"]);
    let executor = Executor::connect(&addr)?;
    let cluster = executor.cluster_info()?;
    let gpu_view = cluster.workers.iter().find(|w| w.name == "gpu");
    check(
        gpu_view.is_some_and(|w| w.resources.to_string() == "GPU=1"),
        "cluster_info shows the GPU worker's resources",
    )?;
    let dir = scratch_dir("gpu");
    let dir_text = dir.display().to_string();
    let gpu = SubmitOptions::new().resources([("GPU", 1.0)]);
    let calls = (0..12).map(|call| (call, dir_text.clone()));
    let gpu_futures: Vec<_> = calls
        .map(|args| executor.submit_with(gpu_job, args, gpu.clone()))
        .collect::<Result<_, _>>()?;
    let plain = executor.map(whoami, 0..16)?;
    let ran_on = executor.gather(&gpu_futures)?;
    let _ = std::fs::remove_dir_all(&dir);
    check(
        ran_on.iter().all(|name| name == "gpu"),
        &format!("every GPU task ran on the GPU worker, got {ran_on:?}"),
    )?;
    let plain_on = executor.gather(&plain)?;
    check(plain_on.len() == 16, "plain tasks run beside them")?;
    Ok(())
}

fn a_restricted_task_waits_visibly_until_its_worker_joins() -> Result<(), Failed> {
    let exe = std::env::current_exe()?;
    let (center, addr, _workers) = program_cluster(&exe, &["w1"], "1");
    let executor = Executor::connect(&addr)?;
    executor.cluster_info()?;
    let late = executor.submit_with(whoami, (7,), SubmitOptions::new().workers(["late"]))?;
    let deadline = Instant::now() + PATIENCE;
    let waiting = loop {
        let cluster = executor.cluster_info()?;
        if let Some(line) = cluster.unplaceable.first() {
            break line.clone();
        }
        check(
            Instant::now() < deadline,
            "the waiting task shows in cluster_info",
        )?;
        std::thread::sleep(Duration::from_millis(50));
    };
    check(
        waiting.contains("workers [late] (strict)"),
        &format!("cluster_info says why: {waiting}"),
    )?;
    center.wait_for("Task waits for a worker");
    let _late_worker = named_worker(&addr, "late", &["--nthreads", "1"]);
    check(late.result()? == "late", "it ran on the named worker")?;
    check(center.count("Task waits for a worker") == 1, "logged once")?;
    check(
        executor.cluster_info()?.unplaceable.is_empty(),
        "no longer shown once placed",
    )?;
    Ok(())
}

fn unknown_and_malformed_resources_are_refused_naming_them() -> Result<(), Failed> {
    let exe = std::env::current_exe()?;
    let (_center, addr, _workers) = program_cluster(&exe, &["w1"], "1");
    let executor = Executor::connect(&addr)?;
    executor.cluster_info()?;
    let tpu = SubmitOptions::new().resources([("TPU", 1.0)]);
    match executor.submit_with(whoami, (1,), tpu) {
        Err(Error::Resources(ResourceError::Unknown { name, .. })) if name == "TPU" => {}
        other => return Err(format!("expected an unknown resource, got {other:?}").into()),
    }
    let negative = SubmitOptions::new().resources([("GPU", -1.0)]);
    match executor.submit_with(whoami, (2,), negative) {
        Err(Error::Resources(ResourceError::BadAmount { .. })) => {}
        other => return Err(format!("expected a bad amount, got {other:?}").into()),
    }
    check(
        executor.submit(whoami, (3,))?.result()? == "?",
        "the cluster keeps working",
    )?;
    let args = ["worker", &addr, "--host", "127.0.0.1", "--resources", "GPU"];
    let mut bad = Proc::start_program(&exe, "bad", &args);
    check(
        bad.wait_exit(PATIENCE) != Some(0),
        "the worker refuses to start",
    )?;
    bad.wait_for("expected NAME=AMOUNT");
    Ok(())
}

fn run_calls_a_function_once_on_every_worker() -> Result<(), Failed> {
    let exe = std::env::current_exe()?;
    let (_center, addr, _workers) = program_cluster(&exe, &["w1", "w2"], "1");
    let executor = Executor::connect(&addr)?;
    let mut expected: Vec<_> = executor
        .cluster_info()?
        .workers
        .iter()
        .map(|w| (w.addr, w.pid))
        .collect();
    expected.sort();
    let by_worker = executor.run(process_id, (1000,))?;
    let got: Vec<_> = by_worker
        .into_iter()
        .map(|(addr, pid)| (addr, pid - 1000))
        .collect();
    check(
        got == expected,
        &format!("one call per worker, each on its own process: {got:?} vs {expected:?}"),
    )?;
    Ok(())
}

/// Every reader of a value goes to the worker holding it (locality), whatever its window,
/// so without stealing worker `a` would run all 8 one after another while `b` idles.
fn an_idle_worker_takes_tasks_queued_on_the_holder_of_their_input() -> Result<(), Failed> {
    let exe = std::env::current_exe()?;
    let (_center, addr, _none) = program_cluster(&exe, &[], "1");
    let _a = named_worker(&addr, "a", &["--nthreads", "1"]);
    let _b = named_worker(&addr, "b", &["--nthreads", "1"]);
    let executor = Executor::connect(&addr)?;
    let on_a = SubmitOptions::new().workers(["a"]);
    let data = executor.submit_with(bytes_here, (1024,), on_a)?;
    data.result_timeout(PATIENCE)?;
    let readers: Vec<_> = (0..8)
        .map(|call| executor.submit(slow_read, (&data, call)))
        .collect::<Result<_, _>>()?;
    let mut ran_on = Vec::new();
    for reader in &readers {
        ran_on.push(reader.result_timeout(PATIENCE)?);
    }
    let on_b = ran_on.iter().filter(|name| *name == "b").count();
    check(
        on_b >= 3 && ran_on.len() - on_b >= 3,
        &format!("both workers ran at least 3 of the 8 readers: {ran_on:?}"),
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
            "gpu_tasks_all_land_on_the_gpu_worker_never_two_at_once",
            gpu_tasks_all_land_on_the_gpu_worker_never_two_at_once,
        ),
        Trial::test(
            "a_restricted_task_waits_visibly_until_its_worker_joins",
            a_restricted_task_waits_visibly_until_its_worker_joins,
        ),
        Trial::test(
            "unknown_and_malformed_resources_are_refused_naming_them",
            unknown_and_malformed_resources_are_refused_naming_them,
        ),
        Trial::test(
            "run_calls_a_function_once_on_every_worker",
            run_calls_a_function_once_on_every_worker,
        ),
        Trial::test(
            "an_idle_worker_takes_tasks_queued_on_the_holder_of_their_input",
            an_idle_worker_takes_tasks_queued_on_the_holder_of_their_input,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
