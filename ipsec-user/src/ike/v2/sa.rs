//! The IKEv2 SA record: the shared core facts (peer, SPIs, addresses,
//! keys, timers) and the IKEv2 state (message ids, the outstanding request
//! and its retransmission, the cached response, queued requests).

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use crate::algo::DhGroup;
use crate::ike::config::SelectorId;
use crate::ike::crypto::DhPrivate;
use crate::ike::crypto::keys_v2::IkeSaKeys;
use crate::ike::crypto::sk::Reassembly;
use crate::ike::status::Role;

/// Where an IKE SA is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Initiator: IKE_SA_INIT sent.
    InitSent,
    /// Responder: IKE_SA_INIT answered, waiting for IKE_AUTH.
    InitDone,
    /// Initiator: IKE_AUTH sent.
    AuthSent,
    /// Authenticated ("READY").
    Established,
    /// Replaced by a rekeyed IKE SA, or being deleted: only the DELETE
    /// exchange may still run on it.
    Retiring,
}

impl State {
    /// The ASA status word of `show crypto ikev2 sa`.
    pub fn asa_name(self) -> &'static str {
        match self {
            State::InitSent | State::InitDone | State::AuthSent => "IN-NEG",
            State::Established => "READY",
            State::Retiring => "DELETE",
        }
    }

    pub fn is_established(self) -> bool {
        self == State::Established
    }
}

/// A request this side will send when the window (size 1) is free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queued {
    /// CREATE_CHILD_SA for a new child; `rekey`: the inbound SPI of the
    /// child it replaces.
    Child {
        selector: SelectorId,
        rekey: Option<u32>,
    },
    /// CREATE_CHILD_SA rekeying this IKE SA.
    RekeyIke,
    /// INFORMATIONAL with no payloads (liveness).
    Dpd,
    /// INFORMATIONAL DELETE of children, by our inbound SPIs.
    DeleteChildren(Vec<u32>),
}

/// What an outstanding request was, with the secrets its response needs.
pub enum Sent {
    /// IKE_SA_INIT (cleartext; its response is handled apart).
    Init,
    Auth {
        selector: SelectorId,
        our_spi: u32,
    },
    Child {
        selector: SelectorId,
        rekey: Option<u32>,
        our_spi: u32,
        nonce: Vec<u8>,
        dh: Option<DhPrivate>,
        /// When the peer rekeyed the same child meanwhile (2.8.1): the
        /// nonces of its exchange and the inbound SPI we created for it.
        collided: Option<(Vec<u8>, Vec<u8>, u32)>,
    },
    RekeyIke {
        new_spi: [u8; 8],
        nonce: Vec<u8>,
        dh: DhPrivate,
    },
    Dpd,
    DeleteChildren(Vec<u32>),
    DeleteIke,
}

impl Sent {
    pub fn name(&self) -> &'static str {
        match self {
            Sent::Init => "IKE_SA_INIT",
            Sent::Auth { .. } => "IKE_AUTH",
            Sent::Child { rekey: None, .. } => "CREATE_CHILD_SA",
            Sent::Child { .. } => "CREATE_CHILD_SA (child rekey)",
            Sent::RekeyIke { .. } => "CREATE_CHILD_SA (IKE SA rekey)",
            Sent::Dpd => "INFORMATIONAL (liveness)",
            Sent::DeleteChildren(_) => "INFORMATIONAL (child delete)",
            Sent::DeleteIke => "INFORMATIONAL (IKE delete)",
        }
    }
}

/// Our request awaiting its response, retransmitted on a doubling
/// interval (one schedule for every exchange).
pub struct Outstanding {
    pub mid: u32,
    /// The datagram(s) of the request (several when fragmented).
    pub datagrams: Vec<Vec<u8>>,
    pub sent: u32,
    pub tries: u32,
    pub next: Instant,
    pub interval: Duration,
    pub what: Sent,
}

/// NAT-T facts (RFC 7296 2.23).
#[derive(Debug, Clone, Copy, Default)]
pub struct Nat {
    pub local_behind: bool,
    pub remote_behind: bool,
    /// IKE moved to 4500 and ESP goes inside UDP.
    pub floated: bool,
}

