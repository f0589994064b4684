//! Next-hop MACs for the ESP worker, resolved off the packet path.
//!
//! The worker asks [`NextHops::lookup`], which never blocks: a hit answers
//! at once; a miss sends the destination to a resolver thread over a
//! bounded channel and answers [`Lookup::Pending`]. The resolver does the
//! rtnetlink route and neighbour lookups (and has the kernel ARP when it
//! knows no MAC yet), and sends the answer back over another bounded
//! channel, which the worker drains each batch ([`NextHops::poll_answers`]).
//!
//! Why: a netlink round trip, let alone an ARP resolution, takes from
//! microseconds to a second. Done inline, a scan of absent hosts from the
//! far LAN (or spoofed sources drawing ICMP errors) stalls the worker and
//! every SA it serves.
//!
//! The cache is fixed-size with LRU eviction (a scan evicts the coldest
//! entries, not the whole table), remembers failures for a short time
//! (a scan of absent hosts costs the resolver one attempt per host per
//! [`NEGATIVE_TTL`]), and serves a stale MAC while it refreshes it.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use super::neigh::Netlink;

/// A resolved MAC is used this long before it is refreshed (and served
/// while the refresh runs).
pub const POSITIVE_TTL: Duration = Duration::from_secs(5);
/// "No route" or "no ARP answer" is remembered this long.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(1);
/// A request with no answer after this long is sent again (the answer
/// channel was full, or the resolver is slow).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Entries in a worker's cache.
pub const CACHE_CAPACITY: usize = 4096;
/// Requests waiting for the resolver, and answers waiting for the worker.
pub const CHANNEL_CAPACITY: usize = 256;
/// How long the resolver waits for the kernel's ARP before answering "no".
const RESOLVE_TIME: Duration = Duration::from_secs(1);
/// How often it looks at the kernel's neighbour table while waiting.
const RESOLVE_POLL: Duration = Duration::from_millis(2);
/// Destinations the resolver waits on at once; past it, "no" at once.
const RESOLVE_WAITING: usize = 256;

/// What the worker may do with a packet for some destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Ready([u8; 6]),
    /// Asked; hold the packet (bounded) or drop it.
    Pending,
    /// No route or no neighbour (cached), or the resolver is saturated.
    Unreachable,
}

/// The resolver's answer: the MAC of `dst`'s next hop, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub dst: Ipv4Addr,
    pub mac: Option<[u8; 6]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ready { mac: [u8; 6], refreshing: bool },
    Pending,
    Negative,
}

const NIL: u32 = u32::MAX;

struct Node {
    dst: Ipv4Addr,
    state: State,
    /// When the state was set (answer received, request sent).
    at: Instant,
    prev: u32,
    next: u32,
}

/// Counters a worker reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NextHopStats {
    pub requests: u64,
    /// Misses not asked because the request channel was full.
    pub resolver_busy: u64,
    pub evictions: u64,
}

/// A worker's next-hop cache: a slab of nodes in an LRU list (head most
/// recent), indexed by destination. Nothing allocates after `new`.
pub struct NextHops {
    index: HashMap<Ipv4Addr, u32>,
    nodes: Vec<Node>,
    head: u32,
    tail: u32,
    capacity: usize,
    requests: SyncSender<Ipv4Addr>,
    answers: Receiver<Answer>,
    stats: NextHopStats,
}

impl NextHops {
    pub fn new(
        capacity: usize,
        requests: SyncSender<Ipv4Addr>,
        answers: Receiver<Answer>,
    ) -> NextHops {
        let capacity = capacity.max(1);
        NextHops {
            index: HashMap::with_capacity(capacity),
            nodes: Vec::with_capacity(capacity),
            head: NIL,
            tail: NIL,
            capacity,
            requests,
            answers,
            stats: NextHopStats::default(),
        }
    }

