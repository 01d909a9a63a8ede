//! The crate's top-level error: what a user of the library or the CLI can get back.
//!
//! Each variant says whether retrying can help.

use std::time::Duration;

use crate::function::ValueError;
use crate::ids::{TaskKey, WorkerId};
use crate::messages::handshake::HandshakeError;
use crate::messages::CodecError;
use crate::scheduler::shortened;
use crate::scheduler::TaskFailure;

impl Error {
    /// The error of listening on `host:port`, naming the port or host when the OS says which.
    pub fn listening(host: std::net::IpAddr, port: u16, source: std::io::Error) -> Error {
        match source.kind() {
            std::io::ErrorKind::AddrInUse => Error::PortInUse { port, source },
            std::io::ErrorKind::AddrNotAvailable => Error::BadHost { host, source },
            _ => Error::Bind(source),
        }
    }
}

/// Errors of the taskforce runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A listening socket could not be opened (port taken, bad host). Retrying won't help
    /// until the port is free.
    #[error("could not listen: {0}")]
    Bind(#[source] std::io::Error),
    /// The port asked for is taken by another process.
    #[error("port {port} is already in use")]
    PortInUse {
        /// The port.
        port: u16,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The host asked for is not an address this machine can listen on.
    #[error("cannot listen on {host}: not an address of this machine ({source})")]
    BadHost {
        /// The host.
        host: std::net::IpAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Listening on every interface, no local address on the route to the center was found
    /// to advertise to it and to peers.
    #[error("cannot tell which address of this machine reaches the center at {center} ({source}); pass --host")]
    NoAdvertisedAddress {
        /// The center's address.
        center: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Could not connect to, or was refused by, a peer. Transient causes were already retried.
    #[error("could not connect to {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: String,
        /// What went wrong.
        #[source]
        source: HandshakeError,
    },
    /// The center stayed unreachable (each attempt failed for a reason that may pass, such
    /// as a refused connection) until the connect timeout ran out. Retrying helps once the
    /// center is up at that address.
    #[error("center at {addr} unreachable for {:.1} s, giving up: {source}", .waited.as_secs_f64())]
    ConnectTimedOut {
        /// The address tried.
        addr: String,
        /// How long the executor tried.
        waited: Duration,
        /// The last attempt's error (the OS error, for a refused connection).
        #[source]
        source: HandshakeError,
    },
    /// A child process (a worker under a nanny) could not be started.
    #[error("could not start {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A nanny's worker died more often than its restart budget allows.
    #[error("worker process died {restarts} times within {window:?}; giving up")]
    RestartBudgetSpent {
        /// Restarts counted within the window.
        restarts: u32,
        /// The window.
        window: Duration,
    },
    /// The center stayed unreachable for longer than the worker's death timeout.
    #[error("center at {addr} unreachable for {waited:?}")]
    CenterUnreachable {
        /// The center's address.
        addr: String,
        /// How long the worker waited.
        waited: Duration,
    },
    /// A process's supervision tree gave up: a part of it failed more often than its
    /// restart intensity allows. The process exits so that whatever started it (a nanny, a
    /// service manager) starts it afresh.
    #[error("{process} gave up: {reason}")]
    GaveUp {
        /// Which process (`center`, `worker`, `nanny`).
        process: String,
        /// The last cause, as its supervisor saw it.
        reason: String,
    },
    /// A heartbeat timeout in the environment could not be used (fix the variable).
    #[error("{variable}: {source}")]
    HeartbeatTimeout {
        /// The variable.
        variable: &'static str,
        /// What is wrong with it (a `remote::idle::HeartbeatTimeoutError`).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Any other I/O failure.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The cluster's token could not be read (an empty or missing token file).
    #[error(transparent)]
    Token(#[from] crate::messages::TokenError),
    /// TLS could not be set up from the files given (a missing file, no key in it, a
    /// certificate without its key).
    #[error("TLS setup failed: {0}")]
    TlsSetup(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A remote function panicked; the worker caught it and keeps running. Retrying gives
    /// the same panic unless the function is nondeterministic.
    #[error("task {key} ({function}) panicked on worker {worker}: {}", shortened(.message))]
    Panicked {
        /// The function's registered name.
        function: String,
        /// The task.
        key: TaskKey,
        /// The worker it ran on.
        worker: WorkerId,
        /// The panic message.
        message: String,
    },
    /// A remote function returned `Err` (or could not read its arguments).
    #[error("task {key} ({function}) failed on worker {worker}: {}", shortened(.message))]
    Failed {
        /// The function's registered name.
        function: String,
        /// The task.
        key: TaskKey,
        /// The worker it ran on.
        worker: WorkerId,
        /// The error's message.
        message: String,
    },
    /// No worker in the cluster has this function. Retrying won't help until workers that
    /// link it join.
    #[error("no worker has the remote function {function}: {hint}")]
    UnknownFunction {
        /// The function's registered name.
        function: String,
        /// How to fix it.
        hint: String,
    },
    /// Workers have a function of this name but with other argument or result types.
    #[error(
        "the workers' {function} has another signature (theirs {theirs:016x?}, ours \
         {ours:016x}): rebuild the workers from the same code as this program"
    )]
    SignatureMismatch {
        /// The function's registered name.
        function: String,
        /// Our signature hash.
        ours: u64,
        /// The signature hashes the workers advertise.
        theirs: Vec<u64>,
    },
    /// A task this one depends on erred, so this one never ran.
    #[error("task {key} did not run: its dependency {root_key} erred: {cause}")]
    DependencyFailed {
        /// The task that did not run.
        key: TaskKey,
        /// The task where the failure started.
        root_key: TaskKey,
        /// The root failure.
        cause: Box<TaskFailure>,
    },
    /// The key was cancelled (or forgotten by a restart).
    #[error("task {key} was cancelled{}", reason_suffix(.reason))]
    Cancelled {
        /// The key.
        key: TaskKey,
        /// Why, when not a plain cancel.
        reason: Option<String>,
    },
    /// A call that waits on the cluster was made on the thread of a current-thread async
    /// runtime, where waiting would stall every task of that runtime: await its async twin
    /// instead (or make the call from a blocking thread, `spawn_blocking`).
    #[error("`{call}` would block the thread of a current-thread async runtime; use `{instead}` there, or make the call from a blocking thread (`spawn_blocking`)")]
    BlockingInAsync {
        /// The blocking call that was refused.
        call: &'static str,
        /// Its async twin, as it is used (`gather_async(..).await`, `future.await`).
        instead: &'static str,
    },
    /// A call that only a task running on a worker can make ([`crate::worker_executor`],
    /// [`crate::secede`], [`crate::rejoin`]) was made elsewhere. Retrying won't help: outside
    /// a task, connect with `Executor::connect`.
    #[error("`{call}()` works only inside a task running on a worker (a #[remote] function the cluster called); elsewhere connect with `Executor::connect`")]
    NotInTask {
        /// The call that was refused.
        call: &'static str,
    },
    /// The connection to the scheduler or to a worker holding the data was lost.
    #[error("connection lost: {reason}")]
    ConnectionLost {
        /// What happened.
        reason: String,
    },
    /// A message was larger than the link's limits allow (a header over its limit, a value
    /// over the message limit), so it was not sent; the connection stays up. Retrying the
    /// same call won't help; raising the limits (`FrameLimits`) or sending less at once will.
    #[error("{operation} was not sent: {source}")]
    MessageTooLarge {
        /// What was asked, and of whom.
        operation: String,
        /// The limit that was in the way.
        #[source]
        source: BoxedCause,
    },
    /// The scheduler or a worker did not answer in time (it may be overloaded or gone).
    /// Retrying may help.
    #[error("{operation} timed out: {source}")]
    Timeout {
        /// What was asked, and of whom.
        operation: String,
        /// The remote layer's error.
        #[source]
        source: BoxedCause,
    },
    /// The scheduler or a worker answered with something that is not the protocol (garbage,
    /// an undecodable or unexpected message); the connection was closed. Retrying the same
    /// peer won't help.
    #[error("{operation} failed: {source}")]
    Protocol {
        /// What was asked, and of whom.
        operation: String,
        /// The remote layer's error.
        #[source]
        source: BoxedCause,
    },
    /// Another failure the scheduler reported (a lost worker past the retry limit, data lost
    /// with its worker, an unknown dependency).
    #[error(transparent)]
    Task(TaskFailure),
    /// Resources were malformed (`--resources`, or a task's amounts), or a task asked for a
    /// resource no connected worker offers. Retrying won't help until a worker offering it
    /// joins.
    #[error(transparent)]
    Resources(#[from] crate::resources::ResourceError),
    /// An array operation was invalid (shapes, chunks or axes); found while building.
    #[error(transparent)]
    Array(#[from] crate::collections::array::ArrayError),
    /// A value could not be read as the type asked for.
    #[error("could not read the value of {key}: {source}")]
    Value {
        /// The key.
        key: TaskKey,
        /// Why.
        #[source]
        source: ValueError,
    },
    /// Arguments could not be encoded.
    #[error("could not encode arguments: {0}")]
    Codec(#[from] CodecError),
    /// The cluster refused a cluster-wide operation to this client (a restart on a cluster
    /// started without `--allow-restart`); nothing was done. Retrying won't help.
    #[error("{operation} refused by the scheduler: {reason}")]
    Refused {
        /// What was asked ("restart").
        operation: String,
        /// Why, and how to allow it.
        reason: String,
    },
    /// The cluster has no worker to place data on.
    #[error("the cluster has no workers")]
    NoWorkers,
    /// A worker a cluster operation waited on left the cluster before it was done there
    /// (e.g. `Executor::run`). Retrying runs it on the workers connected then.
    #[error("{operation}: worker {worker} left the cluster before it was done there")]
    WorkerLeft {
        /// The worker's address.
        worker: String,
        /// The operation.
        operation: String,
    },
    /// `wait_for_workers` timed out. Retrying helps only if workers are still starting.
    #[error("only {arrived} of {wanted} workers arrived after {waited:.1?}")]
    WorkersMissing {
        /// Workers connected at the deadline.
        arrived: usize,
        /// Workers asked for.
        wanted: usize,
        /// How long the call waited.
        waited: std::time::Duration,
    },
    /// A task graph can't run as given (missing key, cycle, unknown output). Retrying won't
    /// help.
    #[error(transparent)]
    Graph(crate::graph::GraphError),
    /// A Bag pipeline could not be built (a glob matching nothing, a bad pattern) or its
    /// result could not be read. Errors of its tasks come back as task errors.
    #[error(transparent)]
    Bag(#[from] crate::collections::bag::BagError),
    /// A lock, semaphore, queue, event or variable request failed (a timeout, a release of
    /// a lock not held, ...; see [`crate::coordination::CoordinationError`]).
    #[error(transparent)]
    Coordination(#[from] crate::coordination::CoordinationError),
    /// A service call, placement or lookup failed (see [`crate::service::ServiceError`]).
    #[error(transparent)]
    Service(#[from] crate::service::ServiceError),
}

impl From<crate::graph::GraphError> for Error {
    fn from(error: crate::graph::GraphError) -> Self {
        match error {
            crate::graph::GraphError::Codec { source, .. } => Error::Codec(source),
            other => Error::Graph(other),
        }
    }
}

fn reason_suffix(reason: &Option<String>) -> String {
    reason
        .as_ref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default()
}

impl From<TaskFailure> for Error {
    fn from(failure: TaskFailure) -> Self {
        match failure {
            TaskFailure::Failed {
                function,
                key,
                worker,
                message,
            } => Error::Failed {
                function: function.name.to_string(),
                key,
                worker,
                message,
            },
            TaskFailure::Panicked {
                function,
                key,
                worker,
                message,
            } => Error::Panicked {
                function: function.name.to_string(),
                key,
                worker,
                message,
            },
            TaskFailure::DependencyFailed {
                key,
                root_key,
                root,
            } => Error::DependencyFailed {
                key,
                root_key,
                cause: root,
            },
            TaskFailure::UnknownFunction { function, .. } => Error::UnknownFunction {
                hint: serve_hint(&function.name),
                function: function.name.to_string(),
            },
            TaskFailure::Cancelled { key } => Error::Cancelled { key, reason: None },
            other => Error::Task(other),
        }
    }
}

/// How to make workers serve a function of this name.
pub(crate) fn serve_hint(function: &str) -> String {
    format!(
        "start workers from a binary that links `{function}` (for a program of your own, call \
         `taskforce::cli::main()` when its first argument is `worker`, and run `yourprog worker \
         CENTER_ADDR`)"
    )
}

/// The cause of an error raised in a layer this module must not name (the remote layer).
pub type BoxedCause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_mismatch_reads_as_one_sentence() {
        let error = Error::SignatureMismatch {
            function: "inc".into(),
            ours: 1,
            theirs: vec![2],
        };
        assert_eq!(
            error.to_string(),
            "the workers' inc has another signature (theirs [0000000000000002], ours \
             0000000000000001): rebuild the workers from the same code as this program"
        );
    }

    #[test]
    fn serve_hint_reads_as_one_sentence() {
        let hint = serve_hint("inc");
        assert!(!hint.contains("  "), "double space in {hint:?}");
        assert_eq!(
            hint,
            "start workers from a binary that links `inc` (for a program of your own, call \
             `taskforce::cli::main()` when its first argument is `worker`, and run `yourprog \
             worker CENTER_ADDR`)"
        );
    }

    #[test]
    fn a_timeout_keeps_its_cause() {
        let cause = std::io::Error::new(std::io::ErrorKind::TimedOut, "no reply within 1s");
        let error = Error::Timeout {
            operation: "ask the scheduler".into(),
            source: Box::new(cause),
        };
        assert_eq!(
            error.to_string(),
            "ask the scheduler timed out: no reply within 1s"
        );
        let source = std::error::Error::source(&error).expect("a source");
        assert_eq!(source.to_string(), "no reply within 1s");
    }
}
