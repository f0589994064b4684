//! Wires config -> dataplane -> ike -> esp -> control.
