//! What Linux's `/proc` says about the server, the benchmark and the machine.

use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// A `kB` line of `/proc/<pid>/status`, such as `VmRSS` or `VmHWM`.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    status_field(&format!("/proc/{pid}/status"), field)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `Cpus_allowed_list` of a process: the cores it may run on.
pub fn cpus_allowed(pid: Option<u32>) -> String {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_owned(),
    };
    status_field(&path, "Cpus_allowed_list").unwrap_or_else(|| "?".to_owned())
}

/// How many cores a `Cpus_allowed_list` such as `0`, `0-3` or `0,2` names.
pub fn count_cpus(list: &str) -> usize {
    list.split(',')
        .map(|part| match part.trim().split_once('-') {
            Some((a, b)) => match (a.parse::<usize>(), b.parse::<usize>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 0,
            },
            None => usize::from(part.trim().parse::<usize>().is_ok()),
        })
        .sum()
}

fn status_field(path: &str, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(path).ok()?;
    status.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name == field).then(|| value.trim().to_owned())
    })
}

/// A process's CPU time so far (user + system, every thread), in clock ticks.
#[derive(Clone, Copy, Debug)]
pub struct Cpu(Option<u64>);

impl Cpu {
    pub fn of(pid: u32) -> Self {
        Self(cpu_ticks(&format!("/proc/{pid}/stat")))
    }

    pub fn of_self() -> Self {
        Self(cpu_ticks("/proc/self/stat"))
    }

    /// A process and every process it started (PostgreSQL's postmaster and
    /// its backends, which are all its direct children): its own time, that
    /// of its children that have exited and been waited for, and that of
    /// those still running.
    pub fn of_tree(pid: u32) -> Self {
        let Some(own) = stat_fields(&format!("/proc/{pid}/stat")) else {
            return Self(None);
        };
        let field = |fields: &[String], i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        // utime, stime, cutime, cstime.
        let mut ticks: u64 = [11, 12, 13, 14]
            .iter()
            .map(|&i| field(&own, i).unwrap_or(0))
            .sum();
        for child in children(pid) {
            if let Some(fields) = stat_fields(&format!("/proc/{child}/stat")) {
                ticks += field(&fields, 11).unwrap_or(0) + field(&fields, 12).unwrap_or(0);
            }
        }
        Self(Some(ticks))
    }

    /// CPU time since `earlier`, as a share of one core over `wall`
    /// (1.0 = one core busy all the time); NaN when unknown.
    pub fn share_since(self, earlier: Cpu, wall: Duration) -> f64 {
        match (self.0, earlier.0) {
            (Some(now), Some(then)) => {
                now.saturating_sub(then) as f64 / clock_ticks_per_sec() as f64 / wall.as_secs_f64()
            }
            _ => f64::NAN,
        }
    }
}

/// CPU time of the calling thread, to the nanosecond.
pub fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec and the clock id is a
    // constant every Linux supports.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if status != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

/// Busy time of every CPU together (`/proc/stat`), in clock ticks: to tell
/// how much of the machine other processes took during a window.
pub fn machine_busy() -> Cpu {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let busy = stat.lines().next().and_then(|line| {
        let fields: Vec<u64> = line
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        // user nice system idle iowait irq softirq steal: all but idle and iowait.
        let at = |i: usize| fields.get(i).copied().unwrap_or(0);
        Some(at(0) + at(1) + at(2) + at(5) + at(6) + at(7))
    });
    Cpu(busy)
}

fn cpu_ticks(path: &str) -> Option<u64> {
    let fields = stat_fields(path)?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The fields of a `/proc/<pid>/stat` after the command name, which may
/// hold spaces: index 0 is the state (field 3), 1 the parent's pid, 11 and
/// 12 utime and stime, 13 and 14 the waited-for children's.
fn stat_fields(path: &str) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(path).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// The pids whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    let parent = pid.to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            stat_fields(&format!("/proc/{child}/stat"))
                .is_some_and(|fields| fields.get(1) == Some(&parent))
        })
        .collect()
}

/// The proportional set size of a process and its children together, in
/// KiB: memory they share (PostgreSQL's shared buffers) is counted once,
/// split between them, instead of once per process as resident sets would.
/// Also how many processes that was.
pub fn tree_pss_kib(pid: u32) -> Option<(u64, usize)> {
    let mut pids = children(pid);
    pids.push(pid);
    let sizes: Vec<u64> = pids
        .iter()
        .filter_map(|pid| {
            status_field(&format!("/proc/{pid}/smaps_rollup"), "Pss")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    (!sizes.is_empty()).then(|| (sizes.iter().sum(), sizes.len()))
}

fn clock_ticks_per_sec() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// The load averages over 1, 5 and 15 minutes (`/proc/loadavg`): how busy
/// the machine was, beside the figures.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// One line naming the machine: CPU model, cores, memory, kernel.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            (name.trim() == "model name").then(|| value.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let online = cpuinfo
        .lines()
        .filter(|line| line.starts_with("processor"))
        .count();
    let mem_gib = status_field("/proc/meminfo", "MemTotal")
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0.0, |kib| kib as f64 / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{model}, {online} CPUs, {mem_gib:.1} GiB RAM, Linux {}",
        kernel.trim()
    )
}
