//! The operator's side of ipsecgw, for real: `run` refuses with one clear
//! line (not root, missing interface, a config that fails `check`,
//! interfaces with different numbers of queues),
//! `check` points at line and column, the control socket is root-only,
//! `debug crypto isakmp` changes verbosity of a running daemon, `show
//! running-config` loads again, and the completions and man page name the
//! subcommands.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use harness::config::{AES256_POLICY, EAST_LAN, GatewayConfig, Spelling, WEST_LAN};
use harness::gateway::{Gateway, in_netns, ipsecgw_bin};
use harness::netns::Netns;
use harness::process::{Scratch, run_bounded};
use harness::topology::*;

/// `nobody` on Debian.
const NOBODY: u32 = 65534;

/// A config for the west gateway of the topology (group 14, so the only
/// diagnostics are the ones a test provokes), in the 8.4 spelling.
fn west_config(peer: &str) -> String {
    let mut c = GatewayConfig::seed(WEST_LAN, EAST_LAN, peer, "operator-test-psk")
        .with_transform_set("TS", "esp-aes-256 esp-sha256-hmac", true);
    c.spelling = Spelling::Ikev1;
    c.policy = Some(AES256_POLICY.into());
    c.render()
}

/// A copy of the `ipsecgw` binary inside `s` (world-readable).
/// `nobody` cannot execute the one under `target/` when the clone lives
/// below a 0700 directory such as root's home.
fn ipsecgw_for_nobody(s: &Scratch) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = s.path().join("ipsecgw");
    std::fs::copy(ipsecgw_bin(), &p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// Makes `cmd` run as uid/gid 65534 with no supplementary groups.
fn as_nobody(cmd: &mut Command) {
    // SAFETY: setgroups/setgid/setuid are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(NOBODY) != 0
                || libc::setuid(NOBODY) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// `ipsecgw run` must fail, and of what it prints on stderr exactly ONE
/// line is not a log line: the reason. Returns it.
fn refusal(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "ipsecgw run should have refused:\n{stderr}"
    );
    let reasons: Vec<&str> = stderr
        .lines()
        .filter(|l| !(l.contains(" WARN ") || l.contains(" INFO ") || l.contains(" DEBUG ")))
        .collect();
    assert_eq!(
        reasons.len(),
        1,
        "exactly one line of reason (no backtrace, no report):\n{stderr}"
    );
    assert!(reasons[0].starts_with("ipsecgw: "), "{stderr}");
    reasons[0].to_string()
}

fn run_cmd(config: &Path, control: &Path) -> Command {
    run_cmd_with(&ipsecgw_bin(), config, control)
}

fn run_cmd_with(bin: &Path, config: &Path, control: &Path) -> Command {
    let mut c = Command::new(bin);
    c.arg("run")
        .arg("--config")
        .arg(config)
        .arg("--control")
        .arg(control)
        // a developer's RUST_BACKTRACE must not turn the reason into a report
        .env("RUST_BACKTRACE", "1");
    c
}

/// `ipsecgw check --config PATH`, bounded in time.
fn check_config(path: &std::path::Path) -> std::process::Output {
    run_bounded(
        Command::new(ipsecgw_bin())
            .arg("check")
            .arg("--config")
            .arg(path),
        Duration::from_secs(10),
    )
}

#[test]
fn run_refuses_a_non_root_user() {
    let s = Scratch::new("op-nonroot");
    let cfg = s.file("gw.conf", &west_config(EAST_GW_OUTSIDE));
    let mut cmd = run_cmd_with(
        &ipsecgw_for_nobody(&s),
        &cfg,
        &s.path().join("control.sock"),
    );
    as_nobody(&mut cmd);
    let line = refusal(&run_bounded(&mut cmd, Duration::from_secs(10)));
    assert_eq!(
        line,
        "ipsecgw: ipsecgw run needs root: it loads BPF programs and opens AF_XDP sockets"
    );
    assert!(
        !s.path().join("control.sock").exists(),
        "nothing was started"
    );
}

#[test]
fn run_refuses_a_missing_interface() {
    // A namespace with nothing but `lo`: wan0 and lan0 do not exist there.
    let ns = Netns::new("op-noif").unwrap();
    let s = Scratch::new("op-noif");
    let cfg = s.file("gw.conf", &west_config(EAST_GW_OUTSIDE));
    let mut cmd = run_cmd(&cfg, &s.path().join("control.sock"));
    in_netns(&mut cmd, ns.name()).unwrap();
    let line = refusal(&run_bounded(&mut cmd, Duration::from_secs(10)));
    assert_eq!(
        line,
        "ipsecgw: interface `wan0` (nameif outside) does not exist on this host"
    );
    assert!(!s.path().join("control.sock").exists());
}

#[test]
fn run_refuses_a_config_that_fails_check() {
    let ns = Netns::new("op-ovl").unwrap();
    let s = Scratch::new("op-overlap");
    // Both sides of the ACL are the same /24: traffic could never leave.
    let text = west_config(EAST_GW_OUTSIDE).replace(
        "198.51.100.0 255.255.255.0 203.0.113.0 255.255.255.0",
        "198.51.100.0 255.255.255.0 198.51.100.0 255.255.255.0",
    );
    let cfg = s.file("gw.conf", &text);
    let mut cmd = run_cmd(&cfg, &s.path().join("control.sock"));
    in_netns(&mut cmd, ns.name()).unwrap();
    let line = refusal(&run_bounded(&mut cmd, Duration::from_secs(10)));
    assert!(
        line.contains("does not pass check: line 13: error: crypto map OUTSIDE_MAP 10: local network 198.51.100.0/24 and remote network 198.51.100.0/24 overlap"),
        "{line}"
    );
    assert!(
        line.ends_with(&format!("(run `ipsecgw check --config {}`)", cfg.display())),
        "{line}"
    );
}

/// One ESP worker per pair of queues: with two queues inside and one
/// outside some packets would reach no worker, so `run` refuses before it
/// loads anything, naming both counts and the fix.
#[test]
fn run_refuses_interfaces_with_different_queue_counts() {
    let t = Topology::with_queues("op-queues", false, 2).unwrap();
    // The outside veth down to one queue each way; the inside keeps two.
    for ns in [&t.west_gw, &t.east_gw] {
        let out = t
            .exec(ns, "ethtool")
            .args(["-L", GW_OUTSIDE_IF, "rx", "1", "tx", "1"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let s = Scratch::new("op-queues");
    let cfg = s.file("gw.conf", &west_config(EAST_GW_OUTSIDE));
    let mut cmd = run_cmd(&cfg, &s.path().join("control.sock"));
    in_netns(&mut cmd, &t.west_gw).unwrap();
    let line = refusal(&run_bounded(&mut cmd, Duration::from_secs(10)));
    assert_eq!(
        line,
        "ipsecgw: inside `lan0` has 2 receive queue(s) and outside `wan0` has 1: the ESP engine \
         runs one worker per pair of queues; give both the same number (ethtool -L IFACE combined N)"
    );
    assert!(
        !s.path().join("control.sock").exists(),
        "nothing was started"
    );
}

#[test]
fn check_points_at_line_and_column_and_fails() {
    let s = Scratch::new("op-check");
    let text = west_config(EAST_GW_OUTSIDE).replace("encryption aes-256", "encryption blowfish");
    let bad = s.file("bad.conf", &text);
    let out = check_config(&bad);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    // line 8 is " encryption blowfish"; the value starts in column 13
    assert!(
        stdout.contains(&format!(
            "{}: line 8, col 13: error: unknown encryption `blowfish` (expected one of: des, 3des, aes, aes-192, aes-256)",
            bad.display()
        )),
        "{stdout}"
    );
    assert_eq!(
        stderr.trim(),
        format!(
            "ipsecgw: {}: 1 error(s); the configuration would not load",
            bad.display()
        )
    );

    // A semantic error (check, not the parser) also fails, with its line.
    let ovl = s.file(
        "overlap.conf",
        &west_config(EAST_GW_OUTSIDE)
            .replace("203.0.113.0 255.255.255.0", "198.51.100.0 255.255.255.128"),
    );
    let out = check_config(&ovl);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("line 13: error: crypto map OUTSIDE_MAP 10: local network 198.51.100.0/24 and remote network 198.51.100.0/25 overlap"),
        "{stdout}"
    );

    // And a good file passes with exit 0.
    let good = s.file("good.conf", &west_config(EAST_GW_OUTSIDE));
    let out = check_config(&good);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains(": ok: 1 ISAKMP policies"), "{stdout}");
}

/// `ipsecgw check` on a full IKEv2 configuration (the sample that walks
/// every line of the dialect): it loads and passes, and the summary
/// counts the IKEv2 policies and proposals. A missing IKEv2 key fails
/// with the tunnel-group's line. No namespace, no root needed.
#[test]
fn check_passes_a_full_ikev2_configuration() {
    let s = Scratch::new("check-ikev2");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../ipsec-user/tests/data/config/ikev2.cfg"),
    )
    .unwrap();
    let good = s.file("ikev2.conf", &text);
    let out = check_config(&good);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "{}: ok: 1 ISAKMP policies, 1 transform sets, 2 crypto map entries, 2 tunnel-groups, \
             2 IKEv2 policies, 2 IKEv2 ipsec-proposals (0 warnings, 0 lines ignored)",
            good.display()
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("error"), "{stdout}");

    let key_line = " ikev2 local-authentication pre-shared-key west-to-east\n";
    assert!(text.contains(key_line));
    let bad = s.file("nokey.conf", &text.replace(key_line, ""));
    let out = check_config(&bad);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let tg_line = text
        .lines()
        .position(|l| l == "tunnel-group 192.0.2.2 type ipsec-l2l")
        .unwrap()
        + 1;
    assert!(
        stdout.contains(&format!(
            "{}: line {tg_line}: error: tunnel-group 192.0.2.2: no ikev2 local-authentication key for peer 192.0.2.2",
            bad.display()
        )),
        "{stdout}"
    );
}

