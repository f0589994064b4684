//! Vendor ID payload (RFC 2408 3.16) and the ids that change behaviour.

use super::super::error::WireError;

/// Bound on a vendor id (real ones are 8 to 20 bytes).
pub const MAX_VENDOR_ID_LEN: usize = 256;

/// RFC 3947 NAT-T: MD5("RFC 3947").
pub const VID_NAT_T_RFC3947: [u8; 16] = hex16(*b"4a131c81070358455c5728f20e95452f");
/// draft-ietf-ipsec-nat-t-ike-02 with the trailing newline (what strongSwan sends).
pub const VID_NAT_T_DRAFT_02N: [u8; 16] = hex16(*b"90cb80913ebb696e086381b5ec427b1f");
/// draft-ietf-ipsec-nat-t-ike-02 without the newline.
pub const VID_NAT_T_DRAFT_02: [u8; 16] = hex16(*b"cd60464335df21f87cfdb2fc68b6a448");
/// draft-ietf-ipsec-nat-t-ike-03.
pub const VID_NAT_T_DRAFT_03: [u8; 16] = hex16(*b"7d9419a65310ca6f2c179d9215529d56");
/// RFC 3706 Dead Peer Detection.
pub const VID_DPD: [u8; 16] = hex16(*b"afcad71368a1f1c96b8696fc77570100");
/// XAUTH (first 8 bytes of MD5("draft-ietf-ipsra-isakmp-xauth-06.txt")).
pub const VID_XAUTH: [u8; 8] = [0x09, 0x00, 0x26, 0x89, 0xdf, 0xd6, 0xb7, 0x12];
/// Cisco Unity: MD5("CISCO-UNITY") with the last two bytes replaced by the
/// version (1.0); matched on the first 14 bytes.
pub const VID_CISCO_UNITY: [u8; 16] = hex16(*b"12f5f28c457168a9702d9fe274cc0100");
/// strongSwan: MD5("strongSwan"); some versions append a version string.
pub const VID_STRONGSWAN: [u8; 16] = hex16(*b"882fe56d6fd20dbc2251613b2ebe5beb");
/// IKEv1 fragmentation: MD5("FRAGMENTATION"), usually followed by 4 flag
/// bytes (0x80000000); matched on the 16-byte prefix.
pub const VID_FRAGMENTATION: [u8; 16] = hex16(*b"4048b7d56ebce88525e7de7f00d6c2d3");

const fn hex16(s: [u8; 32]) -> [u8; 16] {
    const fn nib(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("bad hex"),
        }
    }
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        out[i] = (nib(s[2 * i]) << 4) | nib(s[2 * i + 1]);
        i += 1;
    }
    out
}

/// A vendor id this gateway recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KnownVendor {
    NatTRfc3947,
    NatTDraft02N,
    NatTDraft02,
    NatTDraft03,
    Dpd,
    Xauth,
    CiscoUnity,
    StrongSwan,
    Fragmentation,
}

impl KnownVendor {
    /// The bytes we send for this vendor id.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            KnownVendor::NatTRfc3947 => &VID_NAT_T_RFC3947,
            KnownVendor::NatTDraft02N => &VID_NAT_T_DRAFT_02N,
            KnownVendor::NatTDraft02 => &VID_NAT_T_DRAFT_02,
            KnownVendor::NatTDraft03 => &VID_NAT_T_DRAFT_03,
            KnownVendor::Dpd => &VID_DPD,
            KnownVendor::Xauth => &VID_XAUTH,
            KnownVendor::CiscoUnity => &VID_CISCO_UNITY,
            KnownVendor::StrongSwan => &VID_STRONGSWAN,
            KnownVendor::Fragmentation => &VID_FRAGMENTATION,
        }
    }

    /// Is this one of the NAT-T ids (RFC or draft)?
    pub fn is_nat_t(self) -> bool {
        matches!(
            self,
            KnownVendor::NatTRfc3947
                | KnownVendor::NatTDraft02N
                | KnownVendor::NatTDraft02
                | KnownVendor::NatTDraft03
        )
    }

    /// Recognises a vendor id.  Exact match for the fixed ids; prefix match
    /// for those that carry a version or flags after a fixed part.
    pub fn recognise(data: &[u8]) -> Option<KnownVendor> {
        use KnownVendor::*;
        for k in [
            NatTRfc3947,
            NatTDraft02N,
            NatTDraft02,
            NatTDraft03,
            Dpd,
            Xauth,
        ] {
            if data == k.bytes() {
                return Some(k);
            }
        }
        if data.len() == 16 && data[..14] == VID_CISCO_UNITY[..14] {
            return Some(CiscoUnity);
        }
        if data.starts_with(&VID_STRONGSWAN) {
            return Some(StrongSwan);
        }
        if data.starts_with(&VID_FRAGMENTATION) {
            return Some(Fragmentation);
        }
        None
    }
}

/// The vendor id payload body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorIdRepr {
    pub data: Vec<u8>,
}

impl VendorIdRepr {
    pub fn new(data: impl Into<Vec<u8>>) -> Self {
        VendorIdRepr { data: data.into() }
    }
    pub fn known(k: KnownVendor) -> Self {
        VendorIdRepr {
            data: k.bytes().to_vec(),
        }
    }
    pub fn recognise(&self) -> Option<KnownVendor> {
        KnownVendor::recognise(&self.data)
    }
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        if body.is_empty() || body.len() > MAX_VENDOR_ID_LEN {
            return Err(WireError::BadLength {
                what: "vendor id",
                len: body.len(),
            });
        }
        Ok(VendorIdRepr {
            data: body.to_vec(),
        })
    }
    pub fn buffer_len(&self) -> usize {
        self.data.len()
    }
    pub fn emit(&self, buf: &mut [u8]) {
        buf[..self.data.len()].copy_from_slice(&self.data);
    }
}
