//! AF_XDP plumbing for one worker: one UMEM shared by a socket on queue N
//! of the inside interface and one on queue N of the outside interface
//! (veth runs in copy mode only, see shared/toolchain/afxdp.md), and a
//! free list of frames. A frame may be received on one interface and
//! transmitted on the other without a copy. Each worker has its own UMEM,
//! so workers share no frames and no rings.
//!
//! xdpilone was chosen for the rings: pure Rust (libc + spin), small,
//! proven on this kernel; the frame accounting on top of it is ours.

use std::num::NonZeroU32;
use std::ptr::NonNull;

use xdpilone::xdp::XdpDesc;
use xdpilone::{DeviceQueue, IfInfo, RingRx, RingTx, Socket, SocketConfig, Umem, UmemConfig, User};

pub const FRAME_SIZE: u32 = 4096;
pub const FRAMES: u32 = 8192;
const RING: u32 = 2048;

#[derive(Debug, thiserror::Error)]
pub enum XskError {
    #[error("interface `{0}`: {1}")]
    Interface(String, String),
    #[error("AF_XDP setup on `{0}` failed at {1}: errno {2}")]
    Setup(String, &'static str, i32),
    #[error("cannot map the UMEM: {0}")]
    Mmap(std::io::Error),
}

/// One direction's socket: RX ring, TX ring and its fill/completion pair.
pub struct Port {
    pub name: String,
    pub ifindex: u32,
    pub dev: DeviceQueue,
    pub rx: RingRx,
    pub tx: RingTx,
    /// Frames handed to this port's fill ring and not yet received back.
    pub in_fill: u32,
    // Keep the socket and its ring owner alive (and give statistics).
    _sock: Socket,
    user: User,
    pub fd: i32,
}

pub struct Xsk {
    area: NonNull<u8>,
    len: usize,
    umem: Umem,
    pub inside: Port,
    pub outside: Port,
    /// Frame offsets free for transmit or fill.
    free: Vec<u64>,
}

// The raw pointers refer to our own mapping, which lives as long as Xsk.
unsafe impl Send for Xsk {}

fn ifinfo(name: &str, queue: u32) -> Result<IfInfo, XskError> {
    let mut info = IfInfo::invalid();
    let cname = std::ffi::CString::new(name)
        .map_err(|e| XskError::Interface(name.into(), e.to_string()))?;
    info.from_name(&cname)
        .map_err(|e| XskError::Interface(name.into(), format!("{e:?}")))?;
    info.set_queue(queue);
    Ok(info)
}

fn errno(name: &str, step: &'static str) -> impl FnOnce(xdpilone::Errno) -> XskError + use<> {
    let name = name.to_string();
    move |e| XskError::Setup(name, step, e.get_raw())
}

impl Xsk {
    pub fn open(inside: &str, outside: &str, queue: u32) -> Result<Xsk, XskError> {
        let len = (FRAMES * FRAME_SIZE) as usize;
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(XskError::Mmap(std::io::Error::last_os_error()));
        }
        let area = NonNull::new(ptr as *mut u8)
            .ok_or_else(|| XskError::Mmap(std::io::Error::other("null mapping")))?;
        let slice = NonNull::slice_from_raw_parts(area, len);
        let cfg = UmemConfig {
            fill_size: RING,
            complete_size: RING,
            frame_size: FRAME_SIZE,
            headroom: 0,
            flags: 0,
        };
        let umem = unsafe { Umem::new(cfg, slice) }.map_err(errno(inside, "umem"))?;

        let in_info = ifinfo(inside, queue)?;
        let in_sock = Socket::with_shared(&in_info, &umem).map_err(errno(inside, "socket"))?;
        let in_dev = umem
            .fq_cq(&in_sock)
            .map_err(errno(inside, "fill/completion rings"))?;
        let ring = NonZeroU32::new(RING);
        let in_user = umem
            .rx_tx(
                &in_sock,
                &SocketConfig {
                    rx_size: ring,
                    tx_size: ring,
                    bind_flags: SocketConfig::XDP_BIND_NEED_WAKEUP,
                },
            )
            .map_err(errno(inside, "rx/tx rings"))?;
        let in_rx = in_user.map_rx().map_err(errno(inside, "map rx"))?;
        let in_tx = in_user.map_tx().map_err(errno(inside, "map tx"))?;
        umem.bind(&in_user).map_err(errno(inside, "bind"))?;