/// One gateway on west-gw of the topology; its peer never answers.
fn lone_gateway(tag: &str, peer: &str, args: &[&str]) -> (Topology, Gateway) {
    let t = Topology::new(tag, false).unwrap();
    let gw = Gateway::start("west", &t.west_gw, &west_config(peer), args).unwrap();
    (t, gw)
}

#[test]
fn control_socket_refuses_a_non_root_caller() {
    let (_t, gw) = lone_gateway("op-sock", EAST_GW_OUTSIDE, &[]);
    let s = Scratch::new("op-sock");
    let nobody_bin = ipsecgw_for_nobody(&s);
    let show = |who_nobody: bool| {
        let mut c = Command::new(if who_nobody {
            nobody_bin.clone()
        } else {
            ipsecgw_bin()
        });
        c.arg("--control")
            .arg(&gw.control)
            .args(["show", "crypto", "isakmp", "sa"]);
        if who_nobody {
            as_nobody(&mut c);
        }
        run_bounded(&mut c, Duration::from_secs(10))
    };
    // The socket file itself is root-only (0600): connect() is refused.
    let out = show(true);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!(
            "ipsecgw: permission denied on {}: the control socket is for root only (run ipsecgw as root)",
            gw.control.display()
        )
    );
    // Even if someone loosens the file mode, the daemon checks the caller's
    // credentials (SO_PEERCRED) and refuses.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&gw.control, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = show(true);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "ipsecgw: permission denied: the control socket is for root only"
    );
    assert!(
        gw.log()
            .contains("control request from a non-root caller refused uid=65534"),
        "{}",
        gw.log()
    );
    // root still gets an answer
    let out = show(false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("There are no IKEv1 SAs"));
}

