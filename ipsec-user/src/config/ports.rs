//! ASA port and protocol names (`eq www`, `range ftp-data ftp`, `udp`).
//! The ASA prints literal numbers as names when it knows one, so a pasted
//! running-config is full of them. A few names differ by protocol
//! (TCP 514 is `cmd`/`rsh`, UDP 514 is `syslog`), hence the flags.

const TCP: u8 = 1;
const UDP: u8 = 2;
const BOTH: u8 = TCP | UDP;

/// (name, port, protocols), from the ASA's "Port Names" table.
const PORTS: &[(&str, u16, u8)] = &[
    ("aol", 5190, TCP),
    ("bgp", 179, TCP),
    ("biff", 512, UDP),
    ("bootpc", 68, UDP),
    ("bootps", 67, UDP),
    ("chargen", 19, TCP),
    ("cifs", 3020, BOTH),
    ("citrix-ica", 1494, TCP),
    ("cmd", 514, TCP),
    ("ctiqbe", 2748, TCP),
    ("daytime", 13, TCP),
    ("discard", 9, BOTH),
    ("dnsix", 195, UDP),
    ("domain", 53, BOTH),
    ("echo", 7, BOTH),
    ("exec", 512, TCP),
    ("finger", 79, TCP),
    ("ftp", 21, TCP),
    ("ftp-data", 20, TCP),
    ("gopher", 70, TCP),
    ("h323", 1720, TCP),
    ("hostname", 101, TCP),
    ("http", 80, BOTH),
    ("https", 443, TCP),
    ("ident", 113, TCP),
    ("imap4", 143, TCP),
    ("irc", 194, TCP),
    ("isakmp", 500, UDP),
    ("kerberos", 750, BOTH),
    ("klogin", 543, TCP),
    ("kshell", 544, TCP),
    ("ldap", 389, TCP),
    ("ldaps", 636, TCP),
    ("login", 513, TCP),
    ("lotusnotes", 1352, TCP),
    ("lpd", 515, TCP),
    ("mobile-ip", 434, UDP),
    ("nameserver", 42, UDP),
    ("netbios-dgm", 138, UDP),
    ("netbios-ns", 137, UDP),
    ("netbios-ssn", 139, TCP),
    ("nfs", 2049, BOTH),
    ("nntp", 119, TCP),
    ("ntp", 123, UDP),
    ("pcanywhere-data", 5631, TCP),
    ("pcanywhere-status", 5632, UDP),
    ("pim-auto-rp", 496, BOTH),
    ("pop2", 109, TCP),
    ("pop3", 110, TCP),
    ("pptp", 1723, TCP),
    ("radius", 1645, UDP),
    ("radius-acct", 1646, UDP),
    ("rip", 520, UDP),
    ("rsh", 514, TCP),
    ("rtsp", 554, TCP),
    ("secureid-udp", 5510, UDP),
    ("sip", 5060, BOTH),
    ("smtp", 25, TCP),
    ("snmp", 161, UDP),
    ("snmptrap", 162, UDP),
    ("sqlnet", 1521, TCP),
    ("ssh", 22, TCP),
    ("sunrpc", 111, BOTH),
    ("syslog", 514, UDP),
    ("tacacs", 49, BOTH),
    ("talk", 517, BOTH),
    ("telnet", 23, TCP),
    ("tftp", 69, UDP),
    ("time", 37, UDP),
    ("uucp", 540, TCP),
    ("vxlan", 4789, UDP),
    ("who", 513, UDP),
    ("whois", 43, TCP),
    ("www", 80, BOTH),
    ("xdmcp", 177, UDP),
];

/// IP protocol numbers of the ports-bearing protocols.
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;

/// Protocol names accepted on an access-list line; `ip` means any (`None`).
const PROTOCOLS: &[(&str, u8)] = &[
    ("icmp", 1),
    ("igmp", 2),
    ("ipinip", 4),
    ("tcp", PROTO_TCP),
    ("udp", PROTO_UDP),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("icmp6", 58),
    ("eigrp", 88),
    ("ospf", 89),
    ("nos", 94),
    ("pim", 103),
    ("pcp", 108),
    ("snp", 109),
    ("sctp", 132),
];

/// Every protocol word, for hints.
pub fn protocol_names() -> Vec<&'static str> {
    let mut v = vec!["ip"];
    v.extend(PROTOCOLS.iter().map(|(n, _)| *n));
    v
}

/// `ip` -> `Some(None)`, `tcp` -> `Some(Some(6))`, `50` -> `Some(Some(50))`.
pub fn protocol(word: &str) -> Option<Option<u8>> {
    let w = word.to_ascii_lowercase();
    if w == "ip" {
        return Some(None);
    }
    if let Ok(n) = w.parse::<u8>() {
        return Some(Some(n));
    }
    PROTOCOLS
        .iter()
        .find(|(n, _)| *n == w)
        .map(|(_, p)| Some(*p))
}

/// The name the printer uses for a protocol (a number if it has none).
pub fn protocol_name(proto: Option<u8>) -> String {
    match proto {
        None => "ip".to_string(),
        Some(p) => match PROTOCOLS.iter().find(|(_, n)| *n == p) {
            Some((name, _)) => (*name).to_string(),
            None => p.to_string(),
        },
    }
}

/// A port word for protocol `proto` (6 or 17): a number or an ASA name.
pub fn port(word: &str, proto: u8) -> Option<u16> {
    if let Ok(n) = word.parse::<u16>() {
        return Some(n);
    }
    let flag = if proto == PROTO_UDP { UDP } else { TCP };
    let w = word.to_ascii_lowercase();
    PORTS
        .iter()
        .find(|(n, _, f)| *n == w && f & flag != 0)
        .map(|(_, p, _)| *p)
}

/// The port names valid for `proto`, for hints.
pub fn port_names(proto: u8) -> Vec<&'static str> {
    let flag = if proto == PROTO_UDP { UDP } else { TCP };
    PORTS
        .iter()
        .filter(|(_, _, f)| f & flag != 0)
        .map(|(n, _, _)| *n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(port("www", PROTO_TCP), Some(80));
        assert_eq!(port("HTTPS", PROTO_TCP), Some(443));
        assert_eq!(port("domain", PROTO_UDP), Some(53));
        assert_eq!(port("syslog", PROTO_UDP), Some(514));
        assert_eq!(port("syslog", PROTO_TCP), None);
        assert_eq!(port("cmd", PROTO_TCP), Some(514));
        assert_eq!(port("8443", PROTO_TCP), Some(8443));
        assert_eq!(port("70000", PROTO_TCP), None);
        assert_eq!(protocol("ip"), Some(None));
        assert_eq!(protocol("UDP"), Some(Some(17)));
        assert_eq!(protocol("50"), Some(Some(50)));
        assert_eq!(protocol("esp"), Some(Some(50)));
        assert_eq!(protocol("300"), None);
        assert_eq!(protocol("tcpp"), None);
        assert_eq!(protocol_name(Some(17)), "udp");
        assert_eq!(protocol_name(Some(200)), "200");
        assert_eq!(protocol_name(None), "ip");
    }
}
