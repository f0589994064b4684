//! Finding payloads of a decrypted chain.

use crate::ike::wire::v2::{AuthV2, IdV2, KeV2, PayloadV2, SaV2, TsV2};

pub(super) fn find_sa(p: &[PayloadV2]) -> Option<&SaV2> {
    p.iter().find_map(|p| {
        if let PayloadV2::Sa(s) = p {
            Some(s)
        } else {
            None
        }
    })
}

pub(super) fn find_ke(p: &[PayloadV2]) -> Option<&KeV2> {
    p.iter().find_map(|p| {
        if let PayloadV2::Ke(k) = p {
            Some(k)
        } else {
            None
        }
    })
}

pub(super) fn find_nonce(p: &[PayloadV2]) -> Option<&Vec<u8>> {
    p.iter().find_map(|p| {
        if let PayloadV2::Nonce(n) = p {
            Some(n)
        } else {
            None
        }
    })
}

pub(super) fn find_tsi(p: &[PayloadV2]) -> Option<&TsV2> {
    p.iter().find_map(|p| {
        if let PayloadV2::TsI(t) = p {
            Some(t)
        } else {
            None
        }
    })
}

pub(super) fn find_tsr(p: &[PayloadV2]) -> Option<&TsV2> {
    p.iter().find_map(|p| {
        if let PayloadV2::TsR(t) = p {
            Some(t)
        } else {
            None
        }
    })
}

pub(super) fn find_idr(p: &[PayloadV2]) -> Option<&IdV2> {
    p.iter().find_map(|p| {
        if let PayloadV2::IdR(i) = p {
            Some(i)
        } else {
            None
        }
    })
}

pub(super) fn find_auth(p: &[PayloadV2]) -> Option<&AuthV2> {
    p.iter().find_map(|p| {
        if let PayloadV2::Auth(a) = p {
            Some(a)
        } else {
            None
        }
    })
}
