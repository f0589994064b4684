#!/usr/bin/env python3
"""Writes the seed corpora of every fuzz target into corpus/<target>/.
Standard library only; re-running it is idempotent (files are named by
their SHA-1).

* isakmp_message: the IKE messages of the test captures (UDP 500 payloads
  as they are, UDP 4500 ones with the non-ESP marker stripped).
* ike_payload_chain: the cleartext IKEv1 bodies of the captures prefixed by
  their first payload type, and each payload body prefixed by its type.
* config_parse: the sample configurations, whole and block by block.
* esp_decap: mode 0 the captures' frames (ESP-in-UDP among them), mode 1
  ESP-NULL packets shaped like the unit tests' (valid inner IPv4 between
  the fixed selectors, RFC 4303 padding, a dummy packet), mode 2 the
  structured parameters of each fixed SA, mode 3 replay sequences.
* punt_event: punt events and XDP metadata in the shared layouts of
  ipsec-common (native endian: little on x86-64).
* control_request: one request line per command.
* ikev2_message: the IKEv2 messages of the captures, and each cleartext
  IKEv2 body prefixed by its first payload type.
* ikev2_sk_open: mode 0 the captures' IKE_AUTH messages for a few suites,
  mode 1 the captures' IKE_SA_INIT bodies as inner chains to seal (one
  untouched, one with a flip), mode 2 the same cut into fragments at a few
  datagram sizes, mode 3 a stream of those messages.

    cd fuzz && ./seed_corpus.py && cargo +nightly fuzz run isakmp_message
"""
import glob
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
PCAPS = os.path.join(HERE, "..", "ipsec-user", "tests", "data", "pcaps")
CONFIGS = os.path.join(HERE, "..", "ipsec-user", "tests", "data", "config")
CORPUS = os.path.join(HERE, "corpus")
OUT = os.path.join(CORPUS, "isakmp_message")


def frames(path):
    """(link type, frame) of every packet of a pcap."""
    d = open(path, "rb").read()
    magic = d[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(endian + "I", d[20:24])[0]
    pos = 24
    while pos + 16 <= len(d):
        incl = struct.unpack(endian + "I", d[pos + 8:pos + 12])[0]
        frame = d[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        yield linktype, frame


def udp_payloads(path):
    for linktype, frame in frames(path):
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


def write(target, seed):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(seed).hexdigest()), "wb") as f:
        f.write(seed)


def payload_bodies(first, body):
    """(type, body) of each payload of a cleartext IKEv1 chain."""
    kind, pos = first, 0
    while kind != 0 and pos + 4 <= len(body):
        nxt, _, length = struct.unpack(">BBH", body[pos:pos + 4])
        if length < 4 or pos + length > len(body):
            break
        yield kind, body[pos + 4:pos + length]
        kind, pos = nxt, pos + length


def ike_payload_chain_seeds():
    n = 0
    for path in sorted(glob.glob(os.path.join(PCAPS, "*.pcap"))):
        for _, dport, payload in udp_payloads(path):
            if dport == 4500 and payload[:4] == b"\0\0\0\0":
                payload = payload[4:]
            if len(payload) <= 28 or payload[17] >> 4 != 1 or payload[19] & 1:
                continue
            write("ike_payload_chain", payload[16:17] + payload[28:])
            n += 1
            for kind, body in payload_bodies(payload[16], payload[28:]):
                write("ike_payload_chain", bytes([kind]) + body)
                n += 1
    return n


def config_seeds():
    n = 0
    for path in sorted(glob.glob(os.path.join(CONFIGS, "*.cfg"))):
        text = open(path, "rb").read()
        write("config_parse", text)
        n += 1
        # Each top-level block (a line and its indented sub-mode lines).
        block = []
        for line in text.splitlines(keepends=True):
            if block and not line[:1].isspace():
                write("config_parse", b"".join(block))
                n += 1
                block = []
            block.append(line)
        if block:
            write("config_parse", b"".join(block))
            n += 1
    return n


def ipv4(src, dst, proto, payload, df=False):
    total = 20 + len(payload)
    h = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 0,
                              0x4000 if df else 0, 64, proto, 0,
                              bytes(src), bytes(dst)))
    c = sum(struct.unpack(">10H", h))
    c = (c & 0xFFFF) + (c >> 16)
    c = (c & 0xFFFF) + (c >> 16)
    h[10:12] = struct.pack(">H", ~c & 0xFFFF)
    return bytes(h) + payload


def esp_null_plaintext(seq, inner, next_header=4, spi=0xC0FFEE01):
    """SPI, sequence number and an ESP-NULL payload with RFC 4303 padding
    to 4 bytes; the fuzz target appends the HMAC-SHA1-96 ICV."""
    pad_len = (-(len(inner) + 2)) % 4
    pad = bytes(range(1, pad_len + 1))
    return struct.pack(">II", spi, seq) + inner + pad + bytes([pad_len, next_header])


