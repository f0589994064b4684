//! Process hardening the daemon applies before it reads any key: no core
//! dump, ever. A crash of a daemon that holds pre-shared keys, SKEYIDs and
//! ESP keys would otherwise write them to disk (or hand them to
//! systemd-coredump) for anyone who can read cores.

use std::io;

/// Makes this process non-dumpable (`PR_SET_DUMPABLE` 0: no core file, no
/// ptrace attach without CAP_SYS_PTRACE, /proc/PID/mem root-only) and sets
/// `RLIMIT_CORE` to 0, so that even a core pattern that ignores the
/// dumpable flag gets nothing. Both stay across the daemon's threads.
pub fn no_core_dumps() -> io::Result<()> {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on this process with valid arguments.
    unsafe {
        if libc::setrlimit(libc::RLIMIT_CORE, &zero) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The test process hardens itself (it needs no core dump either) and
    /// reads both settings back.
    #[test]
    fn no_core_dumps_clears_dumpable_and_the_core_limit() {
        super::no_core_dumps().unwrap();
        // SAFETY: read-only queries of this process.
        let dumpable = unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
        assert_eq!(dumpable, 0);
        let mut lim = libc::rlimit {
            rlim_cur: 1,
            rlim_max: 1,
        };
        // SAFETY: `lim` is a valid out pointer.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut lim) }, 0);
        assert_eq!((lim.rlim_cur, lim.rlim_max), (0, 0));
    }
}
