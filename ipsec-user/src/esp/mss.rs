//! TCP MSS clamping on SYNs entering the tunnel, so TCP endpoints never
//! build segments that need fragmenting after ESP overhead.

use super::ipv4::{self, PROTO_TCP};

/// ASA's `sysopt connection tcpmss` default.
pub const DEFAULT_MSS: u16 = 1380;

const TCP_SYN: u8 = 0x02;
const OPT_END: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_MSS: u8 = 2;

/// Lowers the MSS option of a TCP SYN (or SYN-ACK) in the IPv4 packet
/// `packet` to `max_mss` if it is larger, updating the TCP checksum
/// incrementally (RFC 1624). Returns whether the packet changed. Anything
/// that is not an unfragmented TCP SYN with a well-formed option list is
/// left alone.
pub fn clamp_tcp_mss(packet: &mut [u8], max_mss: u16) -> bool {
    let Some(ip) = ipv4::parse(packet) else {
        return false;
    };
    if ip.protocol != PROTO_TCP || ip.fragment_offset != 0 {
        return false;
    }
    let Some(tcp) = packet.get_mut(ip.header_len..ip.total_len) else {
        return false;
    };
    if tcp.len() < 20 || tcp[13] & TCP_SYN == 0 {
        return false;
    }
    let data_off = usize::from(tcp[12] >> 4) * 4;
    if data_off < 20 || data_off > tcp.len() {
        return false;
    }
    let mut i = 20;
    while i < data_off {
        match tcp[i] {
            OPT_END => return false,
            OPT_NOP => i += 1,
            kind => {
                let Some(&len) = tcp.get(i + 1) else {
                    return false;
                };
                let len = usize::from(len);
                if len < 2 || i + len > data_off {
                    return false;
                }
                if kind == OPT_MSS && len == 4 {
                    let old = u16::from_be_bytes([tcp[i + 2], tcp[i + 3]]);
                    if old <= max_mss {
                        return false;
                    }
                    tcp[i + 2..i + 4].copy_from_slice(&max_mss.to_be_bytes());
                    let csum = u16::from_be_bytes([tcp[16], tcp[17]]);
                    // A value at an odd offset straddles two checksum
                    // words; one's-complement sums commute with byte
                    // swapping, so update with both halves swapped.
                    let new = if (i + 2) % 2 == 1 {
                        update_checksum(csum, old.swap_bytes(), max_mss.swap_bytes())
                    } else {
                        update_checksum(csum, old, max_mss)
                    };
                    tcp[16..18].copy_from_slice(&new.to_be_bytes());
                    return true;
                }
                i += len;
            }
        }
    }
    false
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
fn update_checksum(hc: u16, old: u16, new: u16) -> u16 {
    let sum = u32::from(!hc) + u32::from(!old) + u32::from(new);
    !ipv4::fold(sum)
}
