//! BPF loader, typed maps, punt stream and counters.
//!
//! [`Dataplane::load`] loads the embedded eBPF object (built by
//! `ipsec-user/build.rs` from `ipsec-ebpf`), attaches XDP to the inside and
//! outside interfaces and the TC egress guard to the outside interface,
//! and pins maps and links under a per-instance bpffs directory so the
//! guard keeps dropping protected cleartext after the daemon dies. That
//! directory must be on a bpffs that outlives the daemon ([`pinfs`]
//! chooses it, or refuses). A new
//! `load` with the same pin directory reuses the pinned maps (the ACL stays
//! enforced) and atomically swaps the programs behind the pinned links
//! (`bpf_link_update`); SAs of the dead daemon are cleared. If the object
//! changed (another build), the pinned maps are replaced and the ACL must
//! be set again. [`Dataplane::detach`] removes links and pins.
//!
//! Decisions the programs implement (see `ipsec-ebpf/src/main.rs`):
//! - Inside, malformed IPv4 (truncated header, IHL < 5, total length
//!   beyond the frame or below the header) is dropped: its protection
//!   status is unknown. Total length below the frame (padding) is fine.
//! - Inside, IPv4 fragments (and TCP/UDP without a readable L4 header) are
//!   classified with ports unknown: a port-constrained `permit` line is
//!   taken to match, a port-constrained `deny` line is not. Fragments of a
//!   protected flow are therefore always encrypted or held, never passed.
//! - One 802.1Q/802.1ad tag is parsed; a second tag makes the frame
//!   "not IPv4" (passed; the TC guard still checks whatever leaves outside).
//! - Outside, fragments are passed to the stack for reassembly: reassembled
//!   UDP 4500 reaches the daemon's socket (which can hand ESP-in-UDP to the
//!   engine); reassembled raw ESP has no kernel handler here and dies in
//!   the stack. It is ciphertext either way. Malformed IPv4 also goes to
//!   the stack, which drops it.
//! - TC egress passes ESP always and UDP from port 500/4500 unclassified
//!   only when one of the daemon's IKE sockets sent it (socket cookie in
//!   `IKE_SOCKETS`, see [`Dataplane::set_ike_sockets`]); other IPv4 that
//!   matches a `permit` line is dropped, malformed IPv4 too.
//! - The engine learns the verdict from `bpf_xdp_adjust_meta` metadata
//!   ([`meta::decode`] on the 28 bytes before the frame in UMEM); verified
//!   with a real AF_XDP socket in copy mode on veth (`tests/bpf_live.rs`).

pub mod acl;
pub mod bench;
pub mod bpf_log;
pub mod counters;
pub mod meta;
pub mod pinfs;
pub mod punt;

use std::{
    fs,
    net::Ipv4Addr,
    os::fd::{AsRawFd, RawFd},
    path::{Path, PathBuf},
    time::Duration,
};

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, HashMap, MapData, MapError, PerCpuArray, PerCpuHashMap, RingBuf, XskMap},
    programs::{
        LinkOrder, ProgramError, SchedClassifier, TcAttachType, TestRun, TestRunOptions, Xdp,
        XdpMode as AyaXdpMode,
        links::{FdLink, LinkError, PinnedLink},
        tc::{SchedClassifierLink, TcAttachOptions},
        xdp::XdpLink,
    },
};
use ipsec_common::{
    ACL_CHAIN_ENTRIES, ACL_FILTER_WORDS, ACL_MAX_TUPLES, AclBucket, AclConfig, AclFilter, AclKey,
    AclTuple, InboundSa, OutboundSa, PuntConfig, SaCounters, VERDICT_COUNT, map_names as names,
    prog_names,
};

pub use acl::{AclAction, AclError, AclRule, CompiledAcl};
pub use counters::{SaStats, VerdictCounters, verdict_name};
pub use ipsec_common::Verdict;
pub use meta::{FrameMeta, FrameVerdict, Route};
pub use punt::{PuntDecodeError, PuntEvent, PuntKind, PuntStream};