        let out_info = ifinfo(outside, queue)?;
        let out_sock = Socket::new(&out_info).map_err(errno(outside, "socket"))?;
        let out_dev = umem
            .fq_cq(&out_sock)
            .map_err(errno(outside, "fill/completion rings"))?;
        // The second socket inherits the first one's mode: no other flags.
        let out_user = umem
            .rx_tx(
                &out_sock,
                &SocketConfig {
                    rx_size: ring,
                    tx_size: ring,
                    bind_flags: 0,
                },
            )
            .map_err(errno(outside, "rx/tx rings"))?;
        let out_rx = out_user.map_rx().map_err(errno(outside, "map rx"))?;
        let out_tx = out_user.map_tx().map_err(errno(outside, "map tx"))?;
        umem.bind(&out_user).map_err(errno(outside, "bind"))?;

        let in_fd = in_user.as_raw_fd();
        let out_fd = out_user.as_raw_fd();
        let mut xsk = Xsk {
            area,
            len,
            umem,
            inside: Port {
                name: inside.into(),
                ifindex: in_info.ifindex(),
                dev: in_dev,
                rx: in_rx,
                tx: in_tx,
                in_fill: 0,
                _sock: in_sock,
                user: in_user,
                fd: in_fd,
            },
            outside: Port {
                name: outside.into(),
                ifindex: out_info.ifindex(),
                dev: out_dev,
                rx: out_rx,
                tx: out_tx,
                in_fill: 0,
                _sock: out_sock,
                user: out_user,
                fd: out_fd,
            },
            free: (0..FRAMES as u64)
                .rev()
                .map(|i| i * FRAME_SIZE as u64)
                .collect(),
        };
        xsk.refill();
        Ok(xsk)
    }

    /// The bytes of the frame region starting at UMEM offset `addr`, up to
    /// the end of its frame. The lifetime is not tied to `self`: the
    /// mapping lives as long as the worker, and frame ownership (ours
    /// between RX and TX/fill) is what keeps accesses exclusive.
    ///
    /// # Safety
    /// The frame must be owned by userspace (received and not yet handed
    /// back to a ring), no other live slice may alias it, and the slice
    /// must not outlive the `Xsk`.
    pub unsafe fn frame_mut<'a>(&self, addr: u64) -> &'a mut [u8] {
        let base = addr - addr % FRAME_SIZE as u64;
        let end = (base + FRAME_SIZE as u64) as usize;
        let start = addr as usize;
        debug_assert!(end <= self.len);
        unsafe { std::slice::from_raw_parts_mut(self.area.as_ptr().add(start), end - start) }
    }

    /// The whole frame containing `addr`, and the offset of `addr` in it.
    ///
    /// # Safety
    /// As for [`Xsk::frame_mut`].
    pub unsafe fn whole_frame_mut<'a>(&self, addr: u64) -> (&'a mut [u8], usize) {
        let base = addr - addr % FRAME_SIZE as u64;
        (unsafe { self.frame_mut(base) }, (addr - base) as usize)
    }

    /// Takes up to `out.len()` received descriptors from one port's RX
    /// ring; the frames are ours until released or transmitted.
    pub fn receive(&mut self, inside: bool, out: &mut [XdpDesc]) -> usize {
        let port = if inside {
            &mut self.inside
        } else {
            &mut self.outside
        };
        let mut rx = port.rx.receive(out.len() as u32);
        let mut n = 0;
        while n < out.len() {
            let Some(d) = rx.read() else { break };
            out[n] = d;
            n += 1;
        }
        rx.release();
        port.in_fill -= n as u32;
        n
    }

    pub fn alloc(&mut self) -> Option<u64> {
        self.free.pop()
    }

    pub fn release(&mut self, addr: u64) {
        self.free.push(addr - addr % FRAME_SIZE as u64);
    }

    pub fn free_frames(&self) -> usize {
        self.free.len()
    }

    /// Keeps both fill rings stocked (half of the frames in all), so the
    /// kernel always has somewhere to put received packets.
    pub fn refill(&mut self) {
        let target = RING - 1;
        for side in [true, false] {
            let want = {
                let port = if side { &self.inside } else { &self.outside };
                target
                    .saturating_sub(port.in_fill)
                    .min(self.free.len() as u32 / 2)
            };
            if want == 0 {
                continue;
            }
            let port = if side {
                &mut self.inside
            } else {
                &mut self.outside
            };
            let mut n = 0;
            {
                let mut w = port.dev.fill(want);
                while n < want {
                    let Some(f) = self.free.pop() else { break };
                    if !w.insert_once(f) {
                        self.free.push(f);
                        break;
                    }
                    n += 1;
                }
                w.commit();
            }
            port.in_fill += n;
            if port.dev.needs_wakeup() {
                port.dev.wake();
            }
        }
    }

    /// Returns completed transmit frames to the free list.
    pub fn reap_completions(&mut self) {
        for side in [true, false] {
            let port = if side {
                &mut self.inside
            } else {
                &mut self.outside
            };
            let mut r = port.dev.complete(RING);
            while let Some(addr) = r.read() {
                self.free.push(addr - addr % FRAME_SIZE as u64);
            }
            r.release();
        }
    }

    /// Queues `descs` for transmit on one port; frames that did not fit go
    /// back to the free list (counted by the caller as send errors).
    pub fn transmit(&mut self, inside: bool, descs: &[XdpDesc]) -> usize {
        if descs.is_empty() {
            return 0;
        }
        let port = if inside {
            &mut self.inside
        } else {
            &mut self.outside
        };
        // Copy mode (veth) sends at most 32 frames per kick (sendto), and
        // sends them before sendto returns. One kick per batch left the
        // rest in the ring: it filled under load and frames that had been
        // encrypted and counted were dropped ("ring full"), and a burst's
        // tail waited for the next packet. So: queue what fits, kick, and
        // repeat while the kick makes progress, until everything is queued
        // and the kernel has taken it. A device that takes nothing (or one
        // in zero-copy mode, which drains asynchronously) stops the loop
        // at the first kick without progress; the count bounds it anyway.
        const MAX_KICKS: u32 = RING / 32 + 2;
        let mut n = 0usize;
        for _ in 0..MAX_KICKS {
            if n < descs.len() {
                let mut w = port.tx.transmit((descs.len() - n) as u32);
                n += w.insert(descs[n..].iter().copied()) as usize;
                w.commit();
            }
            let before = port.tx.pending();
            port.tx.wake();
            // The kernel stops sending when the completion ring is full:
            // give the sent frames back as we go.
            {
                let mut r = port.dev.complete(RING);
                while let Some(addr) = r.read() {
                    self.free.push(addr - addr % FRAME_SIZE as u64);
                }
                r.release();
            }
            let after = port.tx.pending();
            if n == descs.len() && (after == 0 || after >= before) {
                break;
            }
        }
        for d in &descs[n..] {
            self.free.push(d.addr - d.addr % FRAME_SIZE as u64);
        }
        n
    }

    pub fn umem(&self) -> &Umem {
        &self.umem
    }
}

