//! Per-SA counters: the facts of ASA `show crypto ipsec sa`.
//!
//! Plain `u64` fields in a `#[repr(C)]` struct so the engine can share a
//! snapshot with the control plane (or a BPF-map mirror) without
//! translation. Each worker keeps its own counters for its handle on an
//! SA, updated with ordinary adds (no atomics on the packet path); the
//! daemon adds the workers' counters up.

/// Counters of one SA direction. Outbound SAs fill the `encaps` side,
/// inbound SAs the `decaps` side.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SaCounters {
    /// `#pkts encaps`: packets successfully encapsulated.
    pub pkts_encaps: u64,
    /// `#pkts encrypt`: packets that went through the cipher (all of them
    /// but ESP-NULL ones).
    pub pkts_encrypt: u64,
    /// `#pkts digest`: packets that got an ICV (HMAC or AEAD tag).
    pub pkts_digest: u64,
    /// `#pkts decaps`: packets successfully decapsulated.
    pub pkts_decaps: u64,
    /// `#pkts decrypt`: packets that were decrypted.
    pub pkts_decrypt: u64,
    /// `#pkts verify`: packets whose ICV verified.
    pub pkts_verify: u64,
    /// Inner (cleartext) bytes encapsulated; what `lifetime kilobytes` counts.
    pub bytes_encaps: u64,
    /// Inner (cleartext) bytes decapsulated.
    pub bytes_decaps: u64,
    /// `#send errors`: encapsulations refused (buffer, sequence exhausted,
    /// lifetime expired, malformed inner packet).
    pub send_errors: u64,
    /// `#recv errors`: every inbound packet dropped for any reason below.
    pub recv_errors: u64,
    /// `#pkts verify failed`: ICV / AEAD tag mismatch.
    pub auth_failures: u64,
    /// `#pkts replay failed`: duplicate or older than the window.
    pub replay_drops: u64,
    /// `#pkts invalid identity`: inner packet outside the SA's selectors.
    pub policy_drops: u64,
    /// `#pkts invalid len` and friends: truncated, misaligned, bad padding,
    /// next header not IPv4, inner IPv4 header broken.
    pub malformed: u64,
}

impl SaCounters {
    /// Adds the counters of another worker's handle on the same SA.
    pub fn add(&mut self, o: &SaCounters) {
        self.pkts_encaps += o.pkts_encaps;
        self.pkts_encrypt += o.pkts_encrypt;
        self.pkts_digest += o.pkts_digest;
        self.pkts_decaps += o.pkts_decaps;
        self.pkts_decrypt += o.pkts_decrypt;
        self.pkts_verify += o.pkts_verify;
        self.bytes_encaps += o.bytes_encaps;
        self.bytes_decaps += o.bytes_decaps;
        self.send_errors += o.send_errors;
        self.recv_errors += o.recv_errors;
        self.auth_failures += o.auth_failures;
        self.replay_drops += o.replay_drops;
        self.policy_drops += o.policy_drops;
        self.malformed += o.malformed;
    }
}
