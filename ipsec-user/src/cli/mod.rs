//! The `ipsecgw` command line: clap definitions, dispatch to the daemon
//! over the control socket, and the ASA-layout renderers.

pub mod render;
pub mod render_ikev2;

use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::control::client;
use crate::control::proto::{Command, DebugFacility, ReplyData};

#[derive(Debug, Parser)]
#[command(
    name = "ipsecgw",
    version,
    about = "IPsec LAN-to-LAN gateway (ASA-style IKEv1, eBPF + AF_XDP data plane)"
)]
pub struct Cli {
    /// Control socket of the daemon to talk to (one per gateway instance).
    #[arg(long, global = true, value_name = "SOCK", default_value = crate::control::DEFAULT_SOCKET)]
    pub control: PathBuf,
    #[command(subcommand)]
    pub command: Top,
}

#[derive(Debug, Subcommand)]
pub enum Top {
    /// Run the gateway daemon.
    Run(RunArgs),
    /// Check a configuration file: errors with line and column, ignored lines, warnings.
    Check {
        #[arg(long)]
        config: PathBuf,
    },
    /// Show state of the running daemon.
    Show {
        #[command(subcommand)]
        what: ShowWhat,
    },
    /// Clear SAs (sends DELETE to the peer; traffic brings tunnels up again).
    Clear {
        #[command(subcommand)]
        what: ClearWhat,
    },
    /// Apply a changed configuration to the running daemon without cutting
    /// unchanged tunnels (also SIGHUP). Nothing changes if it fails check.
    Reload {
        /// Another file (default: the one the daemon was started with).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Change log verbosity of the running daemon.
    Debug {
        #[command(subcommand)]
        what: DebugWhat,
    },
    /// Print shell completions for bash, zsh, fish, elvish or powershell.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Manpage,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long, value_enum, default_value_t = XdpMode::Native)]
    pub xdp_mode: XdpMode,
    /// Instance name: BPF pins live under <pin root>/<instance>/ (see
    /// --pin-root; by default /sys/fs/bpf/ipsecgw/<instance>/).
    /// Defaults to a name derived from the control socket path.
    #[arg(long)]
    pub instance: Option<String>,
    /// bpffs directory under which each instance pins its programs and
    /// maps (DIR/<instance>/), default /sys/fs/bpf/ipsecgw. It must be a
    /// bpffs that outlives the daemon (the host's): the pins keep XDP and
    /// the egress guard attached after a crash. In a private mount
    /// namespace (`ip netns exec`) the default goes to the host's bpffs
    /// through /proc/1/root.
    #[arg(long, value_name = "DIR")]
    pub pin_root: Option<PathBuf>,
    /// Start even when the pins cannot outlive the daemon (a bpffs private
    /// to its mount namespace). After a crash the programs go with it and
    /// protected traffic is routed in cleartext: for throwaway setups only.
    #[arg(long)]
    pub no_persistent_guard: bool,
    /// First IKE retransmission interval in milliseconds (it doubles on
    /// each of the 5 tries; default 2000). Hidden: the default suits real
    /// peers; tests use a short one to see an unreachable peer fail fast.
    #[arg(long, hide = true, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub ike_retransmit_ms: Option<u64>,
    /// Testing aid: the first outbound ESP SA this daemon installs starts
    /// its sequence number at N instead of 1 (only that one; every later
    /// SA, rekeys included, starts at 1). Hidden: it exists so a test can
    /// reach the end of the 32-bit sequence space (RFC 4303 3.3.3) and see
    /// the SA rekeyed, without sending four billion packets.
    #[arg(long, hide = true, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=u64::from(u32::MAX)))]
    pub esp_first_seq: Option<u64>,
    /// Testing aid: every IKEv2 SA lives S seconds instead of its
    /// policy's `lifetime seconds` (IKEv2 lifetimes are local, RFC 7296
    /// 2.8). Hidden: the configuration's minimum, 120 s, puts the first
    /// IKE SA rekey past 100 s; a test wants several in a minute.
    #[arg(long, hide = true, value_name = "S",
          value_parser = clap::value_parser!(u32).range(5..))]
    pub ikev2_lifetime_s: Option<u32>,
    /// Serve Prometheus metrics on http://ADDR:PORT/metrics (off by
    /// default).
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Log lines: our own text (default), JSON lines, or tunnel events as
    /// ASA messages (%ASA-5-713049 ...).
    #[arg(long, value_enum, default_value_t = LogFormatArg::Text)]
    pub log_format: LogFormatArg,
    /// Also send tunnel events as ASA syslog messages (UDP, facility
    /// local4) to this host, as ASA's `logging host`.
    #[arg(long, value_name = "HOST:PORT")]
    pub syslog: Option<std::net::SocketAddr>,
    /// Always UDP-encapsulate ESP (NAT-T on port 4500) with every peer,
    /// claiming a NAT in the NAT-D hashes, as strongSwan's libipsec does.
    /// Hidden: it exists so tests can run the NAT-T data path without a
    /// NAT between the gateways.
    #[arg(long, hide = true)]
    pub force_udp_encap: bool,
}

