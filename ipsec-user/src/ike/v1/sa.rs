//! The IKE SA record, its ASA state names and the records of child SAs.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::config::{IsakmpPolicy, Phase1Mode, SelectorId};
use super::quick_mode::QuickTask;
use crate::algo::{DhGroup, IkeAuth, IkeEncryption, IkeHash};
use crate::ike::crypto::{DhPrivate, Phase1Cipher, Phase1Keys};

pub use crate::ike::status::Role;

/// Phase-1 states with the names `show crypto isakmp sa` prints on an ASA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    MmNoState,
    MmWaitMsg2,
    MmWaitMsg3,
    MmWaitMsg4,
    MmWaitMsg5,
    MmWaitMsg6,
    MmActive,
    AmWaitMsg2,
    AmWaitMsg3,
    AmActive,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::MmNoState => "MM_NO_STATE",
            State::MmWaitMsg2 => "MM_WAIT_MSG2",
            State::MmWaitMsg3 => "MM_WAIT_MSG3",
            State::MmWaitMsg4 => "MM_WAIT_MSG4",
            State::MmWaitMsg5 => "MM_WAIT_MSG5",
            State::MmWaitMsg6 => "MM_WAIT_MSG6",
            State::MmActive => "MM_ACTIVE",
            State::AmWaitMsg2 => "AM_WAIT_MSG2",
            State::AmWaitMsg3 => "AM_WAIT_MSG3",
            State::AmActive => "AM_ACTIVE",
        }
    }
    pub fn is_active(self) -> bool {
        matches!(self, State::MmActive | State::AmActive)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// NAT-T facts learnt during phase 1 (RFC 3947).
#[derive(Debug, Clone, Copy, Default)]
pub struct NatState {
    /// Both sides sent the RFC 3947 vendor id.
    pub negotiated: bool,
    pub peer_dpd: bool,
    /// Our address is translated (the peer's NAT-D for us did not match).
    pub local_behind_nat: bool,
    pub remote_behind_nat: bool,
    /// IKE moved to port 4500 and ESP goes inside UDP.
    pub floated: bool,
}

/// A request we retransmit until its answer arrives.
#[derive(Debug, Clone)]
pub struct Retransmit {
    pub data: Vec<u8>,
    pub sent: u32,
    pub next: Instant,
    pub interval: Duration,
    /// Quick-mode message id this belongs to (None: phase 1).
    pub mid: Option<u32>,
}

impl Retransmit {
    /// A message just sent for the first time, next sent after `base`.
    pub fn first(data: Vec<u8>, now: Instant, base: Duration, mid: Option<u32>) -> Self {
        Retransmit {
            data,
            sent: 1,
            next: now + base,
            interval: base,
            mid,
        }
    }
}

#[derive(Debug, Default)]
pub struct DpdState {
    pub seq: u32,
    pub outstanding: Option<u32>,
    pub sent: u32,
    pub next: Option<Instant>,
}

/// One IKE (ISAKMP) SA.
pub struct IkeSa {
    pub id: u64,
    pub peer: Ipv4Addr,
    pub role: Role,
    pub mode: Phase1Mode,
    pub state: State,
    pub icookie: [u8; 8],
    pub rcookie: [u8; 8],
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub policy: Option<IsakmpPolicy>,
    pub lifetime_s: u32,
    /// The initiator's SA payload body (HASH_I/HASH_R cover it).
    pub sai_b: Vec<u8>,
    /// The peer's phase-1 ID payload body (aggressive-mode responder).
    pub peer_id_b: Vec<u8>,
    pub dh: Option<DhPrivate>,
    pub gxi: Vec<u8>,
    pub gxr: Vec<u8>,
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
    pub keys: Option<Phase1Keys>,
    pub cipher: Option<Phase1Cipher>,
    /// Phase-1 CBC chain; once active, the last phase-1 block, from which
    /// every quick-mode and informational IV is derived.
    pub iv: Vec<u8>,
    pub nat: NatState,
    pub retransmit: Option<Retransmit>,
    /// Digest of the last datagram we accepted, and our answer to it, so a
    /// duplicate gets the same answer and no new state.
    pub last_rx: Option<[u8; 20]>,
    pub last_reply: Option<Vec<u8>>,
    pub created: Instant,
    pub established: Option<Instant>,
    pub expires: Option<Instant>,
    pub last_heard: Instant,
    pub quick: HashMap<u32, QuickTask>,
    /// Quick modes finished recently: message id -> our last message, so a
    /// retransmitted QM2 gets our QM3 again.
    pub quick_done: Vec<(u32, Vec<u8>)>,
    /// Message ids of every quick mode started on this SA, for its whole
    /// life. A message id is used once per phase 1 (RFC 2409 section
    /// 5.5): a QM1 whose id finished already is a replay, and answering it
    /// would commit a second SA with the same peer SPI.
    pub used_mids: MidMemory,
    /// Message ids of the peer's authenticated informationals on this SA,
    /// for its whole life: a captured DELETE, INITIAL-CONTACT or DPD
    /// message replayed later is recognised and ignored.
    pub info_mids: MidMemory,
    /// INITIAL-CONTACT was acted on for this SA (it is, once at most).
    pub initial_contact_done: bool,
    /// Selectors to negotiate once phase 1 is up.
    pub pending: Vec<(SelectorId, Option<u32>)>,
    pub dpd: DpdState,
    pub keepalive_next: Option<Instant>,
    pub failure: Option<String>,
    pub send_initial_contact: bool,
}

/// How many message ids of each kind (quick mode, informational) one IKE
/// SA remembers against replay. An IKE SA lives at most its lifetime
/// (86,400 s by default): 32,768 is a quick mode every 2.6 s or a DPD
/// message every 2.6 s for a whole day. A peer that sends more is ignored
/// (counted) until the IKE SA is replaced; memory is at most a few hundred
/// KiB per IKE SA, and only an authenticated peer can fill it.
pub const MAX_USED_MIDS: usize = 32_768;

/// Message ids used on one IKE SA, kept for the SA's life, bounded.
#[derive(Debug, Default)]
pub struct MidMemory {
    ids: HashSet<u32>,
}

impl MidMemory {
    pub fn contains(&self, mid: u32) -> bool {
        self.ids.contains(&mid)
    }

    pub fn is_full(&self) -> bool {
        self.ids.len() >= MAX_USED_MIDS
    }

    /// Remembers `mid`; false when the memory is full (then nothing is
    /// forgotten: forgetting would let old messages be replayed).
    pub fn insert(&mut self, mid: u32) -> bool {
        if self.ids.contains(&mid) {
            return true;
        }
        if self.is_full() {
            return false;
        }
        self.ids.insert(mid);
        true
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

impl IkeSa {
    pub fn spi_bytes(&self) -> Vec<u8> {
        let mut v = self.icookie.to_vec();
        v.extend_from_slice(&self.rcookie);
        v
    }
}

/// A child (IPsec) SA pair we installed, for rekey, expiry and deletes.
#[derive(Debug, Clone)]
pub struct ChildRecord {
    pub peer: Ipv4Addr,
    /// The IKE SA whose quick mode created it (ids only grow): an
    /// INITIAL-CONTACT drops only children of older IKE SAs.
    pub ike_sa: u64,
    pub selector: SelectorId,
    pub inbound_spi: u32,
    pub outbound_spi: u32,
    pub created: Instant,
    pub soft: Instant,
    pub hard: Instant,
    pub used: bool,
    pub rekeyed: bool,
}

/// One line of `show crypto isakmp sa`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IsakmpSaInfo {
    pub peer: Ipv4Addr,
    pub role: Role,
    pub state: String,
    /// "Yes" once a newer SA to the same peer exists (ASA `Rekey`).
    pub rekey: bool,
    pub encryption: Option<IkeEncryption>,
    pub hash: Option<IkeHash>,
    pub group: Option<DhGroup>,
    pub auth: Option<IkeAuth>,
    pub lifetime_s: u32,
    pub remaining_s: Option<u64>,
    pub nat_t: bool,
    pub last_failure: Option<String>,
}

pub use crate::ike::status::PeerStatus;