    pub fn stats(&self) -> NextHopStats {
        self.stats
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The next hop toward `dst`, never waiting for it.
    pub fn lookup(&mut self, dst: Ipv4Addr, now: Instant) -> Lookup {
        let Some(&i) = self.index.get(&dst) else {
            return self.miss(dst, now);
        };
        self.touch(i);
        let (state, at) = {
            let n = &self.nodes[i as usize];
            (n.state, n.at)
        };
        let age = now.saturating_duration_since(at);
        match state {
            State::Ready { mac, refreshing } => {
                if age >= POSITIVE_TTL && !refreshing && self.ask(dst) {
                    let n = &mut self.nodes[i as usize];
                    n.state = State::Ready {
                        mac,
                        refreshing: true,
                    };
                    n.at = now;
                }
                Lookup::Ready(mac)
            }
            State::Pending => {
                if age >= REQUEST_TIMEOUT && self.ask(dst) {
                    self.nodes[i as usize].at = now;
                }
                Lookup::Pending
            }
            State::Negative if age < NEGATIVE_TTL => Lookup::Unreachable,
            State::Negative => {
                if !self.ask(dst) {
                    return Lookup::Unreachable;
                }
                let n = &mut self.nodes[i as usize];
                n.state = State::Pending;
                n.at = now;
                Lookup::Pending
            }
        }
    }

    fn miss(&mut self, dst: Ipv4Addr, now: Instant) -> Lookup {
        if !self.ask(dst) {
            return Lookup::Unreachable;
        }
        self.insert(dst, State::Pending, now);
        Lookup::Pending
    }

    /// Sends a request without waiting; false (counted) when the resolver
    /// is behind.
    fn ask(&mut self, dst: Ipv4Addr) -> bool {
        match self.requests.try_send(dst) {
            Ok(()) => {
                self.stats.requests += 1;
                true
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.resolver_busy += 1;
                false
            }
        }
    }

    /// Takes the resolver's answers in; returns how many came.
    pub fn poll_answers(&mut self, now: Instant) -> usize {
        let mut n = 0;
        while let Ok(a) = self.answers.try_recv() {
            n += 1;
            // An answer for an entry evicted meanwhile is dropped: it
            // must not push a hotter one out.
            let Some(&i) = self.index.get(&a.dst) else {
                continue;
            };
            let node = &mut self.nodes[i as usize];
            node.at = now;
            node.state = match (a.mac, node.state) {
                (Some(mac), _) => State::Ready {
                    mac,
                    refreshing: false,
                },
                // A failed refresh ends the entry's life as a negative one.
                (None, _) => State::Negative,
            };
        }
        n
    }

    fn insert(&mut self, dst: Ipv4Addr, state: State, now: Instant) {
        let i = if self.nodes.len() < self.capacity {
            self.nodes.push(Node {
                dst,
                state,
                at: now,
                prev: NIL,
                next: NIL,
            });
            (self.nodes.len() - 1) as u32
        } else {
            // Full: reuse the least recently used node.
            let i = self.tail;
            self.unlink(i);
            let old = self.nodes[i as usize].dst;
            self.index.remove(&old);
            self.stats.evictions += 1;
            let n = &mut self.nodes[i as usize];
            n.dst = dst;
            n.state = state;
            n.at = now;
            i
        };
        self.index.insert(dst, i);
        self.push_front(i);
    }

    fn touch(&mut self, i: u32) {
        if self.head != i {
            self.unlink(i);
            self.push_front(i);
        }
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let n = &self.nodes[i as usize];
            (n.prev, n.next)
        };
        match prev {
            NIL => self.head = next,
            p => self.nodes[p as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.nodes[n as usize].prev = prev,
        }
    }

    fn push_front(&mut self, i: u32) {
        let old = self.head;
        {
            let n = &mut self.nodes[i as usize];
            n.prev = NIL;
            n.next = old;
        }
        if old != NIL {
            self.nodes[old as usize].prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
    }
}

/// Starts the resolver thread around `nl` (opened in the gateway's
/// namespace) and returns a cache wired to it. The thread ends when the
/// cache is dropped.
pub fn spawn_resolver(nl: Netlink, name: String) -> std::io::Result<NextHops> {
    let (req_tx, req_rx) = mpsc::sync_channel(CHANNEL_CAPACITY);
    let (ans_tx, ans_rx) = mpsc::sync_channel(CHANNEL_CAPACITY);
    std::thread::Builder::new()
        .name(name)
        .spawn(move || resolve_loop(nl, req_rx, ans_tx))?;
    Ok(NextHops::new(CACHE_CAPACITY, req_tx, ans_rx))
}

/// A destination whose neighbour the kernel is resolving.
struct Waiting {
    dst: Ipv4Addr,
    oif: u32,
    next_hop: Ipv4Addr,
    since: Instant,
}

fn resolve_loop(mut nl: Netlink, requests: Receiver<Ipv4Addr>, answers: SyncSender<Answer>) {
    let mut waiting: Vec<Waiting> = Vec::with_capacity(RESOLVE_WAITING);
    // A full answer channel drops the answer: the worker asks again after
    // REQUEST_TIMEOUT.
    let reply = |dst, mac| {
        let _ = answers.try_send(Answer { dst, mac });
    };
    loop {
        let next = if waiting.is_empty() {
            requests
                .recv()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected)
        } else {
            requests.recv_timeout(RESOLVE_POLL)
        };
        match next {
            Ok(dst) => match nl.route_get(dst) {
                Err(_) => reply(dst, None),
                Ok(route) => match nl.neigh_get(route.oif, route.next_hop) {
                    Ok(Some(mac)) => reply(dst, Some(mac)),
                    Ok(None) if waiting.len() < RESOLVE_WAITING => {
                        if nl.neigh_resolve(route.oif, route.next_hop).is_err() {
                            reply(dst, None);
                        } else {
                            waiting.push(Waiting {
                                dst,
                                oif: route.oif,
                                next_hop: route.next_hop,
                                since: Instant::now(),
                            });
                        }
                    }
                    _ => reply(dst, None),
                },
            },
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        waiting.retain(|w| match nl.neigh_get(w.oif, w.next_hop) {
            Ok(Some(mac)) => {
                reply(w.dst, Some(mac));
                false
            }
            _ if now.duration_since(w.since) > RESOLVE_TIME => {
                reply(w.dst, None);
                false
            }
            _ => true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(capacity: usize) -> (NextHops, Receiver<Ipv4Addr>, SyncSender<Answer>) {
        let (req_tx, req_rx) = mpsc::sync_channel(8);
        let (ans_tx, ans_rx) = mpsc::sync_channel(8);
        (NextHops::new(capacity, req_tx, ans_rx), req_rx, ans_tx)
    }

    fn host(i: u8) -> Ipv4Addr {
        Ipv4Addr::new(198, 51, 100, i)
    }

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

    /// A miss answers "pending" with no resolver running at all (nothing
    /// waits on netlink), asks once, and the answer makes it ready.
    #[test]
    fn a_miss_is_pending_at_once_and_asks_the_resolver_once() {
        let (mut nh, req, ans) = cache(16);
        let t0 = Instant::now();
        assert_eq!(nh.lookup(host(10), t0), Lookup::Pending);
        assert_eq!(req.try_recv(), Ok(host(10)));
        // Packets for the same host while it resolves ask nothing more.
        assert_eq!(nh.lookup(host(10), t0), Lookup::Pending);
        assert!(req.try_recv().is_err());
        ans.send(Answer {
            dst: host(10),
            mac: Some(MAC),
        })
        .unwrap();
        assert_eq!(nh.poll_answers(t0), 1);
        assert_eq!(nh.lookup(host(10), t0), Lookup::Ready(MAC));
        assert_eq!(nh.stats().requests, 1);
    }

    /// No route / no ARP answer is remembered for NEGATIVE_TTL: a scan of
    /// absent hosts costs one resolution per host per second, not one per
    /// packet; after it, the host is asked about again.
    #[test]
    fn a_failure_is_cached_then_retried() {
        let (mut nh, req, ans) = cache(16);
        let t0 = Instant::now();
        assert_eq!(nh.lookup(host(99), t0), Lookup::Pending);
        req.try_recv().unwrap();
        ans.send(Answer {
            dst: host(99),
            mac: None,
        })
        .unwrap();
        nh.poll_answers(t0);
        for ms in [0, 10, 500, 999] {
            let t = t0 + Duration::from_millis(ms);
            assert_eq!(nh.lookup(host(99), t), Lookup::Unreachable);
        }
        assert!(req.try_recv().is_err(), "no request while negative");
        let later = t0 + NEGATIVE_TTL;
        assert_eq!(nh.lookup(host(99), later), Lookup::Pending);
        assert_eq!(req.try_recv(), Ok(host(99)));
    }

    /// At capacity the least recently used entry goes, one at a time; the
    /// hot entries survive a scan (the old cache was cleared whole).
    #[test]
    fn the_cache_evicts_the_least_recently_used_entry() {
        let (mut nh, req, ans) = cache(4);
        let t0 = Instant::now();
        for i in 1..=4 {
            nh.lookup(host(i), t0);
            req.try_recv().unwrap();
            ans.send(Answer {
                dst: host(i),
                mac: Some([2, 0, 0, 0, 0, i]),
            })
            .unwrap();
        }
        nh.poll_answers(t0);
        // Host 1 is used again: host 2 is now the coldest.
        assert_eq!(nh.lookup(host(1), t0), Lookup::Ready([2, 0, 0, 0, 0, 1]));
        assert_eq!(nh.lookup(host(50), t0), Lookup::Pending);
        req.try_recv().unwrap();
        assert_eq!(nh.len(), 4);
        assert_eq!(nh.stats().evictions, 1);
        for i in [1, 3, 4] {
            assert_eq!(
                nh.lookup(host(i), t0),
                Lookup::Ready([2, 0, 0, 0, 0, i]),
                "host {i} kept"
            );
        }
        // Host 2 was evicted: asking again is a miss.
        assert_eq!(nh.lookup(host(2), t0), Lookup::Pending);
        assert_eq!(req.try_recv(), Ok(host(2)));
        // A long scan keeps the cache at its size and the hot host in it.
        assert_eq!(nh.lookup(host(1), t0), Lookup::Ready([2, 0, 0, 0, 0, 1]));
        for i in 100..200 {
            nh.lookup(host(i), t0);
            let _ = req.try_recv();
            assert_eq!(nh.lookup(host(1), t0), Lookup::Ready([2, 0, 0, 0, 0, 1]));
        }
        assert_eq!(nh.len(), 4);
    }

    /// A full request channel (the resolver behind) answers "unreachable"
    /// at once and is counted; nothing blocks.
    #[test]
    fn a_saturated_resolver_is_counted_not_waited_for() {
        let (req_tx, req_rx) = mpsc::sync_channel(2);
        let (_ans_tx, ans_rx) = mpsc::sync_channel(2);
        let mut nh = NextHops::new(16, req_tx, ans_rx);
        let t0 = Instant::now();
        assert_eq!(nh.lookup(host(1), t0), Lookup::Pending);
        assert_eq!(nh.lookup(host(2), t0), Lookup::Pending);
        assert_eq!(nh.lookup(host(3), t0), Lookup::Unreachable);
        assert_eq!(nh.stats().resolver_busy, 1);
        // Not cached: once the resolver catches up, the host is asked.
        req_rx.try_recv().unwrap();
        assert_eq!(nh.lookup(host(3), t0), Lookup::Pending);
    }

    /// A stale MAC is still served while its refresh runs.
    #[test]
    fn a_stale_entry_is_served_while_refreshed() {
        let (mut nh, req, ans) = cache(4);
        let t0 = Instant::now();
        nh.lookup(host(7), t0);
        req.try_recv().unwrap();
        ans.send(Answer {
            dst: host(7),
            mac: Some(MAC),
        })
        .unwrap();
        nh.poll_answers(t0);
        let stale = t0 + POSITIVE_TTL;
        assert_eq!(nh.lookup(host(7), stale), Lookup::Ready(MAC));
        assert_eq!(req.try_recv(), Ok(host(7)), "refresh asked");
        assert_eq!(nh.lookup(host(7), stale), Lookup::Ready(MAC));
        assert!(req.try_recv().is_err(), "asked once");
    }
}