/// `run --log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    /// Our own structured lines (the default).
    Text,
    /// One JSON object per line.
    Json,
    /// Tunnel events as ASA messages (`%ASA-5-713049: ...`); everything
    /// else as text lines.
    Asa,
}

impl From<RunArgs> for crate::daemon::Options {
    fn from(a: RunArgs) -> Self {
        use crate::daemon::logging::LogFormat;
        crate::daemon::Options {
            config: a.config,
            xdp_mode: match a.xdp_mode {
                XdpMode::Native => crate::dataplane::XdpMode::Native,
                XdpMode::Skb => crate::dataplane::XdpMode::Skb,
            },
            instance: a.instance,
            pin_root: a.pin_root,
            no_persistent_guard: a.no_persistent_guard,
            ike_retransmit_ms: a.ike_retransmit_ms,
            esp_first_seq: a.esp_first_seq,
            ikev2_lifetime_s: a.ikev2_lifetime_s,
            metrics: a.metrics,
            log_format: match a.log_format {
                LogFormatArg::Text => LogFormat::Text,
                LogFormatArg::Json => LogFormat::Json,
                LogFormatArg::Asa => LogFormat::Asa,
            },
            syslog: a.syslog,
            force_udp_encap: a.force_udp_encap,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum XdpMode {
    Native,
    Skb,
}

#[derive(Debug, Subcommand)]
pub enum ShowWhat {
    Crypto {
        #[command(subcommand)]
        what: ShowCrypto,
    },
    /// The normalised configuration the daemon runs.
    #[command(name = "running-config")]
    RunningConfig,
    /// Data-plane verdict counters (summed over CPUs).
    Dataplane {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ShowCrypto {
    Isakmp {
        #[command(subcommand)]
        what: SaWord,
    },
    /// `show crypto ikev2 sa [detail] [remote ADDR]`
    Ikev2 {
        #[command(subcommand)]
        what: SaWord,
    },
    Ipsec {
        #[command(subcommand)]
        what: SaWord,
    },
}

#[derive(Debug, Subcommand)]
pub enum SaWord {
    /// Security associations; `peer ADDR` narrows to one peer.
    Sa {
        /// `peer ADDR` (ipsec) or `ADDR` (isakmp)
        words: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClearWhat {
    Crypto {
        #[command(subcommand)]
        what: ClearCrypto,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClearCrypto {
    Isakmp {
        #[command(subcommand)]
        what: SaWord,
    },
    Ikev2 {
        #[command(subcommand)]
        what: SaWord,
    },
    Ipsec {
        #[command(subcommand)]
        what: SaWord,
    },
}

#[derive(Debug, Subcommand)]
pub enum DebugWhat {
    Crypto {
        #[arg(value_enum)]
        facility: Facility,
        /// 1 (errors) .. 255 (everything), ASA style; default 1.
        level: Option<u8>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Facility {
    Isakmp,
    Ikev2,
    Ipsec,
}

/// `peer ADDR` or `ADDR` (ASA accepts both forms in various commands).
fn peer_words(words: &[String]) -> Result<Option<Ipv4Addr>> {
    let addr = match words {
        [] => return Ok(None),
        [a] => a,
        [p, a] if p.eq_ignore_ascii_case("peer") => a,
        _ => bail!("expected `peer ADDR`, got `{}`", words.join(" ")),
    };
    Ok(Some(addr.parse().with_context(|| {
        format!("`{addr}` is not an IPv4 address")
    })?))
}

/// `[detail] [remote ADDR]` of `show crypto ikev2 sa`.
fn ikev2_words(words: &[String]) -> Result<(bool, Option<Ipv4Addr>)> {
    let mut detail = false;
    let mut peer = None;
    let mut it = words.iter();
    while let Some(w) = it.next() {
        if w.eq_ignore_ascii_case("detail") {
            detail = true;
        } else if w.eq_ignore_ascii_case("remote") || w.eq_ignore_ascii_case("peer") {
            let a = it
                .next()
                .with_context(|| format!("`{w}` needs an address"))?;
            peer = Some(
                a.parse()
                    .with_context(|| format!("`{a}` is not an IPv4 address"))?,
            );
        } else {
            bail!(
                "expected `[detail] [remote ADDR]`, got `{}`",
                words.join(" ")
            );
        }
    }
    Ok((detail, peer))
}

pub fn main() -> Result<()> {
    let cli = Cli::parse();
    let sock = cli.control.clone();
    let ask = |c: Command| client::request(&sock, c).map_err(anyhow::Error::from);
    match cli.command {
        Top::Run(args) => crate::daemon::run(&cli.control, args.into()),
        Top::Check { config } => crate::daemon::check_command(&config),
        Top::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "ipsecgw",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Top::Manpage => {
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut std::io::stdout())?;
            Ok(())
        }
        Top::Show { what } => {
            let (data, json) = match what {
                ShowWhat::Crypto {
                    what:
                        ShowCrypto::Isakmp {
                            what: SaWord::Sa { words, json },
                        },
                } => {
                    let peer = peer_words(&words)?;
                    let mut data = ask(Command::ShowIsakmpSa)?;
                    if let (Some(p), ReplyData::IsakmpSas(list)) = (peer, &mut data) {
                        list.sas.retain(|s| s.peer == p);
                        list.down.retain(|s| s.peer == p);
                    }
                    (data, json)
                }
                ShowWhat::Crypto {
                    what:
                        ShowCrypto::Ikev2 {
                            what: SaWord::Sa { words, json },
                        },
                } => {
                    let (detail, peer) = ikev2_words(&words)?;
                    let mut data = ask(Command::ShowIkev2Sa)?;
                    if let ReplyData::Ikev2Sas(list) = &mut data {
                        if let Some(p) = peer {
                            list.sas.retain(|s| s.peer == p);
                            list.down.retain(|s| s.peer == p);
                        }
                        if !json {
                            print!("{}", render_ikev2::ikev2(list, detail));
                            return Ok(());
                        }
                    }
                    (data, json)
                }
                ShowWhat::Crypto {
                    what:
                        ShowCrypto::Ipsec {
                            what: SaWord::Sa { words, json },
                        },
                } => (
                    ask(Command::ShowIpsecSa {
                        peer: peer_words(&words)?,
                    })?,
                    json,
                ),
                ShowWhat::RunningConfig => (ask(Command::ShowRunningConfig)?, false),
                ShowWhat::Dataplane { json } => (ask(Command::ShowDataplane)?, json),
            };
            print!("{}", render::render(&data, json));
            Ok(())
        }
        Top::Clear {
            what: ClearWhat::Crypto { what },
        } => {
            let cmd = match what {
                ClearCrypto::Isakmp {
                    what: SaWord::Sa { words, .. },
                } => Command::ClearIsakmpSa {
                    peer: peer_words(&words)?,
                },
                ClearCrypto::Ikev2 {
                    what: SaWord::Sa { words, .. },
                } => Command::ClearIkev2Sa {
                    peer: peer_words(&words)?,
                },
                ClearCrypto::Ipsec {
                    what: SaWord::Sa { words, .. },
                } => Command::ClearIpsecSa {
                    peer: peer_words(&words)?,
                },
            };
            print!("{}", render::render(&ask(cmd)?, false));
            Ok(())
        }
        Top::Reload { config } => {
            // The daemon reads the file: name it from where we stand.
            let config = match config {
                Some(p) => Some(
                    std::fs::canonicalize(&p)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?,
                ),
                None => None,
            };
            print!(
                "{}",
                render::render(&ask(Command::Reload { config })?, false)
            );
            Ok(())
        }
        Top::Debug {
            what: DebugWhat::Crypto { facility, level },
        } => {
            let facility = match facility {
                Facility::Isakmp => DebugFacility::Isakmp,
                Facility::Ikev2 => DebugFacility::Ikev2,
                Facility::Ipsec => DebugFacility::Ipsec,
            };
            print!(
                "{}",
                render::render(
                    &ask(Command::Debug {
                        facility,
                        level: level.unwrap_or(1)
                    })?,
                    false
                )
            );
            Ok(())
        }
    }
}
