//! Two sans-IO IKE engines back to back (`ipsecgw::ike::Engine`, the
//! dispatcher, so IKEv1 and IKEv2 tests drive them alike): datagrams one
//! sends are handed to the other, through a hook that can drop,
//! duplicate or delay them; time is moved by hand. Outputs other than
//! datagrams are collected per side for the test to inspect.

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use ipsecgw::ike::config::{LocalConfig, PeerConfig};
use ipsecgw::ike::{ChildSa, Engine, FailureReason, Output};

use crate::engine_config::{EAST, WEST};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    West,
    East,
}

#[derive(Debug, Clone)]
pub struct Packet {
    pub to_side: Side,
    pub from: SocketAddrV4,
    pub to: SocketAddrV4,
    pub data: Vec<u8>,
}

pub enum Action {
    Deliver,
    Drop,
    Duplicate,
    /// Hold it back and deliver it after the next packet.
    Delay,
}

/// Decides the fate of the n-th delivered datagram.
pub type Hook = Box<dyn FnMut(usize, &Packet) -> Action>;

pub struct Pair {
    pub west: Engine,
    pub east: Engine,
    pub now: Instant,
    pub queue: Vec<Packet>,
    pub delivered: usize,
    pub events_west: Vec<Output>,
    pub events_east: Vec<Output>,
    pub sent: Vec<Packet>,
    pub hook: Hook,
}

impl Pair {
    pub fn new(west: PeerConfig, east: PeerConfig) -> Pair {
        let mut w = Engine::new(LocalConfig::new(WEST));
        w.set_peers(vec![west]);
        let mut e = Engine::new(LocalConfig::new(EAST));
        e.set_peers(vec![east]);
        Pair {
            west: w,
            east: e,
            now: Instant::now(),
            queue: Vec::new(),
            delivered: 0,
            events_west: Vec::new(),
            events_east: Vec::new(),
            sent: Vec::new(),
            hook: Box::new(|_, _| Action::Deliver),
        }
    }

    pub fn absorb(&mut self, side: Side, outs: Vec<Output>) {
        for o in outs {
            match o {
                Output::Send { from, to, data } => {
                    let to_side = if *to.ip() == WEST {
                        Side::West
                    } else {
                        Side::East
                    };
                    let p = Packet {
                        to_side,
                        from,
                        to,
                        data,
                    };
                    self.sent.push(p.clone());
                    self.queue.push(p);
                }
                other => match side {
                    Side::West => self.events_west.push(other),
                    Side::East => self.events_east.push(other),
                },
            }
        }
    }

    /// Deliver queued datagrams until none is left (bounded).
    pub fn run(&mut self) {
        let mut held: Option<Packet> = None;
        for _ in 0..1000 {
            if self.queue.is_empty() {
                if let Some(h) = held.take() {
                    self.queue.push(h);
                    continue;
                }
                return;
            }
            let p = self.queue.remove(0);
            let idx = self.delivered;
            self.delivered += 1;
            let action = (self.hook)(idx, &p);
            let copies = match action {
                Action::Deliver => 1,
                Action::Drop => 0,
                Action::Duplicate => 2,
                Action::Delay => {
                    held = Some(p);
                    continue;
                }
            };
            for _ in 0..copies {
                self.deliver(&p);
            }
            if let Some(h) = held.take() {
                self.deliver(&h);
            }
        }
        panic!("datagram ping-pong did not settle");
    }

    /// Hands one datagram to its side now (bypassing the queue and the
    /// hook), queueing what that side sends back: for tests that order
    /// deliveries themselves.
    pub fn deliver(&mut self, p: &Packet) {
        let now = self.now;
        let outs = match p.to_side {
            Side::West => self.west.handle_datagram(now, p.from, p.to, &p.data),
            Side::East => self.east.handle_datagram(now, p.from, p.to, &p.data),
        };
        self.absorb(p.to_side, outs);
    }

    pub fn initiate_west(&mut self) {
        let outs = self.west.initiate(self.now, EAST, 1);
        self.absorb(Side::West, outs);
        self.run();
    }

    /// Move time forward in 1 s steps, firing timers.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += Duration::from_secs(1).min(end - self.now);
            let now = self.now;
            let w = self.west.on_timer(now);
            self.absorb(Side::West, w);
            let e = self.east.on_timer(now);
            self.absorb(Side::East, e);
            self.run();
        }
    }

    pub fn ups(&self, side: Side) -> Vec<&ChildSa> {
        let ev = if side == Side::West {
            &self.events_west
        } else {
            &self.events_east
        };
        ev.iter()
            .filter_map(|o| match o {
                Output::ChildSaUp(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    pub fn failures(&self, side: Side) -> Vec<&FailureReason> {
        let ev = if side == Side::West {
            &self.events_west
        } else {
            &self.events_east
        };
        ev.iter()
            .filter_map(|o| match o {
                Output::Failure { reason, .. } => Some(reason),
                _ => None,
            })
            .collect()
    }

    pub fn downs(&self, side: Side) -> Vec<u32> {
        let ev = if side == Side::West {
            &self.events_west
        } else {
            &self.events_east
        };
        ev.iter()
            .filter_map(|o| match o {
                Output::ChildSaDown { inbound_spi, .. } => Some(*inbound_spi),
                _ => None,
            })
            .collect()
    }

    pub fn count(&self, side: Side, f: impl Fn(&Output) -> bool) -> usize {
        let ev = if side == Side::West {
            &self.events_west
        } else {
            &self.events_east
        };
        ev.iter().filter(|o| f(o)).count()
    }

    /// Both sides have exactly one SA pair and they mirror each other.
    pub fn assert_mirrored(&self) -> (ChildSa, ChildSa) {
        let w = self.ups(Side::West);
        let e = self.ups(Side::East);
        assert_eq!(
            w.len(),
            1,
            "west child SAs: {:?} failures {:?}",
            w,
            self.failures(Side::West)
        );
        assert_eq!(
            e.len(),
            1,
            "east child SAs: {:?} failures {:?}",
            e,
            self.failures(Side::East)
        );
        let (w, e) = (w[0].clone(), e[0].clone());
        assert_eq!(w.inbound_spi, e.outbound_spi);
        assert_eq!(w.outbound_spi, e.inbound_spi);
        assert_ne!(w.inbound_spi, w.outbound_spi);
        assert!(w.inbound_spi > 255 && e.inbound_spi > 255);
        assert_eq!(w.transform, e.transform);
        assert_eq!(w.inbound_keymat.len(), w.transform.keymat_len());
        assert_eq!(*w.inbound_keymat, *e.outbound_keymat);
        assert_eq!(*w.outbound_keymat, *e.inbound_keymat);
        assert_ne!(*w.inbound_keymat, *w.outbound_keymat);
        assert_eq!(w.local_ts, e.remote_ts);
        assert_eq!(w.remote_ts, e.local_ts);
        (w, e)
    }
}
