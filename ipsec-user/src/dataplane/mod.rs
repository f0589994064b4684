//! BPF loader, typed maps, punt stream and counters.
