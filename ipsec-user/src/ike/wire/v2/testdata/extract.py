#!/usr/bin/env python3
"""Extracts the IKEv2 messages of strongSwan 5.9.8 captures into
<capture-stem>-<n>-<exchange>-<i|r>.bin (the UDP payload; on port 4500 the
4-byte non-ESP marker is stripped). Standard library only.

    ./extract.py ../../../../../tests/data/pcaps/ikev2-aes256gcm16-ecp256-libipsec5.9.8-udpencap.pcap PREFIX
"""
import os
import struct
import sys

EXCHANGES = {34: "init", 35: "auth", 36: "child", 37: "info"}


def frames(path):
    d = open(path, "rb").read()
    endian = "<" if d[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(endian + "I", d[20:24])[0]
    pos = 24
    while pos + 16 <= len(d):
        incl = struct.unpack(endian + "I", d[pos + 8:pos + 12])[0]
        yield linktype, d[pos + 16:pos + 16 + incl]
        pos += 16 + incl


def ike_payloads(path):
    for linktype, frame in frames(path):
        if linktype == 1:  # Ethernet
            if struct.unpack(">H", frame[12:14])[0] != 0x0800:
                continue
            ip = frame[14:]
        elif linktype == 113:  # Linux cooked
            ip = frame[16:]
        else:
            ip = frame
        if ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        sport, dport, ulen = struct.unpack(">HHH", ip[ihl:ihl + 6])
        udp = ip[ihl + 8:ihl + ulen]
        if 4500 in (sport, dport):
            if udp[:4] != b"\0\0\0\0":
                continue  # ESP in UDP, or a keepalive
            udp = udp[4:]
        elif 500 not in (sport, dport):
            continue
        if len(udp) >= 28 and udp[17] >> 4 == 2:
            yield udp


def main():
    path, prefix = sys.argv[1], sys.argv[2]
    out = os.path.dirname(os.path.abspath(__file__))
    for n, msg in enumerate(ike_payloads(path), 1):
        kind = EXCHANGES.get(msg[18], str(msg[18]))
        role = "r" if msg[19] & 0x20 else "i"
        name = f"{prefix}-{n}-{kind}-{role}.bin"
        open(os.path.join(out, name), "wb").write(msg)
        print(name, len(msg))


if __name__ == "__main__":
    main()
