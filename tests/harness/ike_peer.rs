//! An IKE peer simulator: ipsecgw's own sans-IO engine (the dispatcher,
//! `ipsecgw::ike::Engine`, so the entry's versions decide) as an
//! initiator on a real UDP socket inside a namespace. It gives tests real
//! protocol messages to replay or flood with, and the child SA's real
//! KEYMAT to look for in logs, with no production hook that exposes keys.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use ipsecgw::ike::config::{LocalConfig, PeerConfig};
use ipsecgw::ike::{ChildSa, Engine, Output};

/// What one simulated negotiation produced.
pub struct SimRun {
    pub child: ChildSa,
    /// Every datagram the simulator sent (MM1, MM3, MM5, QM1, QM3, ...).
    pub sent: Vec<Vec<u8>>,
}

/// The first message an initiator at `local` with entry `cfg` sends to
/// the entry's first address (real bytes from the engine), for floods
/// and refusal checks.
pub fn first_message(local: Ipv4Addr, cfg: PeerConfig) -> Vec<u8> {
    let remote = cfg.addresses[0];
    let mut engine = Engine::new(LocalConfig::new(local));
    engine.set_peers(vec![cfg]);
    engine
        .initiate(Instant::now(), remote, 1)
        .into_iter()
        .find_map(|o| match o {
            Output::Send { data, .. } => Some(data),
            _ => None,
        })
        .expect("the engine sends a first message")
}

/// Negotiates phase 1 and one child SA (selector 1 of `cfg`) with the
/// entry's first address from `local:500`, inside network namespace
/// `netns`, within 20 s. UDP 500 only: the simulator does not float to
/// NAT-T.
pub fn negotiate(netns: &str, local: Ipv4Addr, cfg: PeerConfig) -> Result<SimRun> {
    crate::netns::spawn_in(netns, move || {
        let remote = cfg.addresses[0];
        let sock = UdpSocket::bind(SocketAddrV4::new(local, 500))?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))?;
        let mut engine = Engine::new(LocalConfig::new(local));
        engine.set_peers(vec![cfg]);
        let mut sent = Vec::new();
        let mut outs = engine.initiate(Instant::now(), remote, 1);
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buf = vec![0u8; 65536];
        while Instant::now() < deadline {
            for o in outs.drain(..) {
                match o {
                    Output::Send { to, data, .. } => {
                        if to.port() != 500 {
                            bail!("simulator does not speak NAT-T");
                        }
                        sock.send_to(&data, to)?;
                        sent.push(data);
                    }
                    Output::ChildSaUp(child) => return Ok(SimRun { child, sent }),
                    Output::Failure { reason, .. } => bail!("simulated peer failed: {reason}"),
                    _ => {}
                }
            }
            match sock.recv_from(&mut buf) {
                Ok((n, SocketAddr::V4(from))) => {
                    let to = SocketAddrV4::new(local, 500);
                    outs = engine.handle_datagram(Instant::now(), from, to, &buf[..n]);
                }
                Ok(_) => {}
                Err(_) => {
                    if engine.next_timeout().is_some_and(|t| t <= Instant::now()) {
                        outs = engine.on_timer(Instant::now());
                    }
                }
            }
        }
        bail!("simulated negotiation did not finish in 20 s")
    })
    .join()
    .map_err(|_| anyhow!("simulator thread panicked"))?
}
