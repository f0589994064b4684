//! Verdict counters, summed over CPUs.

use ipsec_common::{VERDICT_COUNT, Verdict};

/// Every verdict the programs count, in `Verdict` order.
pub const ALL_VERDICTS: [Verdict; VERDICT_COUNT as usize] = [
    Verdict::InNonIpv4Pass,
    Verdict::InMalformedDrop,
    Verdict::InNoMatchPass,
    Verdict::InDenyPass,
    Verdict::InEncryptRedirect,
    Verdict::InEncryptNoSocketDrop,
    Verdict::InHoldRedirect,
    Verdict::InHoldNoSocketDrop,
    Verdict::OutNonIpv4Pass,
    Verdict::OutMalformedPass,
    Verdict::OutEspRedirect,
    Verdict::OutEspNoSocketDrop,
    Verdict::OutUnknownSpiDrop,
    Verdict::OutIkePass,
    Verdict::OutKeepalivePass,
    Verdict::OutFragmentPass,
    Verdict::OutOtherPass,
    Verdict::TcNonIpv4Pass,
    Verdict::TcMalformedDrop,
    Verdict::TcProtectedDrop,
    Verdict::TcEspIkePass,
    Verdict::TcOtherPass,
    Verdict::PuntSent,
    Verdict::PuntRateLimited,
    Verdict::PuntRingFull,
    Verdict::InFragment,
    Verdict::PuntSpiNotPeer,
    Verdict::PuntSpiRateLimited,
    Verdict::PuntSpiRingReserved,
];

/// A stable snake_case name for logs, JSON and `show` output.
pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::InNonIpv4Pass => "inside_non_ipv4_pass",
        Verdict::InMalformedDrop => "inside_malformed_drop",
        Verdict::InNoMatchPass => "inside_no_match_pass",
        Verdict::InDenyPass => "inside_deny_pass",
        Verdict::InEncryptRedirect => "inside_encrypt_redirect",
        Verdict::InEncryptNoSocketDrop => "inside_encrypt_no_socket_drop",
        Verdict::InHoldRedirect => "inside_hold_redirect",
        Verdict::InHoldNoSocketDrop => "inside_hold_no_socket_drop",
        Verdict::OutNonIpv4Pass => "outside_non_ipv4_pass",
        Verdict::OutMalformedPass => "outside_malformed_pass",
        Verdict::OutEspRedirect => "outside_esp_redirect",
        Verdict::OutEspNoSocketDrop => "outside_esp_no_socket_drop",
        Verdict::OutUnknownSpiDrop => "outside_unknown_spi_drop",
        Verdict::OutIkePass => "outside_ike_pass",
        Verdict::OutKeepalivePass => "outside_natt_keepalive_pass",
        Verdict::OutFragmentPass => "outside_fragment_pass",
        Verdict::OutOtherPass => "outside_other_pass",
        Verdict::TcNonIpv4Pass => "egress_non_ipv4_pass",
        Verdict::TcMalformedDrop => "egress_malformed_drop",
        Verdict::TcProtectedDrop => "egress_protected_cleartext_drop",
        Verdict::TcEspIkePass => "egress_esp_ike_pass",
        Verdict::TcOtherPass => "egress_other_pass",
        Verdict::PuntSent => "punt_event_sent",
        Verdict::PuntRateLimited => "punt_event_rate_limited",
        Verdict::PuntRingFull => "punt_event_ring_full",
        Verdict::InFragment => "inside_fragment_seen",
        Verdict::PuntSpiNotPeer => "punt_unknown_spi_not_peer",
        Verdict::PuntSpiRateLimited => "punt_unknown_spi_rate_limited",
        Verdict::PuntSpiRingReserved => "punt_unknown_spi_ring_reserved",
    }
}

/// Verdict counters summed over all CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerdictCounters {
    pub values: [u64; VERDICT_COUNT as usize],
}

impl VerdictCounters {
    pub fn get(&self, v: Verdict) -> u64 {
        self.values[v as usize]
    }

    /// `(name, value)` for every verdict.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        ALL_VERDICTS.iter().map(|&v| (verdict_name(v), self.get(v)))
    }

    /// Counter-wise difference `self - earlier` (saturating).
    pub fn since(&self, earlier: &VerdictCounters) -> VerdictCounters {
        let mut out = VerdictCounters::default();
        for (i, o) in out.values.iter_mut().enumerate() {
            *o = self.values[i].saturating_sub(earlier.values[i]);
        }
        out
    }

    /// The non-zero counters, for assertions and logs.
    pub fn nonzero(&self) -> Vec<(&'static str, u64)> {
        self.iter().filter(|&(_, v)| v != 0).collect()
    }
}

/// Per-SA traffic, summed over CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SaStats {
    pub packets: u64,
    pub bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_table_is_in_index_order() {
        for (i, v) in ALL_VERDICTS.iter().enumerate() {
            assert_eq!(*v as usize, i);
        }
        let mut names: Vec<_> = ALL_VERDICTS.iter().map(|&v| verdict_name(v)).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL_VERDICTS.len());
    }
}
