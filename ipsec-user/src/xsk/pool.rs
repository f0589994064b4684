//! One ESP worker per queue: the workers of a gateway, spoken to as one.
//!
//! Worker N owns queue N of the inside and of the outside interface (one
//! UMEM for the pair, so a packet leaves on the other interface without a
//! copy). The XDP programs redirect to the socket of the queue a packet
//! arrived on, so the NIC's RSS spreads flows over workers. Every worker
//! gets its own handle on every SA ([`OutboundSa::new_group`],
//! [`InboundSa::new_group`]); handles share sequence numbers, the replay
//! window and the lifetime through atomics, and keep their own counters,
//! which [`Workers::snapshot`] adds up.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use super::worker::{
    self, EngineStats, Reassembled, SaSnapshot, Snapshot, WorkerCmd, WorkerConfig, WorkerError,
};
use crate::esp::{InboundSa, OutboundSa};

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("cannot count the receive queues of `{0}`: {1}")]
    Queues(String, std::io::Error),
    #[error(
        "inside `{inside}` has {n_in} receive queue(s) and outside `{outside}` has {n_out}: \
         the ESP engine runs one worker per pair of queues; give both the same number \
         (ethtool -L IFACE combined N)"
    )]
    QueueMismatch {
        inside: String,
        outside: String,
        n_in: u32,
        n_out: u32,
    },
    #[error("ESP worker for queue {queue}: {source}")]
    Worker { queue: u32, source: WorkerError },
    #[error("the ESP worker for queue {0} has stopped")]
    Gone(u32),
}

/// The receive queues an interface uses now, in the calling thread's
/// network namespace: ETHTOOL_GCHANNELS' current rx + combined counts
/// (what `ethtool -l` shows). Netlink's IFLA_NUM_RX_QUEUES is the number
/// allocated, not in use (veth allocates one per CPU and uses one), and
/// sysfs shows the mount's namespace. A driver without channel support
/// has one queue.
pub fn rx_queues(ifname: &str) -> std::io::Result<u32> {
    const ETHTOOL_GCHANNELS: u32 = 0x3c;
    // struct ethtool_channels: cmd, max_rx, max_tx, max_other,
    // max_combined, rx_count, tx_count, other_count, combined_count.
    let mut ch = [0u32; 9];
    ch[0] = ETHTOOL_GCHANNELS;
    let asked = super::iface::ioctl(ifname, libc::SIOCETHTOOL, |req| {
        req.ifr_ifru.ifru_data = ch.as_mut_ptr().cast();
    });
    match asked {
        Ok(_) => Ok((ch[5] + ch[8]).max(1)),
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(1),
        Err(e) => Err(e),
    }
}

/// How many workers two interfaces need: one per pair of queues, so both
/// must have the same number (a queue without a worker would drop what
/// the XDP program redirects to it).
pub fn queue_pairs(inside: &str, outside: &str) -> Result<u32, PoolError> {
    let q = |name: &str| rx_queues(name).map_err(|e| PoolError::Queues(name.into(), e));
    let (n_in, n_out) = (q(inside)?, q(outside)?);
    if n_in != n_out {
        return Err(PoolError::QueueMismatch {
            inside: inside.into(),
            outside: outside.into(),
            n_in,
            n_out,
        });
    }
    Ok(n_in.max(1))
}

struct Handle {
    queue: u32,
    tx: mpsc::Sender<WorkerCmd>,
    reassembled: mpsc::SyncSender<Reassembled>,
    fds: (i32, i32),
    _thread: std::thread::JoinHandle<()>,
}

/// The running workers, one per queue.
pub struct Workers {
    workers: Vec<Handle>,
    /// Reassembled ESP not handed over: the worker's queue was full.
    reassembled_dropped: AtomicU64,
}

impl Workers {
    /// Starts one worker per queue of the interfaces named in `base`
    /// (whose `queue` is ignored). Call from a thread in the gateway's
    /// namespace.
    pub fn spawn(base: &WorkerConfig) -> Result<Workers, PoolError> {
        let n = queue_pairs(&base.inside, &base.outside)?;
        let mut workers = Vec::new();
        for queue in 0..n {
            let cfg = WorkerConfig {
                queue,
                ..base.clone()
            };
            let (tx, reassembled, fds, thread) =
                worker::spawn(cfg).map_err(|source| PoolError::Worker { queue, source })?;
            workers.push(Handle {
                queue,
                tx,
                reassembled,
                fds,
                _thread: thread,
            });
        }
        Ok(Workers {
            workers,
            reassembled_dropped: AtomicU64::new(0),
        })
    }

