//! Types shared by the eBPF programs and userspace: map keys and values,
//! map names, the punt-event layout and the counter layout. Everything here
//! is `#[repr(C)]` and plain old data.
#![no_std]
