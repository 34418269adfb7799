//! The thread pool that runs the store's parallel file I/O.

/// The thread pool for file I/O. Creating, writing and renaming files blocks
/// on the file system far more than it uses a CPU, so it runs on more
/// threads than there are cores.
pub(crate) fn io_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get()) * 4;
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads.clamp(4, 32))
            .thread_name(|i| format!("backfill-native-io-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

/// Runs `f` on the I/O pool (or the global pool if it could not be made).
pub(crate) fn on_io_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match io_pool() {
        Some(pool) => pool.install(f),
        None => f(),
    }
}