def esp_seeds():
    n = 0
    # Mode 0: real frames (IKE and ESP-in-UDP) for each fixed SA.
    for path in sorted(glob.glob(os.path.join(PCAPS, "*.pcap"))):
        for linktype, frame in frames(path):
            if linktype == 113:
                frame = frame[16:]  # Linux cooked capture: the IP packet
            for sa in range(6):
                write("esp_decap", bytes([0, sa]) + frame)
                n += 1
    # Mode 1: ESP-NULL packets as the unit tests build them.
    src, dst = [198, 51, 100, 10], [203, 0, 113, 20]
    udp = struct.pack(">HHHH", 1234, 53, 8 + 12, 0) + b"fuzz-payload"
    for seq, inner, nh in [
        (1, ipv4(src, dst, 17, udp), 4),
        (7, ipv4(src, dst, 6, bytes(20), df=True), 4),
        (2, ipv4([192, 0, 2, 9], dst, 17, udp), 4),  # outside the selectors
        (3, b"\0" * 8, 59),  # dummy packet
        (0xFFFFFFFF, ipv4(src, dst, 1, bytes(8)), 4),
    ]:
        write("esp_decap", bytes([1]) + esp_null_plaintext(seq, inner, nh))
        n += 1
    # Mode 2: each fixed SA, a few inner sizes, untouched and one flip.
    for sa in range(6):
        for seq, length, flags, muts in [
            (1, 64, 0, b""),
            (1000, 1400, 4, b""),
            (5, 0, 1, b""),
            (9, 100, 0, b"\x00\x30\x01"),
        ]:
            write("esp_decap", bytes([2, sa]) + struct.pack(">IHBB", seq, length, 17, flags) + muts)
            n += 1
    # Mode 3: replay windows: in order, reordered, duplicates, far jump.
    for esn in (0, 1):
        steps = [(0, 1)] * 40 + [(0, -3), (0, 2), (0, 0), (0xF0, 100), (0, -2000), (1, 5)]
        write("esp_decap", bytes([3, esn]) + b"".join(bytes([a]) + struct.pack(">h", d) for a, d in steps))
        n += 1
    return n


def punt_seeds():
    n = 0
    for sel, src, dst, sport, dport, proto, flags in [
        (1, [198, 51, 100, 10], [203, 0, 113, 10], 1234, 53, 17, 0),
        (7, [198, 51, 100, 11], [203, 0, 113, 12], 0, 0, 1, 1),
    ]:
        ev = struct.pack("=I4s4sHHBBHIQ", sel, bytes(src), bytes(dst), sport, dport,
                         proto, flags, 0, 3, 123456789)
        assert len(ev) == 32
        write("punt_event", ev)
        n += 1
    for kind, fib_rc, flags in [(1, 0, 2), (1, 4, 0), (2, 0, 0), (3, 0, 1)]:
        meta = struct.pack("=IBBBBII6s6s", 0x1B5EC0DE, kind, fib_rc, 14, flags, 42, 3,
                           bytes([2, 0, 0, 0, 0, 1]), bytes([2, 0, 0, 0, 0, 2]))
        assert len(meta) == 28
        write("punt_event", meta)
        write("punt_event", b"\xaa" * 4 + meta)
        n += 2
    return n


def control_seeds():
    lines = [
        '{"version":1,"command":{"cmd":"show-isakmp-sa"}}',
        '{"version":1,"command":{"cmd":"show-ipsec-sa","peer":"192.0.2.2"}}',
        '{"version":1,"command":{"cmd":"show-ipsec-sa","peer":null}}',
        '{"version":1,"command":{"cmd":"show-running-config"}}',
        '{"version":1,"command":{"cmd":"clear-isakmp-sa","peer":"203.0.113.1"}}',
        '{"version":1,"command":{"cmd":"clear-ipsec-sa","peer":null}}',
        '{"version":1,"command":{"cmd":"debug","facility":"isakmp","level":127}}',
        '{"version":1,"command":{"cmd":"show-dataplane"}}',
        '{"version":2,"command":{"cmd":"show-dataplane"}}',
    ]
    for line in lines:
        write("control_request", line.encode())
    return len(lines)


def ikev2_messages():
    """The IKEv2 messages of the captures (non-ESP marker stripped)."""
    for path in sorted(glob.glob(os.path.join(PCAPS, "*.pcap"))):
        for sport, dport, payload in udp_payloads(path):
            if 4500 in (sport, dport):
                if payload[:4] != b"\0\0\0\0":
                    continue
                payload = payload[4:]
            elif 500 not in (sport, dport):
                continue
            if len(payload) >= 28 and payload[17] >> 4 == 2:
                yield payload


def ikev2_seeds():
    n = 0
    for msg in ikev2_messages():
        write("ikev2_message", msg)
        n += 1
        if msg[16] != 46:
            write("ikev2_message", msg[16:17] + msg[28:])
            n += 1
    return n


def ikev2_sk_seeds():
    n = 0
    msgs = list(ikev2_messages())
    bodies = [m[16:17] + m[28:] for m in msgs if m[16] != 46]
    for suite in (0, 12, 24, 25, 26):
        for m in msgs:
            if m[16] == 46:
                write("ikev2_sk_open", bytes([0, suite, 28]) + m)
                n += 1
        for body in bodies:
            write("ikev2_sk_open", bytes([1, suite]) + struct.pack(">HBB", 40, 0, 0) + body)
            write("ikev2_sk_open", bytes([1, suite]) + struct.pack(">HBB", 77, 1, 1) + body)
            for size in (100, 300, 1200):
                write("ikev2_sk_open", bytes([2, suite]) + struct.pack(">HBB", size - 64, 7, 1) + body)
                n += 1
            n += 2
        write("ikev2_sk_open", bytes([3, suite]) + b"".join(
            struct.pack(">HB", len(m), 0) + m for m in msgs))
        n += 1
    return n


def main():
    print(f"{ikev2_seeds()} seeds for ikev2_message")
    print(f"{ikev2_sk_seeds()} seeds for ikev2_sk_open")
    print(f"{ike_payload_chain_seeds()} seeds for ike_payload_chain")
    print(f"{config_seeds()} seeds for config_parse")
    print(f"{esp_seeds()} seeds for esp_decap")
    print(f"{punt_seeds()} seeds for punt_event")
    print(f"{control_seeds()} seeds for control_request")
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
