//! The worker's spill directory: the files behind values the core spilled, in a directory
//! of the system's temp dir made at start and removed with the worker; and
//! `ShellOutbox`, the outbox the actor hands the core, which queues commands and does the
//! spill I/O on the spot (a write or read of one value blocks the actor that long, as the
//! core must know at once whether the value is on disk).
//!
//! A file is a header (the value's type name and layout, through the wire codec, after its
//! length) followed by the value's bytes.

use std::collections::VecDeque;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use bytes::Bytes;
use tracing::{info, warn};

use super::actor::LOG_TARGET;
use crate::function::{EncodedValue, Stored};
use crate::ids::{Map, TaskKey};
use crate::messages::activity::SpanKind;
use crate::messages::codec;
use crate::worker_core::{WorkerCommand, WorkerOutbox};

/// Bytes gathered before each write to a spill file.
const WRITE_BUFFER: usize = 1 << 20;

/// Names tried for one process's spill directory before giving up.
const MAX_DIRS_PER_PROCESS: u32 = 100;

/// The `attempt`-th name of process `pid`'s spill directory.
fn dir_name(pid: u32, attempt: u32) -> PathBuf {
    std::env::temp_dir().join(format!("taskforce-spill-{pid}-{attempt}"))
}

/// Removes what a worker process `pid` that could not clean up (killed by a signal) left in
/// its spill directories; returns the directories removed. Its nanny calls this once the
/// process is gone, so nothing else writes there any more.
pub fn remove_left_behind(pid: u32) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for attempt in 0..MAX_DIRS_PER_PROCESS {
        let root = dir_name(pid, attempt);
        match fs::remove_dir_all(&root) {
            Ok(()) => removed.push(root),
            // Directories are made in order of attempts, so the first missing name ends them.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => {
                warn!(target: LOG_TARGET, dir = %root.display(), "could not remove a dead worker's spill directory: {e}")
            }
        }
    }
    removed
}

/// The directory of one worker's spilled values; removed (with its files) when dropped.
#[derive(Debug)]
pub struct SpillDir {
    root: PathBuf,
    files: Map<TaskKey, PathBuf>,
    next_file: u64,
    /// Writes and read-backs since the last activity report, at most [`MAX_SPANS`] (the
    /// oldest dropped at the bound: they only colour the dashboard's task stream).
    spans: VecDeque<(SpanKind, Instant, Instant)>,
}

/// Spill and read-back spans kept between two activity reports.
const MAX_SPANS: usize = 1_000;

