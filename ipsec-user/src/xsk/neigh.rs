//! Next hops from the kernel's own tables, over rtnetlink: the route to a
//! destination (RTM_GETROUTE) and the neighbour's MAC (RTM_GETNEIGH). When
//! the kernel has no MAC yet we ask it to resolve one (RTM_NEWNEIGH with
//! NTF_USE, what `ip neigh replace A dev D use` does) rather than craft an
//! ARP ourselves. Used on cache misses only, never per packet.

use std::io;
use std::mem::size_of;
use std::net::Ipv4Addr;

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RTM_NEWNEIGH: u16 = 28;
const RTM_GETNEIGH: u16 = 30;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_CREATE: u16 = 0x400;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PREFSRC: u16 = 7;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
const NTF_USE: u8 = 0x01;
/// NUD_REACHABLE | STALE | DELAY | PROBE | NOARP | PERMANENT: a usable MAC.
const NUD_VALID: u16 = 0x02 | 0x04 | 0x08 | 0x10 | 0x40 | 0x80;
const NUD_PERMANENT: u16 = 0x80;

/// Where the kernel would send a packet for some destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub oif: u32,
    /// The next hop: the gateway, or the destination itself when on-link.
    pub next_hop: Ipv4Addr,
    pub prefsrc: Option<Ipv4Addr>,
}

/// A route-netlink socket in the calling thread's network namespace.
pub struct Netlink {
    fd: i32,
    seq: u32,
    buf: Vec<u8>,
}

impl Drop for Netlink {
    fn drop(&mut self) {
        unsafe { libc::close(self.fd) };
    }
}

fn push_attr(msg: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = 4 + data.len();
    msg.extend_from_slice(&(len as u16).to_ne_bytes());
    msg.extend_from_slice(&kind.to_ne_bytes());
    msg.extend_from_slice(data);
    while !msg.len().is_multiple_of(4) {
        msg.push(0);
    }
}

/// Iterates (type, payload) over rtattrs, stopping at the first bad length.
fn attrs(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        let kind = u16::from_ne_bytes([data[2], data[3]]);
        if len < 4 || len > data.len() {
            return None;
        }
        let payload = &data[4..len];
        let aligned = (len + 3) & !3;
        data = data.get(aligned..).unwrap_or(&[]);
        Some((kind & 0x3fff, payload))
    })
}

fn ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(b).ok().map(Ipv4Addr::from)
}

