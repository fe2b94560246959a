//! The daemon's allocator setting. glibc's malloc gives threads that
//! contend for it their own arenas, up to 8 per core; the daemon's tokio
//! workers, blocking threads and rayon pool end up with a dozen or more, each
//! holding freed batch memory it does not give back. Measured with
//! `examples/loadgen` (100 features, JSON, 2 clients): 122 MiB resident after
//! 10 minutes with glibc's default, 95 MiB with 2 arenas.

/// Limits glibc's malloc arenas to the number of cores (at least 2), unless
/// `MALLOC_ARENA_MAX` is set. Called before the daemon starts its threads.
pub fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    set_arena_max(cores.clamp(2, 64) as i32);
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_arena_max(arenas: i32) {
    unsafe extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    /// glibc's `M_ARENA_MAX` (malloc.h).
    const M_ARENA_MAX: i32 = -8;
    // SAFETY: mallopt only changes an allocator parameter; it is documented
    // as safe to call at any time, and is called here before other threads
    // exist. A refusal (0) leaves glibc's default, which is harmless.
    unsafe {
        mallopt(M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_arena_max(_arenas: i32) {}