/// One IKEv2 SA.
pub struct IkeSa {
    pub id: u64,
    /// The configured address this SA belongs to.
    pub peer: Ipv4Addr,
    /// We are the original initiator (our SPI is SPIi).
    pub role: Role,
    pub state: State,
    pub spi_i: [u8; 8],
    pub spi_r: [u8; 8],
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub group: DhGroup,
    pub keys: Option<IkeSaKeys>,
    pub dh: Option<DhPrivate>,
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
    /// The whole IKE_SA_INIT request and response as sent: each side's
    /// AUTH signs its own.
    pub init_req: Vec<u8>,
    pub init_resp: Vec<u8>,
    /// A COOKIE the responder gave us (replayed in IKE_SA_INIT).
    pub cookie: Option<Vec<u8>>,
    /// IKE_SA_INIT restarts after INVALID_KE_PAYLOAD / COOKIE (bounded).
    pub restarts: u32,
    /// Both sides announced IKEV2_FRAGMENTATION_SUPPORTED.
    pub fragmentation: bool,
    pub frag_rx: Reassembly,
    pub nat: Nat,
    /// Our next request's message id.
    pub next_mid: u32,
    /// The message id of the peer's next request.
    pub peer_mid: u32,
    pub outstanding: Option<Outstanding>,
    pub queue: VecDeque<Queued>,
    /// Our response to the peer's last request (message id, datagrams):
    /// a retransmitted request gets it again, nothing is processed twice.
    pub last_response: Option<(u32, Vec<Vec<u8>>)>,
    pub created: Instant,
    pub established: Option<Instant>,
    pub lifetime_s: u32,
    /// When we start rekeying this IKE SA (None: not ours to rekey yet).
    pub rekey_at: Option<Instant>,
    pub expires: Option<Instant>,
    /// Last authenticated message (or ESP) from the peer.
    pub last_heard: Instant,
    pub dpd_next: Option<Instant>,
    pub keepalive_next: Option<Instant>,
    /// Selectors to negotiate: the first rides in IKE_AUTH, the others in
    /// CREATE_CHILD_SA once the SA is up.
    pub pending: Vec<SelectorId>,
    /// Send INITIAL_CONTACT in IKE_AUTH.
    pub initial_contact: bool,
    /// The peer rekeyed this IKE SA while our own rekey of it was under
    /// way (RFC 7296 2.25.2): our SPI of the SA it made, which took the
    /// children, and the lower of that exchange's two nonces. Our rekey's
    /// answer then decides which of the two new SAs stays (2.8.2).
    pub rekey_collision: Option<([u8; 8], Vec<u8>)>,
}

/// Who an IKE SA is with and where, as every way of making one knows it.
pub struct IkeSaStart {
    pub id: u64,
    pub peer: Ipv4Addr,
    pub role: Role,
    pub state: State,
    pub spi_i: [u8; 8],
    pub spi_r: [u8; 8],
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub group: DhGroup,
    pub now: Instant,
}

impl IkeSa {
    /// An SA with nothing negotiated yet: no keys, message ids at 0, no
    /// timers, nothing queued. Callers set what their exchange knows.
    pub fn new(s: IkeSaStart) -> IkeSa {
        IkeSa {
            id: s.id,
            peer: s.peer,
            role: s.role,
            state: s.state,
            spi_i: s.spi_i,
            spi_r: s.spi_r,
            local: s.local,
            remote: s.remote,
            group: s.group,
            keys: None,
            dh: None,
            ni: Vec::new(),
            nr: Vec::new(),
            init_req: Vec::new(),
            init_resp: Vec::new(),
            cookie: None,
            restarts: 0,
            fragmentation: false,
            frag_rx: Default::default(),
            nat: Nat::default(),
            next_mid: 0,
            peer_mid: 0,
            outstanding: None,
            queue: Default::default(),
            last_response: None,
            created: s.now,
            established: None,
            lifetime_s: 86400,
            rekey_at: None,
            expires: None,
            last_heard: s.now,
            dpd_next: None,
            keepalive_next: None,
            pending: Vec::new(),
            initial_contact: false,
            rekey_collision: None,
        }
    }

    /// Our SPI: the key of the SA table.
    pub fn our_spi(&self) -> [u8; 8] {
        match self.role {
            Role::Initiator => self.spi_i,
            Role::Responder => self.spi_r,
        }
    }

    pub fn is_initiator(&self) -> bool {
        self.role == Role::Initiator
    }
}

/// A CHILD SA pair we installed.
#[derive(Debug, Clone)]
pub struct Child {
    pub peer: Ipv4Addr,
    /// Our SPI of the IKE SA it lives under (moves on IKE rekey).
    pub ike_spi: [u8; 8],
    pub selector: SelectorId,
    pub inbound_spi: u32,
    pub outbound_spi: u32,
    pub transform: crate::algo::EspTransform,
    pub local_ts: crate::ike::wire::v2::TrafficSelectorV2,
    pub remote_ts: crate::ike::wire::v2::TrafficSelectorV2,
    pub soft: Instant,
    pub hard: Instant,
    pub used: bool,
    pub rekeying: bool,
    /// A rekey we started replaced it: it lingers until `hard` (moved
    /// close), then we delete it.
    pub replaced: bool,
}