/// Waits until the daemon's log has a line with every needle.
fn wait_log_line(gw: &Gateway, needles: &[&str], limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let log = gw.log();
        if let Some(l) = log.lines().find(|l| needles.iter().all(|n| l.contains(n))) {
            return l.to_string();
        }
        if Instant::now() > deadline {
            panic!("no log line with {needles:?} after {limit:?}:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn debug_crypto_isakmp_changes_verbosity_at_runtime() {
    // A peer nobody answers: the daemon retransmits (a debug-level event)
    // every 0.5 s, 1 s, 2 s ... for a while.
    const SILENT: &str = "192.0.2.99";
    let (t, gw) = lone_gateway("op-debug", SILENT, &["--ike-retransmit-ms", "500"]);
    let _ = t.ping(&t.west_lan, EAST_LAN_HOST, 1, 0.2);
    // info level: the negotiation start is logged, with the peer...
    let line = wait_log_line(&gw, &["initiating phase 1"], Duration::from_secs(5));
    assert!(line.contains(" INFO "), "{line}");
    assert!(
        line.contains(&format!("peer={SILENT}")),
        "log lines carry the peer: {line}"
    );
    // ...and nothing at debug level yet (retransmissions happen but are not shown).
    std::thread::sleep(Duration::from_millis(800));
    assert!(!gw.log().contains(" DEBUG "), "{}", gw.log());

    let reply = gw.cli(&["debug", "crypto", "isakmp", "255"]).unwrap();
    assert_eq!(reply.trim(), "debug crypto isakmp level 255 (trace)");
    let line = wait_log_line(&gw, &[" DEBUG ", "retransmitting"], Duration::from_secs(8));
    assert!(line.contains(&format!("peer={SILENT}")), "{line}");
    assert!(line.contains("ipsecgw::ike"), "{line}");
}

/// `debug crypto ipsec 255` turns the BPF programs' rare-path log lines
/// on (here: a punt for a selector with no SA), `debug crypto ipsec 0`
/// off again; with them off nothing from the programs is logged.
#[test]
fn debug_crypto_ipsec_switches_bpf_logs() {
    const SILENT: &str = "192.0.2.99";
    let (t, gw) = lone_gateway("op-bpflog", SILENT, &[]);
    let bpf_lines = |gw: &Gateway| {
        gw.log()
            .lines()
            .filter(|l| l.contains("ipsecgw::bpf"))
            .count()
    };
    let _ = t.ping(&t.west_lan, EAST_LAN_HOST, 2, 0.2);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(bpf_lines(&gw), 0, "off by default:\n{}", gw.log());

    let reply = gw.cli(&["debug", "crypto", "ipsec", "255"]).unwrap();
    assert!(reply.contains("BPF data-plane logs on"), "{reply}");
    // A fresh flow punts (the selector's punt budget allows a burst).
    let _ = t.ping(&t.west_lan, EAST_LAN_HOST, 2, 0.6);
    let line = wait_log_line(
        &gw,
        &["ipsecgw::bpf", "inside: no SA for selector"],
        Duration::from_secs(5),
    );
    assert!(
        line.contains("punted 198.51.100.10 -> 203.0.113.10 proto 1"),
        "{line}"
    );

    let reply = gw.cli(&["debug", "crypto", "ipsec", "0"]).unwrap();
    assert!(reply.contains("BPF data-plane logs off"), "{reply}");
    std::thread::sleep(Duration::from_millis(300));
    let before = bpf_lines(&gw);
    let _ = t.ping(&t.west_lan, EAST_LAN_HOST, 2, 0.6);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(bpf_lines(&gw), before, "off again:\n{}", gw.log());
}

#[test]
fn running_config_round_trips_through_check() {
    let (_t, gw) = lone_gateway("op-rc", EAST_GW_OUTSIDE, &[]);
    let running = gw.cli(&["show", "running-config"]).unwrap();
    // the daemon shows the normalised form of the file it loaded, keys masked
    let file = ipsecgw::config::parse(&west_config(EAST_GW_OUTSIDE)).unwrap();
    assert_eq!(running, ipsecgw::config::print(&file.config));
    assert!(running.contains("ikev1 pre-shared-key *****"), "{running}");
    assert!(
        !running.contains("operator-test-psk"),
        "the key never shows"
    );
    // As on an ASA, the masked key does not load: `check` says where and why.
    let s = Scratch::new("op-rc");
    let masked = s.file("masked.conf", &running);
    let out = check_config(&masked);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let key_line = running
        .lines()
        .position(|l| l.contains("pre-shared-key *****"))
        .unwrap()
        + 1;
    assert!(
        stdout.contains(&format!(
            "line {key_line}, col 23: error: pre-shared key of tunnel-group 192.0.2.2 is masked (`*****`)"
        )),
        "{stdout}"
    );
    // With the key pasted back it passes `ipsecgw check`...
    let pasted = running.replace("pre-shared-key *****", "pre-shared-key operator-test-psk");
    let p = s.file("running.conf", &pasted);
    let out = check_config(&p);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            ": ok: 1 ISAKMP policies, 1 transform sets, 1 crypto map entries, 1 tunnel-groups"
        ),
        "{stdout}"
    );
    // ...and loads to the very configuration the daemon runs: printed
    // with keys, both are the same text (a fixed point of parse + print).
    let again = ipsecgw::config::parse(&pasted).unwrap();
    let with_keys = ipsecgw::config::PrintOptions { include_keys: true };
    assert_eq!(
        ipsecgw::config::print_with(&again.config, with_keys),
        ipsecgw::config::print_with(&file.config, with_keys)
    );
    assert_eq!(ipsecgw::config::print(&again.config), running);
}

