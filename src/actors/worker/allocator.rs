//! How a worker with a memory limit keeps the allocator from hiding freed memory: the
//! resident size the worker pauses on and its nanny kills on must fall when values spill.
//!
//! glibc only. No actix, no core state: calls into the C allocator and a log line.

/// Allocations from this size up are mapped on their own and unmapped when freed.
const OWN_MAPPING_FROM: usize = 1 << 20;

/// Makes every allocation of a megabyte or more a mapping of its own, returned to the OS
/// when freed; called when the worker first spills or pauses, and a no-op after the first
/// call. glibc's default raises that threshold to the size of each large block freed, after
/// which blocks of values (an array chunk, a partition's buffer) are carved from heaps that
/// keep their pages: a worker holding 180 MiB of values under a 300 MiB limit was seen at
/// 285 MiB resident and killed by its nanny. dask's nanny sets `MALLOC_TRIM_THRESHOLD_` for
/// the same reason. Not from the start: a fresh mapping costs a page fault per page of every
/// large value (the quickstart's 1,000 arrays of 8 MB took 4× longer), a price worth paying
/// only once memory is short.
pub(super) fn return_large_blocks_on_free() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only sets a tuning parameter of glibc's allocator; a fixed
        // threshold also turns its dynamic adjustment off.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_MAPPING_FROM as libc::c_int);
        }
        tracing::info!(target: super::actor::LOG_TARGET, "memory is short: large values are now unmapped as soon as they are freed");
    });
}

/// Hands memory freed by spilling back to the OS: glibc keeps freed small blocks in its
/// heaps, and the resident memory the pause is decided on would not fall.
pub(super) fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's own heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}