impl SpillDir {
    /// Makes a fresh directory under the system's temp dir.
    pub fn create() -> std::io::Result<Self> {
        let pid = std::process::id();
        for attempt in 0u32..MAX_DIRS_PER_PROCESS {
            let root = dir_name(pid, attempt);
            match fs::create_dir(&root) {
                Ok(()) => {
                    info!(target: LOG_TARGET, dir = %root.display(), "spilling values to disk past the memory target");
                    return Ok(SpillDir {
                        root,
                        files: Map::default(),
                        next_file: 0,
                        spans: VecDeque::new(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other("no free spill directory name"))
    }

    /// The spills and read-backs since the last call, oldest first.
    pub fn take_spans(&mut self) -> Vec<(SpanKind, Instant, Instant)> {
        self.spans.drain(..).collect()
    }

    fn note(&mut self, kind: SpanKind, started: Instant) {
        if self.spans.len() == MAX_SPANS {
            self.spans.pop_front();
        }
        self.spans.push_back((kind, started, Instant::now()));
    }

    /// Where the files are.
    pub fn path(&self) -> &std::path::Path {
        &self.root
    }

    /// Writes `value` to a new file as it is encoded: no encoded copy is held in memory.
    fn write(&mut self, key: &TaskKey, value: &Stored) -> Result<(), String> {
        let started = Instant::now();
        let header = codec::encode(&value.encoding_header()).map_err(|e| e.to_string())?;
        self.next_file += 1;
        let path = self.root.join(self.next_file.to_string());
        let written = fs::File::create(&path)
            .map_err(|e| e.to_string())
            .and_then(|file| {
                let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
                out.write_all(&(header.len() as u32).to_le_bytes())
                    .and_then(|()| out.write_all(&header))
                    .map_err(|e| e.to_string())?;
                value.write_encoded(&mut out).map_err(|e| e.to_string())?;
                out.into_inner()
                    .map_err(|e| e.error().to_string())
                    .and_then(|file| file.metadata().map_err(|e| e.to_string()))
                    .map(|written| written.len())
            });
        let nbytes = match written {
            Ok(nbytes) => nbytes,
            Err(e) => {
                let _ = fs::remove_file(&path);
                return Err(e);
            }
        };
        self.note(SpanKind::Spill { nbytes }, started);
        if let Some(old) = self.files.insert(key.clone(), path) {
            let _ = fs::remove_file(old);
        }
        Ok(())
    }

    /// Reads `key`'s spilled value back.
    pub fn read(&self, key: &TaskKey) -> Result<EncodedValue, String> {
        let path = self.files.get(key).ok_or("no spill file")?;
        let bytes = Bytes::from(fs::read(path).map_err(|e| e.to_string())?);
        let corrupt = || "corrupt spill file".to_string();
        let header_len = u32::from_le_bytes(
            bytes
                .get(..4)
                .ok_or_else(corrupt)?
                .try_into()
                .map_err(|_| corrupt())?,
        ) as usize;
        let header = bytes.get(4..4 + header_len).ok_or_else(corrupt)?;
        let (type_name, raw): (String, bool) = codec::decode(header).map_err(|e| e.to_string())?;
        Ok(EncodedValue {
            type_name: type_name.into(),
            bytes: bytes.slice(4 + header_len..),
            raw,
        })
    }

    fn remove(&mut self, key: &TaskKey) {
        if let Some(path) = self.files.remove(key) {
            let _ = fs::remove_file(path);
        }
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.root) {
            warn!(target: LOG_TARGET, dir = %self.root.display(), "could not remove the spill directory: {e}");
        }
    }
}

/// The core's commands for the actor to perform, and the spill directory it writes to now.
pub(super) struct ShellOutbox<'a> {
    pub(super) commands: Vec<WorkerCommand>,
    disk: Option<&'a mut SpillDir>,
    pool: Option<&'a super::pool::TaskPool>,
}

impl<'a> ShellOutbox<'a> {
    pub(super) fn new(disk: Option<&'a mut SpillDir>) -> Self {
        ShellOutbox {
            commands: Vec::new(),
            disk,
            pool: None,
        }
    }

    /// The same, able to take jobs back from the task threads' queue.
    pub(super) fn with_pool(mut self, pool: Option<&'a super::pool::TaskPool>) -> Self {
        self.pool = pool;
        self
    }
}

impl WorkerOutbox for ShellOutbox<'_> {
    fn run(&mut self, job: crate::worker_core::Job) {
        self.commands.run(job);
    }
    fn fetch(&mut self, order: crate::worker_core::FetchOrder) {
        self.commands.fetch(order);
    }
    fn report(&mut self, event: crate::messages::center_link::TaskEvent) {
        self.commands.report(event);
    }
    fn offer(&mut self, key: TaskKey, nbytes: u64) {
        self.commands.offer(key, nbytes);
    }
    fn spill(&mut self, key: &TaskKey, value: &Stored) -> bool {
        let Some(disk) = self.disk.as_deref_mut() else {
            return false;
        };
        match disk.write(key, value) {
            Ok(()) => {
                super::allocator::return_large_blocks_on_free();
                true
            }
            Err(e) => {
                warn!(target: LOG_TARGET, %key, "could not spill a value to disk; keeping it in memory: {e}");
                false
            }
        }
    }
    fn read_back(&mut self, key: &TaskKey) -> Option<EncodedValue> {
        let disk = self.disk.as_deref_mut()?;
        let started = Instant::now();
        let value = disk
            .read(key)
            .inspect_err(
                |e| warn!(target: LOG_TARGET, %key, "could not read a spilled value back: {e}"),
            )
            .ok()?;
        let nbytes = value.bytes.len() as u64;
        disk.note(SpanKind::Unspill { nbytes }, started);
        Some(value)
    }
    fn drop_spilled(&mut self, key: &TaskKey) {
        if let Some(disk) = self.disk.as_deref_mut() {
            disk.remove(key);
        }
    }
    fn withdraw(&mut self, key: &TaskKey) -> bool {
        self.commands.withdraw(key) || self.pool.is_some_and(|pool| pool.withdraw(key))
    }
}
