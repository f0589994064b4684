//! Log formats for operators: tunnel events as ASA messages on stderr
//! (`--log-format asa`) and to a syslog host (`--syslog`), with the IDs
//! and facts ASA prints; JSON lines with `--log-format json`.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use harness::config::{east_seed, west_seed};
use harness::gateway::Gateway;
use harness::topology::*;

const PSK: &str = "logging-test-psk-42";

/// A UDP syslog listener inside a namespace, writing what it receives to
/// a file; killed by PID on drop.
struct Listener {
    child: Child,
    file: std::path::PathBuf,
}

impl Listener {
    fn start(t: &Topology, ns: &str, port: u16) -> Listener {
        let file = std::env::temp_dir().join(unique("ipsecgw-syslog"));
        let script = format!(
            "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('127.0.0.1',{port}))\n\
f=open('{}','ab',buffering=0)\nwhile True:\n d=s.recv(65535)\n f.write(d+b'\\n')\n",
            file.display()
        );
        let child = t
            .exec(ns, "python3")
            .args(["-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        Listener { child, file }
    }
    fn received(&self) -> String {
        std::fs::read_to_string(&self.file).unwrap_or_default()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.file);
    }
}

fn wait_for(what: impl Fn() -> bool, limit: Duration) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if what() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    what()
}

#[test]
fn tunnel_events_are_asa_messages_on_stderr_and_syslog_and_json_lines_parse() {
    let t = Topology::new("logfmt", false).unwrap();
    let syslog = Listener::start(&t, &t.west_gw, 5514);
    let east = Gateway::start(
        "east",
        &t.east_gw,
        &east_seed(PSK),
        &["--log-format", "json"],
    )
    .unwrap();
    let west = Gateway::start(
        "west",
        &t.west_gw,
        &west_seed(PSK),
        &["--log-format", "asa", "--syslog", "127.0.0.1:5514"],
    )
    .unwrap();
    assert_eq!(t.ping(&t.west_lan, EAST_LAN_HOST, 3, 0.2).unwrap(), 3);
    let sa = west.wait_ipsec_sa(Duration::from_secs(2)).unwrap();
    let (in_spi, out_spi) = (
        sa[0]["inbound_spi"].as_u64().unwrap(),
        sa[0]["outbound_spi"].as_u64().unwrap(),
    );
    west.cli(&["clear", "crypto", "ipsec", "sa"]).unwrap();

    let want = [
        "%ASA-5-713119: Group = 192.0.2.2, IP = 192.0.2.2, PHASE 1 COMPLETED".to_string(),
        format!(
            "%ASA-5-713049: Group = 192.0.2.2, IP = 192.0.2.2, Security negotiation complete for LAN-to-LAN Group (192.0.2.2)  Initiator, Inbound SPI = 0x{in_spi:08x}, Outbound SPI = 0x{out_spi:08x}"
        ),
        format!(
            "%ASA-6-602303: IPSEC: An inbound LAN-to-LAN SA (SPI= 0x{in_spi:08X}) between 192.0.2.1 and 192.0.2.2 (user= 192.0.2.2) has been created."
        ),
        format!(
            "%ASA-6-602304: IPSEC: An outbound LAN-to-LAN SA (SPI= 0x{out_spi:08X}) between 192.0.2.1 and 192.0.2.2 (user= 192.0.2.2) has been deleted."
        ),
        "%ASA-4-113019: Group = 192.0.2.2, Username = 192.0.2.2, IP = 192.0.2.2, Session disconnected. Session Type: LAN-to-LAN, Duration: 0h:00m:0".to_string(),
        "Bytes xmt: 252, Bytes rcv: 252, Reason: Administrator Reset".to_string(),
    ];
    assert!(
        wait_for(
            || want.iter().all(|w| west.log().contains(w.as_str())),
            Duration::from_secs(3)
        ),
        "stderr lacks ASA lines {:?}:\n{}",
        want.iter()
            .filter(|w| !west.log().contains(w.as_str()))
            .collect::<Vec<_>>(),
        west.log()
    );
    // Syslog: the same lines with the local4 priority of their severity.
    assert!(
        wait_for(
            || syslog.received().contains("<165>%ASA-5-713049: "),
            Duration::from_secs(3)
        ),
        "syslog got:\n{}",
        syslog.received()
    );
    let got = syslog.received();
    assert!(got.contains("<166>%ASA-6-602303: "), "{got}");
    assert!(got.contains("<164>%ASA-4-113019: "), "{got}");
    assert!(
        !got.contains("INFO"),
        "only ASA messages go to syslog: {got}"
    );

    // East's stderr is JSON lines, ASA events among them with their id.
    let log = east.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() > 3, "{log}");
    assert!(
        lines
            .iter()
            .any(|v| v["fields"]["asa_id"] == 713049 && v["target"] == "asa"),
        "{log}"
    );
}