/// The eBPF object, empty when built with `IPSECGW_SKIP_EBPF=1`.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ipsec-ebpf.o"));

/// Root of all instances' pins by default (see [`pinfs::resolve`]).
pub const PIN_ROOT: &str = pinfs::DEFAULT_PIN_ROOT;
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum XdpMode {
    /// Driver mode (the default, and the only fast one).
    #[default]
    Native,
    /// Generic mode: works everywhere, slow.
    Skb,
}

#[derive(Clone, Debug)]
pub struct DataplaneConfig {
    pub inside_if: String,
    pub outside_if: String,
    pub xdp_mode: XdpMode,
    /// Per-instance bpffs directory, e.g. [`DataplaneConfig::pin_dir_for`].
    pub pin_dir: PathBuf,
}

impl DataplaneConfig {
    /// `/sys/fs/bpf/ipsecgw/<instance>`.
    pub fn pin_dir_for(instance: &str) -> PathBuf {
        Path::new(PIN_ROOT).join(instance)
    }

    /// `<root>/<instance>`, for a root from [`pinfs::resolve`].
    pub fn pin_dir_under(root: &Path, instance: &str) -> PathBuf {
        root.join(instance)
    }
}

/// Which interface an AF_XDP socket serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Inside,
    Outside,
}

/// Which program to run under `BPF_PROG_TEST_RUN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prog {
    XdpInside,
    XdpOutside,
    TcEgress,
}

impl Prog {
    fn name(self) -> &'static str {
        match self {
            Prog::XdpInside => prog_names::XDP_INSIDE,
            Prog::XdpOutside => prog_names::XDP_OUTSIDE,
            Prog::TcEgress => prog_names::TC_EGRESS,
        }
    }
}

/// An outbound SA as the data plane needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboundSaSpec {
    pub sa_id: u32,
    pub peer: Ipv4Addr,
    pub local: Ipv4Addr,
    /// NAT-T UDP (source, destination) ports.
    pub natt: Option<(u16, u16)>,
}

