//! IKE cryptography: PRFs, Diffie-Hellman groups, the IKEv1 SKEYID chain, KEYMAT and phase-1 encryption.