impl Netlink {
    pub fn open() -> io::Result<Netlink> {
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        let rc = unsafe {
            libc::bind(
                fd,
                &addr as *const _ as *const libc::sockaddr,
                size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            unsafe { libc::close(fd) };
            return Err(e);
        }
        let tv = libc::timeval {
            tv_sec: 1,
            tv_usec: 0,
        };
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const _ as *const libc::c_void,
                size_of::<libc::timeval>() as u32,
            )
        };
        Ok(Netlink {
            fd,
            seq: 1,
            buf: vec![0; 16 * 1024],
        })
    }

    /// Sends one request and returns the payload of the first reply of type
    /// `want` (or an error from an NLMSG_ERROR with a non-zero code).
    fn transact(
        &mut self,
        kind: u16,
        flags: u16,
        body: &[u8],
        want: Option<u16>,
    ) -> io::Result<Vec<u8>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut msg = Vec::with_capacity(NLMSG_HDRLEN + body.len());
        msg.extend_from_slice(&((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes());
        msg.extend_from_slice(&kind.to_ne_bytes());
        msg.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        msg.extend_from_slice(&seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(body);
        let rc = unsafe { libc::send(self.fd, msg.as_ptr() as *const libc::c_void, msg.len(), 0) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            let n = unsafe {
                libc::recv(
                    self.fd,
                    self.buf.as_mut_ptr() as *mut libc::c_void,
                    self.buf.len(),
                    0,
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut data = &self.buf[..n as usize];
            while data.len() >= NLMSG_HDRLEN {
                let len = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as usize;
                let mtype = u16::from_ne_bytes([data[4], data[5]]);
                let mseq = u32::from_ne_bytes([data[8], data[9], data[10], data[11]]);
                if len < NLMSG_HDRLEN || len > data.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "bad netlink length",
                    ));
                }
                let payload = &data[NLMSG_HDRLEN..len];
                if mseq == seq {
                    if mtype == NLMSG_ERROR {
                        let code = payload
                            .get(..4)
                            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                            .unwrap_or(-libc::EIO);
                        if code != 0 {
                            return Err(io::Error::from_raw_os_error(-code));
                        }
                        if want.is_none() {
                            return Ok(Vec::new());
                        }
                    } else if Some(mtype) == want {
                        return Ok(payload.to_vec());
                    }
                }
                data = data.get((len + 3) & !3..).unwrap_or(&[]);
            }
        }
    }

    /// The kernel's route to `dst` (like `ip route get`).
    pub fn route_get(&mut self, dst: Ipv4Addr) -> io::Result<Route> {
        // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags(u32)
        let mut body = vec![libc::AF_INET as u8, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        push_attr(&mut body, RTA_DST, &dst.octets());
        let reply = self.transact(RTM_GETROUTE, 0, &body, Some(RTM_NEWROUTE))?;
        let (mut oif, mut gw, mut src) = (None, None, None);
        for (kind, data) in attrs(reply.get(12..).unwrap_or(&[])) {
            match kind {
                RTA_OIF => oif = <[u8; 4]>::try_from(data).ok().map(u32::from_ne_bytes),
                RTA_GATEWAY => gw = ipv4(data),
                RTA_PREFSRC => src = ipv4(data),
                _ => {}
            }
        }
        let oif = oif
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no route to {dst}")))?;
        Ok(Route {
            oif,
            next_hop: gw.unwrap_or(dst),
            prefsrc: src,
        })
    }

    fn ndmsg(ifindex: u32, state: u16, flags: u8) -> Vec<u8> {
        // struct ndmsg: family, pad1, pad2(u16), ifindex(i32), state(u16), flags(u8), type(u8)
        let mut b = vec![libc::AF_INET as u8, 0, 0, 0];
        b.extend_from_slice(&(ifindex as i32).to_ne_bytes());
        b.extend_from_slice(&state.to_ne_bytes());
        b.push(flags);
        b.push(0);
        b
    }

    /// The MAC of `addr` on `ifindex` if the kernel has a usable one.
    pub fn neigh_get(&mut self, ifindex: u32, addr: Ipv4Addr) -> io::Result<Option<[u8; 6]>> {
        let mut body = Self::ndmsg(ifindex, 0, 0);
        push_attr(&mut body, NDA_DST, &addr.octets());
        let reply = match self.transact(RTM_GETNEIGH, 0, &body, Some(RTM_NEWNEIGH)) {
            Ok(r) => r,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
            Err(e) => return Err(e),
        };
        let state = reply
            .get(8..10)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
            .unwrap_or(0);
        if state & NUD_VALID == 0 {
            return Ok(None);
        }
        Ok(attrs(reply.get(12..).unwrap_or(&[]))
            .find(|(k, _)| *k == NDA_LLADDR)
            .and_then(|(_, d)| <[u8; 6]>::try_from(d).ok()))
    }

    /// Asks the kernel to resolve `addr` on `ifindex` (NTF_USE): it sends
    /// its own ARP request; the answer lands in its neighbour table.
    pub fn neigh_resolve(&mut self, ifindex: u32, addr: Ipv4Addr) -> io::Result<()> {
        let mut body = Self::ndmsg(ifindex, NUD_PERMANENT, NTF_USE);
        push_attr(&mut body, NDA_DST, &addr.octets());
        self.transact(
            RTM_NEWNEIGH,
            NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK,
            &body,
            None,
        )
        .map(|_| ())
    }

    /// Route + neighbour in one step: `Ok(Some((oif, mac)))` when ready,
    /// `Ok(None)` when resolution was started and the caller should retry.
    pub fn next_hop_mac(&mut self, dst: Ipv4Addr) -> io::Result<Option<(u32, [u8; 6])>> {
        let route = self.route_get(dst)?;
        if let Some(mac) = self.neigh_get(route.oif, route.next_hop)? {
            return Ok(Some((route.oif, mac)));
        }
        self.neigh_resolve(route.oif, route.next_hop)?;
        Ok(None)
    }
}

/// The MAC address of a local interface in the calling thread's network
/// namespace (SIOCGIFHWADDR; sysfs would show the mount's namespace).
pub fn interface_mac(ifname: &str) -> io::Result<[u8; 6]> {
    let req = super::iface::ioctl(ifname, libc::SIOCGIFHWADDR, |_| {})?;
    // SAFETY: SIOCGIFHWADDR filled in the hardware-address member.
    let data = unsafe { req.ifr_ifru.ifru_hwaddr.sa_data };
    let mut mac = [0u8; 6];
    for (d, s) in mac.iter_mut().zip(data.iter()) {
        *d = *s as u8;
    }
    Ok(mac)
}

pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in mac.iter_mut() {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parsing() {
        assert_eq!(
            parse_mac("8e:6d:53:e5:2a:1c"),
            Some([0x8e, 0x6d, 0x53, 0xe5, 0x2a, 0x1c])
        );
        assert_eq!(parse_mac("8e:6d:53:e5:2a"), None);
        assert_eq!(parse_mac("8e:6d:53:e5:2a:1c:00"), None);
        assert_eq!(parse_mac("zz:6d:53:e5:2a:1c"), None);
    }

    #[test]
    fn attr_iteration_is_bounded() {
        let mut m = Vec::new();
        push_attr(&mut m, RTA_OIF, &7u32.to_ne_bytes());
        push_attr(&mut m, RTA_GATEWAY, &[192, 0, 2, 1]);
        let v: Vec<_> = attrs(&m).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(ipv4(v[1].1), Some(Ipv4Addr::new(192, 0, 2, 1)));
        // A length running past the end stops iteration instead of panicking.
        let bad = [200u8, 0, 1, 0, 1, 2];
        assert_eq!(attrs(&bad).count(), 0);
    }
}
