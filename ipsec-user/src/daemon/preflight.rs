//! What `ipsecgw run` verifies before it touches the system, each refusal
//! a one-line reason; and `ipsecgw check`.

use std::net::Ipv4Addr;
use std::path::Path;

use anyhow::{Result, bail};

use super::options::Options;
use crate::config::{self, Config, LoadError, Severity};

pub struct Preflight {
    pub config: Config,
    pub inside_if: String,
    pub outside_if: String,
    pub local: Ipv4Addr,
    pub inside_addr: Ipv4Addr,
    pub outside_mtu: usize,
}

/// `ipsecgw check --config FILE`: errors with line and column, ignored
/// lines, warnings and advice. Fails (exit 1) when the file would not load.
pub fn check_command(path: &Path) -> Result<()> {
    let parsed = match config::parse_file(path) {
        Ok(p) => p,
        Err(LoadError::Config { errors, .. }) => {
            for e in &errors.errors {
                println!("{}: {e}", path.display());
            }
            bail!(
                "{}: {} error(s); the configuration would not load",
                path.display(),
                errors.errors.len()
            );
        }
        Err(e) => bail!("{e}"),
    };
    for i in &parsed.ignored {
        println!(
            "{}: line {}: ignored (not supported): {}",
            path.display(),
            i.line,
            i.text.trim()
        );
    }
    let mut diags = parsed.warnings.clone();
    diags.extend(config::check(&parsed));
    let errors = diags.iter().filter(|d| d.is_error()).count();
    for d in &diags {
        println!("{}: {d}", path.display());
    }
    let c = &parsed.config;
    if errors > 0 {
        bail!("{}: {errors} error(s)", path.display());
    }
    // IKEv2 counts only where IKEv2 is configured: an IKEv1 file's summary
    // reads as it always did.
    let ikev2 = if c.has_ikev2() {
        format!(
            ", {} IKEv2 policies, {} IKEv2 ipsec-proposals",
            c.ikev2_policies.len(),
            c.ikev2_proposals.len()
        )
    } else {
        String::new()
    };
    println!(
        "{}: ok: {} ISAKMP policies, {} transform sets, {} crypto map entries, {} tunnel-groups{ikev2} ({} warnings, {} lines ignored)",
        path.display(),
        c.isakmp_policies.len(),
        c.transform_sets.len(),
        c.crypto_maps.len(),
        c.tunnel_groups.len(),
        diags
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count(),
        parsed.ignored.len()
    );
    Ok(())
}

/// A pin-directory name from the control socket path, so two daemons with
/// different sockets never share BPF pins.
pub fn instance_from_socket(control: &Path) -> String {
    if control == Path::new(crate::control::DEFAULT_SOCKET) {
        return "default".into();
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in control.as_os_str().as_encoded_bytes() {
        h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
    }
    format!("sock-{h:016x}")
}

/// Reads `path`, parses and checks it: the configuration, or one line
/// saying why not (the first error). Warnings go to the log.
pub fn load_checked(path: &Path) -> Result<config::Config> {
    let config_text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let parsed = match config::parse(&config_text) {
        Ok(p) => p,
        Err(errors) => bail!(
            "{} does not load ({} error(s)); first: {} (run `ipsecgw check --config {}`)",
            path.display(),
            errors.errors.len(),
            errors
                .errors
                .first()
                .map(|e| e.to_string())
                .unwrap_or_default(),
            path.display()
        ),
    };
    let diags = config::check(&parsed);
    if let Some(first) = diags.iter().find(|d| d.is_error()) {
        bail!(
            "{} does not pass check: {first} (run `ipsecgw check --config {}`)",
            path.display(),
            path.display()
        );
    }
    for d in diags.iter().filter(|d| !d.is_error()) {
        tracing::warn!("config: {d}");
    }
    Ok(parsed.config)
}

pub fn preflight(args: &Options) -> Result<Preflight> {
    if unsafe { libc::geteuid() } != 0 {
        bail!("ipsecgw run needs root: it loads BPF programs and opens AF_XDP sockets");
    }
    let cfg = load_checked(&args.config)?;
    let outside_nameif = cfg
        .crypto_maps
        .iter()
        .find_map(|e| e.interface.clone())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no crypto map is bound to an interface (`crypto map M interface outside`)"
            )
        })?;
    let outside = cfg
        .interface_by_nameif(&outside_nameif)
        .ok_or_else(|| anyhow::anyhow!("crypto map bound to `{outside_nameif}`, but no `interface X` has `nameif {outside_nameif}`"))?
        .clone();
    let inside = cfg
        .interface_by_nameif("inside")
        .or_else(|| cfg.interfaces.iter().find(|i| i.nameif != outside_nameif))
        .ok_or_else(|| {
            anyhow::anyhow!("no inside interface: add `interface <ifname>` with ` nameif inside`")
        })?
        .clone();
    for i in [&outside, &inside] {
        if ifindex(&i.ifname).is_none() {
            bail!(
                "interface `{}` (nameif {}) does not exist on this host",
                i.ifname,
                i.nameif
            );
        }
    }
    // One ESP worker per pair of queues: refuse before anything is loaded
    // rather than leave queues no worker serves.
    crate::xsk::pool::queue_pairs(&inside.ifname, &outside.ifname)?;
    let local = match outside.address {
        Some((a, _)) => a,
        None => first_ipv4(&outside.ifname).ok_or_else(|| {
            anyhow::anyhow!("interface `{}` has no IPv4 address for IKE", outside.ifname)
        })?,
    };
    let inside_addr = inside
        .address
        .map(|(a, _)| a)
        .or_else(|| first_ipv4(&inside.ifname))
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    let outside_mtu = mtu(&outside.ifname).unwrap_or(1500);
    if !Path::new("/sys/fs/bpf").exists() {
        bail!("BPF is unavailable: /sys/fs/bpf does not exist on this kernel");
    }
    Ok(Preflight {
        config: cfg,
        inside_if: inside.ifname,
        outside_if: outside.ifname,
        local,
        inside_addr,
        outside_mtu,
    })
}

fn ifindex(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// The first IPv4 address of an interface (getifaddrs).
fn first_ipv4(name: &str) -> Option<Ipv4Addr> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return None;
    }
    let mut found = None;
    let mut cur = head;
    while !cur.is_null() {
        let ifa = unsafe { &*cur };
        let ifname = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) };
        if ifname.to_bytes() == name.as_bytes() && !ifa.ifa_addr.is_null() {
            let family = unsafe { (*ifa.ifa_addr).sa_family };
            if family as i32 == libc::AF_INET {
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                found = Some(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
                break;
            }
        }
        cur = ifa.ifa_next;
    }
    unsafe { libc::freeifaddrs(head) };
    found
}

fn mtu(name: &str) -> Option<usize> {
    crate::xsk::iface::mtu(name).ok()
}
