//! IKE: the wire codec, the key-derivation crypto and the IKEv1 exchanges.

pub mod crypto;
pub mod v1;
pub mod wire;
