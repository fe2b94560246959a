//! The background threads' scheduling priority. On two cores a window
//! close (finish, skew, drift, report), the state writer's serialising and
//! the rollups' merges ran beside the batches being ingested, and the
//! batches right after each close waited for a core: with one client, the
//! decoding of those batches took up to 4–6 ms instead of 1.8 (timers in
//! `ingest_bytes`, a close every 100 batches, so about the p99).
//!
//! Those threads run at a lower priority (nice 5): when a core is free they
//! run as before; when ingest wants it, the scheduler gives the ingest
//! threads about three times their share. They still get about a quarter
//! of a contended core, several times what the closes need at the load
//! generator's rates (a 30-feature close takes about 8 ms of CPU). The
//! comparisons a close runs on the rayon pool keep the pool's priority.

/// The nice value of the background threads (0 is the default, 19 the
/// lowest priority).
const BACKGROUND_NICE: i32 = 5;

/// Lowers the calling thread's priority to [`BACKGROUND_NICE`], never
/// raising it: a daemon started under `nice -n 10` keeps its background
/// threads at 10. Best effort: where it is refused or unsupported the
/// thread keeps its priority.
pub fn background_thread() {
    set_nice(BACKGROUND_NICE);
}

#[cfg(target_os = "linux")]
fn set_nice(nice: i32) {
    unsafe extern "C" {
        fn getpriority(which: i32, who: u32) -> i32;
        fn setpriority(which: i32, who: u32, prio: i32) -> i32;
        fn gettid() -> i32;
    }
    /// `PRIO_PROCESS` (sys/resource.h): on Linux, given a thread id it sets
    /// that thread's nice value alone.
    const PRIO_PROCESS: i32 = 0;
    // SAFETY: the calls take plain integers and touch no memory of ours;
    // a refusal (-1) leaves the priority as it was. `getpriority` returns
    // the nice value itself; its error return (-1) is also a valid nice
    // value, which here only means "lower it to `nice`", as before.
    unsafe {
        let tid = gettid() as u32;
        let current = getpriority(PRIO_PROCESS, tid);
        if current < nice {
            setpriority(PRIO_PROCESS, tid, nice);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn set_nice(_nice: i32) {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// This thread's nice value, from /proc (field 19 of its stat line).
    fn nice_of_this_thread() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(16).unwrap().parse().unwrap()
    }

    #[test]
    fn a_background_thread_runs_at_the_lower_priority_and_others_do_not() {
        let before = nice_of_this_thread();
        let (lowered, other) = std::thread::spawn(|| {
            background_thread();
            let lowered = nice_of_this_thread();
            (lowered, std::thread::spawn(nice_of_this_thread))
        })
        .join()
        .unwrap();
        assert_eq!(lowered, BACKGROUND_NICE.max(before));
        // Only the thread itself: the test's thread keeps its value.
        assert_eq!(nice_of_this_thread(), before);
        // (Threads it starts inherit it, as Linux does.)
        assert_eq!(other.join().unwrap(), lowered);
    }
}