/// Result of one `BPF_PROG_TEST_RUN`.
#[derive(Clone, Debug)]
pub struct TestRunOutcome {
    /// XDP action or TC verdict.
    pub action: u32,
    /// Output packet; for XDP it starts at the metadata, if any was added.
    pub data_out: Vec<u8>,
    /// Average time per run.
    pub duration: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    #[error(
        "ipsecgw was built without eBPF (IPSECGW_SKIP_EBPF=1): rebuild after `cargo xtask setup`"
    )]
    BuiltWithoutEbpf,
    #[error("loading the eBPF object: {0}")]
    Load(#[from] aya::EbpfError),
    #[error("program {name}: {source}")]
    Program {
        name: &'static str,
        source: ProgramError,
    },
    #[error("program {0} missing from the eBPF object")]
    MissingProgram(&'static str),
    #[error("map {0} missing from the eBPF object")]
    MissingMap(&'static str),
    #[error("map {name}: {source}")]
    Map {
        name: &'static str,
        source: MapError,
    },
    #[error("link {path}: {source}")]
    Link { path: PathBuf, source: LinkError },
    #[error("pin directory {path}: {source}")]
    Pin {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    PinRoot(#[from] pinfs::PinRootError),
    #[error(transparent)]
    Acl(#[from] AclError),
    #[error("punt stream: {0}")]
    Punt(std::io::Error),
    #[error("{0} peer addresses for unknown-SPI events: at most {max}", max = ipsec_common::PUNT_SPI_MAX_PEERS)]
    TooManyPeers(usize),
    #[error("IKE socket for the egress guard: {0}")]
    IkeSocket(std::io::Error),
    #[error("punt stream already taken")]
    PuntTaken,
    #[error("benchmark took the wrong path: {runs} runs, {counted} counted as {expected}")]
    BenchPath {
        expected: &'static str,
        runs: u32,
        counted: u64,
    },
}

type Result<T, E = DataplaneError> = std::result::Result<T, E>;

fn map_err(name: &'static str) -> impl FnOnce(MapError) -> DataplaneError {
    move |source| DataplaneError::Map { name, source }
}

fn prog_err(name: &'static str) -> impl FnOnce(ProgramError) -> DataplaneError {
    move |source| DataplaneError::Program { name, source }
}

/// The loaded data plane: programs, typed maps and (when attached) the
/// pinned links.
pub struct Dataplane {
    ebpf: Ebpf,
    pin_dir: Option<PathBuf>,
    links: Vec<(PathBuf, PinnedLink)>,
    acl_config: Array<MapData, AclConfig>,
    acl_tuples: Array<MapData, AclTuple>,
    acl_rules: HashMap<MapData, AclKey, AclBucket>,
    acl_chain: Array<MapData, AclBucket>,
    acl_filter: Array<MapData, AclFilter>,
    out_sa: HashMap<MapData, u32, OutboundSa>,
    in_spi: HashMap<MapData, u32, InboundSa>,
    sa_stats: PerCpuHashMap<MapData, u32, SaCounters>,
    verdicts: PerCpuArray<MapData, u64>,
    punt_cfg: Array<MapData, PuntConfig>,
    punt_spi_peers: HashMap<MapData, u32, u32>,
    punt_ring: Option<RingBuf<MapData>>,
    xsk_inside: XskMap<MapData>,
    xsk_outside: XskMap<MapData>,
    ike_sockets: HashMap<MapData, u64, u32>,
    log_switch: Array<MapData, u32>,
}

/// Cheap content hash (FNV-1a) of the object: pinned maps are reused only
/// by the object that created them.
fn object_hash() -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in EBPF_OBJECT {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The kernel's unique, never reused identifier of a socket (`SO_COOKIE`),
/// which `bpf_get_socket_cookie` returns for its packets.
fn socket_cookie(fd: RawFd) -> std::io::Result<u64> {
    let mut cookie: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: getsockopt into a u64 of the stated length.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(cookie)
}

fn is_bpffs(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs on a NUL-terminated path into a zeroed struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    rc == 0 && st.f_type as i64 == BPF_FS_MAGIC
}

impl Dataplane {
    /// Loads the programs into the kernel without attaching or pinning
    /// anything: for `BPF_PROG_TEST_RUN` tests and benchmarks.
    pub fn open() -> Result<Self> {
        Self::open_inner(None)
    }

    fn open_inner(pin_dir: Option<&Path>) -> Result<Self> {
        if EBPF_OBJECT.is_empty() {
            return Err(DataplaneError::BuiltWithoutEbpf);
        }
        let mut loader = EbpfLoader::new();
        let map_dir = pin_dir.map(|d| d.join("maps"));
        if let Some(dir) = &map_dir {
            for name in names::ALL {
                loader.map_pin_path(name, dir.join(name));
            }
        }
        let mut ebpf = loader.load(EBPF_OBJECT)?;
        for name in [prog_names::XDP_INSIDE, prog_names::XDP_OUTSIDE] {
            let p: &mut Xdp = ebpf
                .program_mut(name)
                .ok_or(DataplaneError::MissingProgram(name))?
                .try_into()
                .map_err(prog_err(name))?;
            p.load().map_err(prog_err(name))?;
        }
        let tc: &mut SchedClassifier = ebpf
            .program_mut(prog_names::TC_EGRESS)
            .ok_or(DataplaneError::MissingProgram(prog_names::TC_EGRESS))?
            .try_into()
            .map_err(prog_err(prog_names::TC_EGRESS))?;
        tc.load().map_err(prog_err(prog_names::TC_EGRESS))?;

        macro_rules! take {
            ($name:expr) => {{
                let m = ebpf
                    .take_map($name)
                    .ok_or(DataplaneError::MissingMap($name))?;
                m.try_into().map_err(map_err($name))?
            }};
        }
        let mut dp = Self {
            acl_config: take!(names::ACL_CONFIG),
            acl_tuples: take!(names::ACL_TUPLES),
            acl_rules: take!(names::ACL_RULES),
            acl_chain: take!(names::ACL_CHAIN),
            acl_filter: take!(names::ACL_FILTER),
            out_sa: take!(names::OUT_SA),
            in_spi: take!(names::IN_SPI),
            sa_stats: take!(names::SA_STATS),
            verdicts: take!(names::VERDICTS),
            punt_cfg: take!(names::PUNT_CFG),
            punt_spi_peers: take!(names::PUNT_SPI_PEERS),
            punt_ring: Some(take!(names::PUNT_RING)),
            xsk_inside: take!(names::XSK_INSIDE),
            xsk_outside: take!(names::XSK_OUTSIDE),
            ike_sockets: take!(names::IKE_SOCKETS),
            log_switch: take!(names::LOG_SWITCH),
            ebpf,
            pin_dir: pin_dir.map(Path::to_path_buf),
            links: Vec::new(),
        };
        if pin_dir.is_some() {
            // SAs of a previous daemon are gone with its keys.
            dp.clear_sas()?;
        }
        Ok(dp)
    }

    /// Loads, pins and attaches (see the module documentation).
    pub fn load(cfg: DataplaneConfig) -> Result<Self> {
        if EBPF_OBJECT.is_empty() {
            return Err(DataplaneError::BuiltWithoutEbpf);
        }
        // Callers that pin elsewhere chose their bpffs (`pinfs::resolve`).
        if cfg.pin_dir.starts_with("/sys/fs/bpf") {
            pinfs::ensure_bpffs()?;
        }
        let pin_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| DataplaneError::Pin { path, source }
        };
        fs::create_dir_all(&cfg.pin_dir).map_err(pin_err(&cfg.pin_dir))?;
        let stamp = cfg.pin_dir.join("object");
        let hash = object_hash();
        let maps_dir = cfg.pin_dir.join("maps");
        // bpffs holds only bpf objects: keep the object stamp as an empty
        // directory name instead of a file.
        let stamp_now = stamp.join(&hash);
        if !stamp_now.exists() {
            if maps_dir.exists() {
                tracing::warn!(
                    dir = %maps_dir.display(),
                    "pinned maps come from another build: replacing them (the ACL must be set again)"
                );
                fs::remove_dir_all(&maps_dir).map_err(pin_err(&maps_dir))?;
            }
            let _ = fs::remove_dir_all(&stamp);
            fs::create_dir_all(&stamp_now).map_err(pin_err(&stamp_now))?;
        }
        fs::create_dir_all(&maps_dir).map_err(pin_err(&maps_dir))?;
        let mut dp = Self::open_inner(Some(&cfg.pin_dir))?;

        let mode = match cfg.xdp_mode {
            XdpMode::Native => AyaXdpMode::Driver,
            XdpMode::Skb => {
                tracing::warn!("attaching XDP in skb (generic) mode: slow, for testing only");
                AyaXdpMode::Skb
            }
        };
        for (name, ifname) in [
            (prog_names::XDP_INSIDE, &cfg.inside_if),
            (prog_names::XDP_OUTSIDE, &cfg.outside_if),
        ] {
            let path = cfg.pin_dir.join(format!("link_{name}"));
            let link = dp.attach_xdp(name, ifname, mode, &path)?;
            dp.links.push((path, link));
        }
        let path = cfg.pin_dir.join(format!("link_{}", prog_names::TC_EGRESS));
        let link = dp.attach_tc(&cfg.outside_if, &path)?;
        dp.links.push((path, link));
        tracing::info!(
            inside = %cfg.inside_if, outside = %cfg.outside_if, pins = %cfg.pin_dir.display(),
            "data plane attached"
        );
        Ok(dp)
    }

    fn attach_xdp(
        &mut self,
        name: &'static str,
        ifname: &str,
        mode: AyaXdpMode,
        pin: &Path,
    ) -> Result<PinnedLink> {
        let prog: &mut Xdp = self
            .ebpf
            .program_mut(name)
            .ok_or(DataplaneError::MissingProgram(name))?
            .try_into()
            .map_err(prog_err(name))?;
        let link_err = |source| DataplaneError::Link {
            path: pin.to_path_buf(),
            source,
        };
        let id = match PinnedLink::from_pin(pin) {
            Ok(old) => {
                // Atomic replacement: the interface never runs without us.
                let fd = FdLink::from(old);
                let link = XdpLink::try_from(fd).map_err(link_err)?;
                let id = prog.attach_to_link(link).map_err(prog_err(name))?;
                let _ = fs::remove_file(pin);
                id
            }
            Err(_) => prog.attach(ifname, mode).map_err(prog_err(name))?,
        };
        let link = prog.take_link(id).map_err(prog_err(name))?;
        let fd: FdLink = link.try_into().map_err(link_err)?;
        fd.pin(pin).map_err(|e| DataplaneError::Pin {
            path: pin.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })
    }

    fn attach_tc(&mut self, ifname: &str, pin: &Path) -> Result<PinnedLink> {
        let name = prog_names::TC_EGRESS;
        let prog: &mut SchedClassifier = self
            .ebpf
            .program_mut(name)
            .ok_or(DataplaneError::MissingProgram(name))?
            .try_into()
            .map_err(prog_err(name))?;
        let link_err = |source| DataplaneError::Link {
            path: pin.to_path_buf(),
            source,
        };
        let id = match PinnedLink::from_pin(pin) {
            Ok(old) => {
                let link = SchedClassifierLink::try_from(FdLink::from(old)).map_err(link_err)?;
                let id = prog.attach_to_link(link).map_err(prog_err(name))?;
                let _ = fs::remove_file(pin);
                id
            }
            Err(_) => prog
                .attach_with_options(
                    ifname,
                    TcAttachType::Egress,
                    TcAttachOptions::TcxOrder(LinkOrder::default()),
                )
                .map_err(prog_err(name))?,
        };
        let link = prog.take_link(id).map_err(prog_err(name))?;
        let fd: FdLink = link.try_into().map_err(link_err)?;
        fd.pin(pin).map_err(|e| DataplaneError::Pin {
            path: pin.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })
    }

    /// Orderly shutdown: detaches every program and removes the pins.
    /// (After a crash the pins stay and the egress guard keeps working.)
    pub fn detach(mut self) -> Result<()> {
        for (path, link) in self.links.drain(..) {
            match link.unpin() {
                Ok(fd) => drop(fd),
                Err(e) => tracing::warn!(path = %path.display(), "unpin: {e}"),
            }
        }
        if let Some(dir) = self.pin_dir.take() {
            fs::remove_dir_all(&dir).map_err(|source| DataplaneError::Pin {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Compiles and installs a whole ACL set (replacing the previous one
    /// atomically: packets see either the old or the new set).
    pub fn set_acl(&mut self, rules: &[AclRule]) -> Result<()> {
        let compiled = acl::compile(rules)?;
        let cur = self
            .acl_config
            .get(&0, 0)
            .map_err(map_err(names::ACL_CONFIG))?;
        let old = cur.generation & 1;
        let new = old ^ 1;
        // Leftovers of an interrupted update in the target half.
        self.remove_generation(new)?;
        for (i, t) in compiled.tuples.iter().enumerate() {
            self.acl_tuples
                .set(new * ACL_MAX_TUPLES + i as u32, t, 0)
                .map_err(map_err(names::ACL_TUPLES))?;
        }
        for (i, b) in compiled.chain.iter().enumerate() {
            self.acl_chain
                .set(new * ACL_CHAIN_ENTRIES + i as u32, b, 0)
                .map_err(map_err(names::ACL_CHAIN))?;
        }
        // The whole filter in one update (128 KiB), before any packet can
        // see the new generation.
        let mut filter = Box::new(AclFilter {
            masks: [[0; 2]; ACL_MAX_TUPLES as usize],
            words: [0; ACL_FILTER_WORDS],
        });
        filter.words.copy_from_slice(&compiled.filter);
        filter.masks[..compiled.masks.len()].copy_from_slice(&compiled.masks);
        self.acl_filter
            .set(new, filter.as_ref(), 0)
            .map_err(map_err(names::ACL_FILTER))?;
        for (k, b) in &compiled.buckets {
            let key = AclKey {
                tuple: new * ACL_MAX_TUPLES + k.tuple,
                ..*k
            };
            self.acl_rules
                .insert(key, b, 0)
                .map_err(map_err(names::ACL_RULES))?;
        }
        let cfg = AclConfig {
            generation: new,
            n_tuples: compiled.tuples.len() as u32,
        };
        self.acl_config
            .set(0, cfg, 0)
            .map_err(map_err(names::ACL_CONFIG))?;
        self.remove_generation(old)?;
        tracing::debug!(
            lines = rules.len(),
            tuples = compiled.tuples.len(),
            keys = compiled.buckets.len(),
            overflow = compiled.chain.len(),
            "ACL installed"
        );
        Ok(())
    }

    fn remove_generation(&mut self, generation: u32) -> Result<()> {
        let stale: Vec<AclKey> = self
            .acl_rules
            .keys()
            .filter_map(|k| k.ok())
            .filter(|k| k.tuple / ACL_MAX_TUPLES == generation)
            .collect();
        for k in stale {
            match self.acl_rules.remove(&k) {
                Ok(()) | Err(MapError::KeyNotFound) => {}
                Err(e) => return Err(map_err(names::ACL_RULES)(e)),
            }
        }
        Ok(())
    }

    /// Protected traffic of `selector` goes to the ESP engine under `sa`.
    pub fn install_outbound_sa(&mut self, selector: u32, sa: OutboundSaSpec) -> Result<()> {
        let (natt_sport, natt_dport) = sa.natt.unwrap_or((0, 0));
        let v = OutboundSa {
            sa_id: sa.sa_id,
            peer: meta::addr_bytes(sa.peer),
            local: meta::addr_bytes(sa.local),
            natt_sport,
            natt_dport,
        };
        self.out_sa
            .insert(selector, v, 0)
            .map_err(map_err(names::OUT_SA))
    }

    /// Traffic of `selector` is punted again (no SA).
    pub fn remove_outbound_sa(&mut self, selector: u32) -> Result<()> {
        match self.out_sa.remove(&selector) {
            Ok(()) | Err(MapError::KeyNotFound) => Ok(()),
            Err(e) => Err(map_err(names::OUT_SA)(e)),
        }
    }

    /// Inbound ESP with `spi` (host order) goes to the engine as `sa_id`.
    pub fn install_inbound_spi(&mut self, spi: u32, sa_id: u32) -> Result<()> {
        self.in_spi
            .insert(spi, InboundSa { sa_id, _pad: 0 }, 0)
            .map_err(map_err(names::IN_SPI))
    }

    pub fn remove_inbound_spi(&mut self, spi: u32) -> Result<()> {
        match self.in_spi.remove(&spi) {
            Ok(()) | Err(MapError::KeyNotFound) => Ok(()),
            Err(e) => Err(map_err(names::IN_SPI)(e)),
        }
    }

    /// Forgets every SA and its counters.
    pub fn clear_sas(&mut self) -> Result<()> {
        let sels: Vec<u32> = self.out_sa.keys().filter_map(|k| k.ok()).collect();
        for s in sels {
            self.remove_outbound_sa(s)?;
        }
        let spis: Vec<u32> = self.in_spi.keys().filter_map(|k| k.ok()).collect();
        for s in spis {
            self.remove_inbound_spi(s)?;
        }
        let ids: Vec<u32> = self.sa_stats.keys().filter_map(|k| k.ok()).collect();
        for id in ids {
            let _ = self.sa_stats.remove(&id);
        }
        Ok(())
    }

    /// Drops the counters of a dead SA.
    pub fn remove_sa_counters(&mut self, sa_id: u32) -> Result<()> {
        match self.sa_stats.remove(&sa_id) {
            Ok(()) | Err(MapError::KeyNotFound) => Ok(()),
            Err(e) => Err(map_err(names::SA_STATS)(e)),
        }
    }

    /// Verdict counters summed over CPUs.
    pub fn counters(&self) -> Result<VerdictCounters> {
        let mut out = VerdictCounters::default();
        for i in 0..VERDICT_COUNT {
            let per_cpu = self.verdicts.get(&i, 0).map_err(map_err(names::VERDICTS))?;
            out.values[i as usize] = per_cpu.iter().sum();
        }
        Ok(out)
    }

    /// Packets and bytes of one SA (zero if it never carried traffic).
    pub fn sa_counters(&self, sa_id: u32) -> Result<SaStats> {
        match self.sa_stats.get(&sa_id, 0) {
            Ok(v) => Ok(v.iter().fold(SaStats::default(), |a, c| SaStats {
                packets: a.packets + c.packets,
                bytes: a.bytes + c.bytes,
            })),
            Err(MapError::KeyNotFound) => Ok(SaStats::default()),
            Err(e) => Err(map_err(names::SA_STATS)(e)),
        }
    }

    /// Rate limit of punt events per selector (`burst` back to back, then
    /// one per `interval`).
    pub fn set_punt_rate(&mut self, interval: Duration, burst: u32) -> Result<()> {
        let mut v = self.punt_config()?;
        v.interval_ns = interval.as_nanos().min(u64::MAX as u128) as u64;
        v.burst = burst as u64;
        self.punt_cfg.set(0, v, 0).map_err(map_err(names::PUNT_CFG))
    }

    /// Rate limit of unknown-SPI events, all sources together (`burst`
    /// back to back, then one per `interval`).
    pub fn set_unknown_spi_punt_rate(&mut self, interval: Duration, burst: u32) -> Result<()> {
        let mut v = self.punt_config()?;
        v.spi_interval_ns = interval.as_nanos().min(u64::MAX as u128) as u64;
        v.spi_burst = burst as u64;
        self.punt_cfg.set(0, v, 0).map_err(map_err(names::PUNT_CFG))
    }

    fn punt_config(&self) -> Result<PuntConfig> {
        self.punt_cfg.get(&0, 0).map_err(map_err(names::PUNT_CFG))
    }

    /// The peer addresses whose ESP for an unknown SPI is punted (all
    /// others are only counted): replaces the whole set. Empty turns
    /// unknown-SPI events off.
    pub fn set_unknown_spi_peers(&mut self, peers: &[Ipv4Addr]) -> Result<()> {
        let want: std::collections::HashSet<u32> = peers.iter().map(|a| u32::from(*a)).collect();
        if want.len() > ipsec_common::PUNT_SPI_MAX_PEERS as usize {
            return Err(DataplaneError::TooManyPeers(want.len()));
        }
        let stale: Vec<u32> = self
            .punt_spi_peers
            .keys()
            .filter_map(|k| k.ok())
            .filter(|k| !want.contains(k))
            .collect();
        for k in stale {
            match self.punt_spi_peers.remove(&k) {
                Ok(()) | Err(MapError::KeyNotFound) => {}
                Err(e) => return Err(map_err(names::PUNT_SPI_PEERS)(e)),
            }
        }
        for k in want {
            self.punt_spi_peers
                .insert(k, 1, 0)
                .map_err(map_err(names::PUNT_SPI_PEERS))?;
        }
        Ok(())
    }

    /// The daemon's IKE sockets (UDP 500 and 4500): the TC egress guard
    /// passes UDP from those ports only when one of these sockets sent it.
    /// Replaces the whole set (a dead daemon's cookies are dropped).
    /// The programs' rare-path log lines on or off (`bpf_log`).
    pub fn set_bpf_log(&mut self, on: bool) -> Result<()> {
        self.log_switch
            .set(0, u32::from(on), 0)
            .map_err(map_err(names::LOG_SWITCH))
    }

    /// The reader of the programs' log records (once: it owns the ring).
    pub fn bpf_logger(&mut self) -> Option<bpf_log::BpfLogger> {
        match aya_log::EbpfLogger::init_with_logger(&mut self.ebpf, bpf_log::ToTracing) {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(error = %e, "no BPF log ring: BPF-side logs are off");
                None
            }
        }
    }

    pub fn set_ike_sockets(&mut self, fds: &[RawFd]) -> Result<()> {
        if fds.len() > ipsec_common::IKE_SOCKETS_MAX as usize {
            return Err(DataplaneError::IkeSocket(std::io::Error::other(format!(
                "{} IKE sockets, at most {}",
                fds.len(),
                ipsec_common::IKE_SOCKETS_MAX
            ))));
        }
        let mut want = Vec::with_capacity(fds.len());
        for &fd in fds {
            want.push(socket_cookie(fd).map_err(DataplaneError::IkeSocket)?);
        }
        let stale: Vec<u64> = self
            .ike_sockets
            .keys()
            .filter_map(|k| k.ok())
            .filter(|k| !want.contains(k))
            .collect();
        for k in stale {
            match self.ike_sockets.remove(&k) {
                Ok(()) | Err(MapError::KeyNotFound) => {}
                Err(e) => return Err(map_err(names::IKE_SOCKETS)(e)),
            }
        }
        for k in want {
            self.ike_sockets
                .insert(k, 1, 0)
                .map_err(map_err(names::IKE_SOCKETS))?;
        }
        Ok(())
    }

    /// The punt event stream (once). Needs a tokio runtime.
    pub fn punt_events(&mut self) -> Result<PuntStream> {
        let ring = self.punt_ring.take().ok_or(DataplaneError::PuntTaken)?;
        PuntStream::new(ring).map_err(DataplaneError::Punt)
    }

    /// Registers an AF_XDP socket for `queue` of the inside or outside
    /// interface (the programs redirect there).
    pub fn register_xsk(&mut self, side: Side, queue: u32, fd: RawFd) -> Result<()> {
        struct Raw(RawFd);
        impl AsRawFd for Raw {
            fn as_raw_fd(&self) -> RawFd {
                self.0
            }
        }
        let (map, name) = match side {
            Side::Inside => (&mut self.xsk_inside, names::XSK_INSIDE),
            Side::Outside => (&mut self.xsk_outside, names::XSK_OUTSIDE),
        };
        map.set(queue, Raw(fd), 0).map_err(map_err(name))
    }

    pub fn unregister_xsk(&mut self, side: Side, queue: u32) -> Result<()> {
        let (map, name) = match side {
            Side::Inside => (&mut self.xsk_inside, names::XSK_INSIDE),
            Side::Outside => (&mut self.xsk_outside, names::XSK_OUTSIDE),
        };
        map.unset(queue).map_err(map_err(name))
    }

    /// Runs a program once (or `repeat` times) on `packet` with
    /// `BPF_PROG_TEST_RUN`.
    pub fn test_run(&self, prog: Prog, packet: &[u8], repeat: u32) -> Result<TestRunOutcome> {
        let name = prog.name();
        let p = self
            .ebpf
            .program(name)
            .ok_or(DataplaneError::MissingProgram(name))?;
        // Room for the packet plus metadata plus TC headroom changes.
        let mut out = vec![0u8; packet.len() + 256];
        let opts = TestRunOptions {
            data_in: Some(packet),
            data_out: Some(&mut out),
            repeat: repeat.max(1),
            ..TestRunOptions::default()
        };
        let r = match prog {
            Prog::XdpInside | Prog::XdpOutside => {
                let x: &Xdp = p.try_into().map_err(prog_err(name))?;
                x.test_run(opts)
            }
            Prog::TcEgress => {
                let t: &SchedClassifier = p.try_into().map_err(prog_err(name))?;
                t.test_run(opts)
            }
        }
        .map_err(prog_err(name))?;
        out.truncate(r.data_size_out as usize);
        Ok(TestRunOutcome {
            action: r.return_value,
            data_out: out,
            duration: r.duration,
        })
    }
}
