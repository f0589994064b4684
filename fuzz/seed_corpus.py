#!/usr/bin/env python3
"""Writes the IKE messages of the test captures into corpus/isakmp_message/
as the fuzzer's seed corpus (UDP 500 payloads as they are, UDP 4500 ones
with the non-ESP marker stripped).  Standard library only.

    cd fuzz && ./seed_corpus.py && cargo +nightly fuzz run isakmp_message
"""
import glob
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
PCAPS = os.path.join(HERE, "..", "ipsec-user", "tests", "data", "pcaps")
OUT = os.path.join(HERE, "corpus", "isakmp_message")


def udp_payloads(path):
    d = open(path, "rb").read()
    magic = d[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(endian + "I", d[20:24])[0]
    pos = 24
    while pos + 16 <= len(d):
        incl = struct.unpack(endian + "I", d[pos + 8:pos + 12])[0]
        frame = d[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        if linktype == 1:
            ethertype, l3 = struct.unpack(">H", frame[12:14])[0], frame[14:]
        elif linktype == 113:
            ethertype, l3 = struct.unpack(">H", frame[14:16])[0], frame[16:]
        else:
            raise SystemExit(f"{path}: link type {linktype} not handled")
        if ethertype != 0x0800 or l3[9] != 17:
            continue
        ihl = (l3[0] & 0x0F) * 4
        udp = l3[ihl:]
        sport, dport, ulen = struct.unpack(">HHH", udp[:6])
        yield sport, dport, udp[8:ulen]


def main():
    os.makedirs(OUT, exist_ok=True)
    n = 0
    for path in sorted(glob.glob(os.path.join(PCAPS, "*.pcap"))):
        for sport, dport, payload in udp_payloads(path):
            if dport == 4500 and payload[:4] == b"\0\0\0\0":
                payload = payload[4:]
            elif dport != 500:
                continue
            seeds = [payload]
            # A cleartext IKEv1 body prefixed by its first payload type: the
            # shape the target also tries as a decrypted body.
            if len(payload) > 28 and payload[17] >> 4 == 1 and not payload[19] & 1:
                seeds.append(payload[16:17] + payload[28:])
            for seed in seeds:
                name = hashlib.sha1(seed).hexdigest()
                with open(os.path.join(OUT, name), "wb") as f:
                    f.write(seed)
                n += 1
    print(f"{n} seeds in {OUT}")


if __name__ == "__main__":
    main()