    /// Hands ESP the kernel reassembled (SPI to ICV) to the worker that
    /// decrypts inbound SA `sa_id`'s reassembled packets (any worker
    /// holds a handle on every SA; one per SA keeps them in order).
    /// Never waits: a full queue drops the packet, counted. Returns
    /// whether it was handed over.
    pub fn deliver_reassembled(&self, sa_id: u32, esp: Vec<u8>) -> bool {
        let Some(w) = self.workers.get(sa_id as usize % self.workers.len().max(1)) else {
            return false;
        };
        match w.reassembled.try_send(Reassembled { sa_id, esp }) {
            Ok(()) => true,
            Err(_) => {
                self.reassembled_dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// How many workers (and handles per SA) there are.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// (queue, inside socket fd, outside socket fd) for the XSKMAPs.
    pub fn sockets(&self) -> impl Iterator<Item = (u32, i32, i32)> + '_ {
        self.workers.iter().map(|w| (w.queue, w.fds.0, w.fds.1))
    }

    fn send(&self, w: &Handle, cmd: WorkerCmd) -> Result<(), PoolError> {
        w.tx.send(cmd).map_err(|_| PoolError::Gone(w.queue))
    }

    /// Gives each worker its handle on a new inbound SA (`sas` comes from
    /// [`InboundSa::new_group`] with [`Workers::len`] handles).
    pub fn install_inbound(&self, sa_id: u32, sas: Vec<InboundSa>) -> Result<(), PoolError> {
        for (w, sa) in self.workers.iter().zip(sas) {
            self.send(
                w,
                WorkerCmd::InstallInbound {
                    sa_id,
                    sa: Box::new(sa),
                },
            )?;
        }
        Ok(())
    }

    /// Gives each worker its handle on a new outbound SA; each releases
    /// the packets it held for the selector.
    pub fn install_outbound(
        &self,
        sa_id: u32,
        selector: u32,
        peer: Ipv4Addr,
        sas: Vec<OutboundSa>,
    ) -> Result<(), PoolError> {
        for (w, sa) in self.workers.iter().zip(sas) {
            self.send(
                w,
                WorkerCmd::InstallOutbound {
                    sa_id,
                    selector,
                    peer,
                    sa: Box::new(sa),
                },
            )?;
        }
        Ok(())
    }

    pub fn remove(&self, sa_id: u32) {
        for w in &self.workers {
            let _ = self.send(w, WorkerCmd::Remove { sa_id });
        }
    }

    pub fn stop(&self) {
        for w in &self.workers {
            let _ = self.send(w, WorkerCmd::Stop);
        }
    }

    /// Every worker's counters added up: one entry per SA (its handles'
    /// counters summed; rekey and expiry are the SA's, so any handle
    /// saying so speaks for all), engine counters summed, and each
    /// worker's own engine counters in `per_queue`.
    pub fn snapshot(&self) -> Snapshot {
        let replies: Vec<_> = self
            .workers
            .iter()
            .filter_map(|w| {
                let (tx, rx) = mpsc::channel();
                self.send(w, WorkerCmd::Snapshot(tx)).ok().map(|_| rx)
            })
            .collect();
        let mut sas: BTreeMap<(u32, bool), SaSnapshot> = BTreeMap::new();
        let mut stats = EngineStats::default();
        let mut per_queue = Vec::with_capacity(self.workers.len());
        for rx in replies {
            let s = rx.recv_timeout(Duration::from_secs(2)).unwrap_or_default();
            for sa in s.sas {
                sas.entry((sa.sa_id, sa.outbound))
                    .and_modify(|m| {
                        m.counters.add(&sa.counters);
                        m.needs_rekey |= sa.needs_rekey;
                        m.expired |= sa.expired;
                    })
                    .or_insert(sa);
            }
            stats.add(&s.stats);
            per_queue.push(s.stats);
        }
        stats.reassembled_dropped += self.reassembled_dropped.load(Ordering::Relaxed);
        Snapshot {
            sas: sas.into_values().collect(),
            stats,
            per_queue,
        }
    }
}
