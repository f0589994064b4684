//! ISAKMP (RFC 2408) messages and payloads: typed views over bytes and `Repr`s that parse and emit.
