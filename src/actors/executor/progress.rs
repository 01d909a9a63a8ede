//! `taskforce::progress`: a terminal progress bar over futures, drawn until all are done.
//! (Its async twin, `progress_async`, draws the same bar: see `async_waits.rs`.)

use indicatif::{ProgressBar, ProgressStyle};

use super::{Future, KeyStatus};

/// A bar for `len` futures, drawn on stderr.
pub(super) fn bar(len: usize) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("[{bar:40}] {pos}/{len} tasks {elapsed_precise} {msg}")
            .expect("a valid template")
            .progress_chars("#>-"),
    );
    bar
}

/// Moves `bar` to `done`, noting how many of those did not finish without error.
pub(super) fn show(bar: &ProgressBar, done: usize, finished: usize) {
    bar.set_position(done as u64);
    if done > finished {
        bar.set_message(format!("({} failed)", done - finished));
    }
}

/// Draws a progress bar on stderr until every future is done (finished, erred or lost), then
/// returns how many finished without error. Task errors are not raised here; `result()` gives
/// them.
///
/// On the thread of a current-thread tokio runtime this fails with
/// [`crate::Error::BlockingInAsync`]: await [`super::progress_async`] there.
///
/// ```no_run
/// # use taskforce::{remote, Executor};
/// # #[remote] fn inc(x: i64) -> i64 { x + 1 }
/// # let executor = Executor::connect("127.0.0.1:8787")?;
/// let futures = executor.map(inc, 0..10_000)?;
/// taskforce::progress(&futures)?;
/// # Ok::<(), taskforce::Error>(())
/// ```
pub fn progress<T>(futures: &[Future<T>]) -> crate::Result<usize> {
    super::blocking::check_may_block("progress", "progress_async(..).await")?;
    let bar = bar(futures.len());
    let Some(first) = futures.first() else {
        bar.finish();
        return Ok(0);
    };
    let executor = first.handle.executor.clone();
    let count = || {
        futures
            .iter()
            .fold((0, 0), |(done, ok), future| match future.state().status() {
                KeyStatus::Pending => (done, ok),
                KeyStatus::Finished { .. } => (done + 1, ok + 1),
                _ => (done + 1, ok),
            })
    };
    let (mut done, mut finished) = count();
    show(&bar, done, finished);
    while done < futures.len() {
        executor
            .shared
            .wait_until_for(std::time::Duration::from_millis(100), || count().0 != done);
        (done, finished) = count();
        show(&bar, done, finished);
    }
    bar.finish();
    Ok(finished)
}
