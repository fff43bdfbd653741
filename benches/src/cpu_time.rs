//! The process's CPU time (all its threads, user and system), from `/proc/self/stat`: what a
//! run costs the host, which a wall clock hides when threads overlap.

/// CPU seconds this process has used so far (to the kernel's tick, 1/100 s on Linux), or
/// `None` where `/proc/self/stat` cannot be read.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command's closing parenthesis (the command may hold spaces): state is
    // field 3, utime 14 and stime 15.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i - 3)?.parse::<u64>().ok();
    Some((ticks(14)? + ticks(15)?) as f64 / TICKS_PER_SECOND)
}

/// `USER_HZ`, 100 on every Linux architecture this builds for.
const TICKS_PER_SECOND: f64 = 100.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work() {
        let before = cpu_seconds().expect("/proc/self/stat");
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed().as_millis() < 300 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let used = cpu_seconds().expect("/proc/self/stat") - before;
        assert!(used >= 0.1, "300 ms of spinning counted {used} s of CPU");
    }
}
