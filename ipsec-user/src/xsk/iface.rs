//! Interface ioctls (`struct ifreq` requests) on a throwaway datagram
//! socket. They answer for the calling thread's network namespace, which
//! sysfs (mounted for another namespace) would not.

use std::io;

/// Runs `request` for interface `ifname`: `prepare` fills in whatever the
/// request reads besides the name (e.g. a pointer to an ethtool struct);
/// returns the `ifreq` as the kernel left it.
pub fn ioctl(
    ifname: &str,
    request: libc::c_ulong,
    prepare: impl FnOnce(&mut libc::ifreq),
) -> io::Result<libc::ifreq> {
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let name = ifname.as_bytes();
    if name.len() >= req.ifr_name.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name too long",
        ));
    }
    for (d, s) in req.ifr_name.iter_mut().zip(name) {
        *d = *s as libc::c_char;
    }
    prepare(&mut req);
    // SAFETY: a socket of our own, closed below; the request reads and
    // writes only `req` (and what `prepare` pointed it at, which the caller
    // keeps alive across this call).
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let rc = unsafe { libc::ioctl(fd, request, &mut req) };
    let err = io::Error::last_os_error();
    unsafe { libc::close(fd) };
    if rc < 0 {
        return Err(err);
    }
    Ok(req)
}

/// The MTU of `ifname` in the calling thread's network namespace.
pub fn mtu(ifname: &str) -> io::Result<usize> {
    let req = ioctl(ifname, libc::SIOCGIFMTU, |_| {})?;
    // SAFETY: SIOCGIFMTU filled in the MTU member.
    Ok(unsafe { req.ifr_ifru.ifru_mtu }.max(0) as usize)
}