/// Every subcommand of `ipsecgw`, as completions and the man page must name them.
const SUBCOMMANDS: [&str; 7] = [
    "run",
    "check",
    "show",
    "clear",
    "debug",
    "completions",
    "manpage",
];

#[test]
fn completions_and_manpage_name_the_subcommands() {
    let out = run_bounded(
        Command::new(ipsecgw_bin()).args(["completions", "bash"]),
        Duration::from_secs(10),
    );
    assert!(out.status.success());
    let bash = String::from_utf8_lossy(&out.stdout);
    assert!(
        bash.contains("complete -F _ipsecgw"),
        "a bash completion function"
    );
    for sub in SUBCOMMANDS {
        assert!(
            bash.contains(&format!("ipsecgw__subcmd__{sub}")),
            "bash completion knows `{sub}`"
        );
    }
    assert!(bash.contains("running-config"), "and the words under show");

    let out = run_bounded(
        Command::new(ipsecgw_bin()).arg("manpage"),
        Duration::from_secs(10),
    );
    assert!(out.status.success());
    let man = String::from_utf8_lossy(&out.stdout);
    assert!(
        man.starts_with(".ie") || man.contains(".TH ipsecgw"),
        "roff:\n{man}"
    );
    assert!(
        man.contains(".SH SUBCOMMANDS") || man.contains("SUBCOMMANDS"),
        "{man}"
    );
    for sub in SUBCOMMANDS {
        assert!(
            man.contains(&format!("ipsecgw\\-{sub}")) || man.contains(&format!("ipsecgw-{sub}")),
            "the man page names `{sub}`:\n{man}"
        );
    }
}

/// The daemon holds keys: it never writes a core dump (RLIMIT_CORE 0 and
/// not dumpable, set before the configuration is read).
#[test]
fn the_daemon_never_dumps_core() {
    // The daemon must not rely on a limit it inherited (a shell's `ulimit
    // -c` is often 0 already): start it with cores allowed, then restore.
    let mut before = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointers; this test process's own limits.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_CORE, &mut before), 0);
        let allow = libc::rlimit {
            rlim_cur: before.rlim_max,
            rlim_max: before.rlim_max,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_CORE, &allow), 0);
    }
    let started = std::panic::catch_unwind(|| lone_gateway("op-core", EAST_GW_OUTSIDE, &[]));
    // SAFETY: as above.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &before) };
    let (_t, gw) = started.unwrap();
    assert_ne!(
        before.rlim_max, 0,
        "the test needs a hard core limit above 0"
    );
    let pid = gw.pid().expect("daemon running");
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], &["0", "0"], "{core}");
}