/// The kernel's counters of one AF_XDP socket (drops it made because our
/// rings were full or empty).
#[derive(Debug, Clone, Copy, Default)]
pub struct SocketStats {
    pub rx_dropped: u64,
    pub rx_ring_full: u64,
    pub rx_fill_ring_empty: u64,
    pub tx_invalid_descs: u64,
}

impl SocketStats {
    pub fn add(&mut self, o: &SocketStats) {
        self.rx_dropped += o.rx_dropped;
        self.rx_ring_full += o.rx_ring_full;
        self.rx_fill_ring_empty += o.rx_fill_ring_empty;
        self.tx_invalid_descs += o.tx_invalid_descs;
    }
}

impl Port {
    /// Whether the kernel runs this socket in zero-copy mode (the driver
    /// DMAs straight into the UMEM) rather than copy mode (veth, and
    /// drivers without AF_XDP support). The bind asks for neither, so the
    /// kernel takes zero-copy where it can.
    pub fn zero_copy(&self) -> Option<bool> {
        const SOL_XDP: libc::c_int = 283;
        const XDP_OPTIONS: libc::c_int = 8;
        const XDP_OPTIONS_ZEROCOPY: u32 = 1;
        let mut flags: u32 = 0;
        let mut len = std::mem::size_of::<u32>() as libc::socklen_t;
        // SAFETY: our socket; the kernel writes at most `len` bytes into
        // `flags` (struct xdp_options is one u32).
        let rc = unsafe {
            libc::getsockopt(
                self.fd,
                SOL_XDP,
                XDP_OPTIONS,
                (&mut flags as *mut u32).cast(),
                &mut len,
            )
        };
        (rc == 0).then_some(flags & XDP_OPTIONS_ZEROCOPY != 0)
    }

    pub fn stats(&self) -> SocketStats {
        match self.user.statistics_v2() {
            Ok(s) => SocketStats {
                rx_dropped: s.rx_dropped,
                rx_ring_full: s.rx_ring_full,
                rx_fill_ring_empty: s.rx_fill_ring_empty_descs,
                tx_invalid_descs: s.tx_invalid_descs,
            },
            Err(_) => SocketStats::default(),
        }
    }
}

impl Drop for Xsk {
    fn drop(&mut self) {
        // The sockets (and the rings pointing into the mapping) are closed
        // by their own Drops, which run after this one; unmap last would be
        // ideal, but leaking the mapping at shutdown is harmless compared
        // with unmapping memory the kernel may still write to.
    }
}
