//! ESP that arrived in IPv4 fragments. The XDP program cannot redirect a
//! fragment (only the first carries the SPI), so it passes them to the
//! kernel, which reassembles them (bounded by `net.ipv4.ipfrag_*`). The
//! result reaches the daemon: UDP-encapsulated ESP on the IKE socket on
//! port 4500, with a non-zero SPI where IKE has its non-ESP marker, and
//! raw ESP (IP protocol 50) on the raw socket opened here (the kernel has
//! no ESP of its own, so a raw socket gets every protocol-50 packet that
//! reaches the stack: XDP-redirected frames never do). Either way the
//! packet goes to an ESP worker over a bounded queue.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;

/// A raw IPv4 socket for protocol 50, bound to the gateway's address.
pub struct RawEspSocket {
    fd: AsyncFd<OwnedFd>,
}

impl RawEspSocket {
    pub fn open(local: Ipv4Addr) -> io::Result<RawEspSocket> {
        // SAFETY: plain socket(2); the fd is owned from here on.
        let raw = unsafe {
            libc::socket(
                libc::AF_INET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::IPPROTO_ESP,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        addr.sin_family = libc::AF_INET as u16;
        addr.sin_addr.s_addr = u32::from(local).to_be();
        // SAFETY: a valid sockaddr_in of the size given.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &addr as *const libc::sockaddr_in as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in>() as u32,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: an OwnedFd's descriptor stays open and the same for as
        // long as the AsyncFd owns it.
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }?;
        Ok(RawEspSocket { fd })
    }

    /// The next packet, IPv4 header included.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut ready = self.fd.readable().await?;
            let r = ready.try_io(|fd| {
                // SAFETY: `buf` is valid for its length.
                let n = unsafe {
                    libc::recv(
                        fd.as_raw_fd(),
                        buf.as_mut_ptr() as *mut libc::c_void,
                        buf.len(),
                        0,
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match r {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}

/// The SPI of an ESP packet (SPI to ICV), if it is long enough to be one
/// (header and at least one more block) and not the reserved 0.
pub fn esp_spi(esp: &[u8]) -> Option<u32> {
    let h = esp.get(..8)?;
    let spi = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    (spi != 0).then_some(spi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spi_of_short_or_zero_packets_is_none() {
        assert_eq!(esp_spi(&[0, 0, 0, 1, 0, 0, 0, 1]), Some(1));
        assert_eq!(esp_spi(&[0, 0, 0, 1, 0, 0, 0]), None);
        assert_eq!(esp_spi(&[0; 16]), None);
    }
}
