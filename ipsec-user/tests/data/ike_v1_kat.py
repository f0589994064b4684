#!/usr/bin/env python3
"""Independent known answers for ipsec-user/tests/ike_v1_crypto.rs.

Computes, with nothing but Python's hashlib/hmac/pow, the RFC 2409 key
schedule for fixed inputs. Run once; its output was pasted into the test
(`python3 ike_v1_kat.py`). Kept so anyone can re-derive the vectors.
"""
import hashlib, hmac

# RFC 2409 group 2 prime (also in groups.rs); g = 2
P2 = int("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
         "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
         "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
         "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF", 16)
P24 = int("87A8E61DB4B6663CFFBBD19C651959998CEEF608660DD0F25D2CEED4435E3B00E00DF8F1D61957D4FAF7DF4561B2AA3016C3D91134096FAA3BF4296D830E9A7C209E0C6497517ABD5A8A9D306BCF67ED91F9E6725B4758C022E0B1EF4275BF7B6C5BFC11D45F9088B941F54EB1E59BB8BC39A0BF12307F5C4FDB70C581B23F76B63ACAE1CAA6B7902D52526735488A0EF13C6D9A51BFA4AB3AD8347796524D8EF6A167B5A41825D967E144E5140564251CCACB83E6B486F6B3CA3F7971506026C0B857F689962856DED4010ABD0BE621C3A3960A54E710C375F26375D7014103A4B54330C198AF126116D2276E11715F693877FAD7EF09CADB094AE91E1A1597", 16)
G24 = int("3FB32C9B73134D0B2E77506660EDBD484CA7B18F21EF205407F4793A1A0BA12510DBC15077BE463FFF4FED4AAC0BB555BE3A6C1B0C6B47B1BC3773BF7E8C6F62901228F8C28CBB18A55AE31341000A650196F931C77A57F2DDF463E5E9EC144B777DE62AAAB8A8628AC376D282D6ED3864E67982428EBC831D14348F6F2F9193B5045AF2767164E1DFC967C1FB3F2E55A4BD1BFFE83B9C80D052B985D182EA0ADB2A3B7313D3FE14C8484B1E052588B9B7D2BBD2DF016199ECD06E1557CD0915B3353BBB64E0EC377FD028370DF92B52C7891428CDC67EB6184B523D1DB246C32F63078490F00EF8D647D148D47954515E2327CFEF98C582664B4C0F6CC41659", 16)

def b(n, ln): return n.to_bytes(ln, 'big')
def prf(h, k, *parts): return hmac.new(k, b''.join(parts), h).digest()
def H(h, *parts): return hashlib.new(h, b''.join(parts)).digest()

XI = bytes(range(1, 33))            # initiator exponent
XR = bytes(range(0x40, 0x60))       # responder exponent
def dh(p, g, ln):
    gxi = pow(g, int.from_bytes(XI, 'big'), p); gxr = pow(g, int.from_bytes(XR, 'big'), p)
    gxy = pow(gxr, int.from_bytes(XI, 'big'), p)
    return b(gxi, ln), b(gxr, ln), b(gxy, ln)

out = []
def emit(name, v): out.append(f'const {name}: &str = "{v.hex()}";')

for tag, (p, g, ln) in {"G2": (P2, 2, 128), "G24": (P24, G24, 256)}.items():
    gxi, gxr, gxy = dh(p, g, ln)
    emit(f"{tag}_GXI", gxi); emit(f"{tag}_GXR", gxr); emit(f"{tag}_GXY", gxy)

gxi, gxr, gxy = dh(P2, 2, 128)
PSK = b"interop-test-psk-123"
NI = bytes.fromhex("0102030405060708090a0b0c0d0e0f101112131415161718")
NR = bytes.fromhex("a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0")
CKYI = bytes.fromhex("1122334455667788"); CKYR = bytes.fromhex("99aabbccddeeff00")
SAI_B = bytes.fromhex("00000001000000010000002c01010001")   # arbitrary body bytes
IDII_B = bytes.fromhex("01000000c0000201"); IDIR_B = bytes.fromhex("01000000c0000202")
MID = 0x12345678

for tag, h, keylen in [("SHA1_3DES", "sha1", 24), ("SHA256_AES256", "sha256", 32), ("MD5_AES256", "md5", 32)]:
    skeyid = prf(h, PSK, NI, NR)
    d = prf(h, skeyid, gxy, CKYI, CKYR, b"\x00")
    a = prf(h, skeyid, d, gxy, CKYI, CKYR, b"\x01")
    e = prf(h, skeyid, a, gxy, CKYI, CKYR, b"\x02")
    if len(e) >= keylen: ka = e[:keylen]
    else:
        ks = [prf(h, e, b"\x00")]
        while sum(map(len, ks)) < keylen: ks.append(prf(h, e, ks[-1]))
        ka = b''.join(ks)[:keylen]
    emit(f"{tag}_SKEYID", skeyid); emit(f"{tag}_D", d); emit(f"{tag}_A", a); emit(f"{tag}_E", e); emit(f"{tag}_KA", ka)
    emit(f"{tag}_HASH_I", prf(h, skeyid, gxi, gxr, CKYI, CKYR, SAI_B, IDII_B))
    emit(f"{tag}_HASH_R", prf(h, skeyid, gxr, gxi, CKYR, CKYI, SAI_B, IDIR_B))
    rest = b"qm-payloads-after-hash"
    emit(f"{tag}_HASH1", prf(h, a, MID.to_bytes(4, 'big'), rest))
    emit(f"{tag}_HASH2", prf(h, a, MID.to_bytes(4, 'big'), NI, rest))
    emit(f"{tag}_HASH3", prf(h, a, b"\x00", MID.to_bytes(4, 'big'), NI, NR))
    # KEYMAT for ESP (3), SPI 0xc0ffee01, 44 bytes (3DES+SHA1), without and with PFS g^xy
    for pfs_tag, pfs in [("", b""), ("_PFS", gxy)]:
        seed = pfs + b"\x03" + (0xc0ffee01).to_bytes(4, 'big') + NI + NR
        ks = [prf(h, d, seed)]
        while sum(map(len, ks)) < 44: ks.append(prf(h, d, ks[-1] + seed))
        emit(f"{tag}_KEYMAT{pfs_tag}", b''.join(ks)[:44])
    bs = 8 if keylen == 24 else 16
    iv = H(h, gxi, gxr)[:bs]
    emit(f"{tag}_IV1", iv)
    emit(f"{tag}_QM_IV", H(h, iv, MID.to_bytes(4, 'big'))[:bs])

print("\n".join(out))
