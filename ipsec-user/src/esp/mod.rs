//! ESP engine (RFC 4303 tunnel mode): SAs, transforms, encapsulation, decapsulation, replay window.
