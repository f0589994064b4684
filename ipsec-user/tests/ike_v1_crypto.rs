//! Known-answer tests of the IKEv1 crypto: DH (group 2 and 24 against
//! python3 pow), the SKEYID chain, Ka expansion, HASH_I/R, quick-mode
//! hashes, KEYMAT and IVs, all against `tests/data/ike_v1_kat.py`.

use ipsecgw::algo::{DhGroup, IkeEncryption, IkeHash};
use ipsecgw::ike::crypto::keys::{Phase1Inputs, exchange_iv, phase1_iv};
use ipsecgw::ike::crypto::{DhPrivate, Phase1Keys};

// ---- output of `python3 tests/data/ike_v1_kat.py` ----
const G2_GXI: &str = "457120764f3a1e6fd58103e41a4093a6c8bc1d97cb8759de41c21afdd2d3048a5ef3d88ce24aa6ba4fe30bcfb0b0f75abf1a8aeaff3723f1bf53740c902005e1199fabad7c538e94a7034fd585339a02f3634893f748929d2a7257643e398130541ae64124c17d4507a97f1cbebeb7b933642b8df479eb59e36cfeffbf1671dd";
const G2_GXR: &str = "a5a28c20c27ed26c4b0244f4f8fcd2a1ce89bfec768fcdb4e404cc7040f1d86644af268e691ad7d583cecddf2f860e190ef201f960532e0b50607e8bb98499af0077d7232178519aba72053921c51b7f69e25f81231c1e73e9622343d3c7b67baeeb7365c26bc24bf3a27532420280549774581cace753d89c4ad597fa8445ed";
const G2_GXY: &str = "1a5825e8861fc383cd0aac32a435ab070d0c031836d7ac801c495958d0dd88da294ca9a34d2aa22e1bb89eaf4832a6ceec18e918fa2f58cd9237d91a0e5871cee2bb1cc88e9e43cdc5a3428750301fefa9dc57f34d57f155062a2efe5fbeab77008c023592faa988e52b1a1e2919821bc07ab071f64a40a9edaab24b2a2e6d30";
const G24_GXI: &str = "4abc152b0a0fc094fa149e8d33a6afb899402f9ab1274f1879e27c02fd6c9e9d2fa37a3d180fe910902fe259707138a6a98801c37e09ce62256b92087ec2496d5df730c84fcfd20dfbf3df07713d3324a8d148c4ad72af35802a3a064b01a9cf7c10f15e04f89aca9287d4fb6b1f130d9b96862d6c81bd580e70dc1b1c6e9aebea8a2a1b5dad930b98e31ba8e9259e8a6a2569e437a86eab085b0d8704ef89acf977a83ad33269b6866ecc70f5cdb0d4caca9764995039d95507fea3a1cc22d73ee0a05ec1f3a7248627bea2a1fef7144bea50b2ee5380a43a5fcbd26782ef20cfeab1b8b3917e3e7421e3ad386ef3c8a9f50cbcb854c2b8a87d9bb7879f748c";
const G24_GXR: &str = "58a7996ea65f873fa53e098cd811eefaf06d6ff4ab737f6d307f89820413b23913da17400332689ab819a610c1253b3b9b9f3915781cb1919d06f36d225e0a9059629ce73744a502b467e098ac8ce585718b7ef22ef6e26858d271e4b3f4b943377479322e665c693eb7ed72b0a9984dd9998c1cb072aac4bf6eb5da49dad4c32920b15c911bd2e5ad5e5a558014f5f27ae31222169126de023491616778f79f6a3546579581c7f5d7f4cb6fe62d137fa8b049250d3a8279b234a1faacd0584db6c2c22c23052cf0ed06f824b2838ee6caf8a3fe75b25c565928c3c2ff2da129626bdabecf08c14a7383f13e6052891abd5180807d53fb1167c1519c0b816356";
const G24_GXY: &str = "321226699bb99dc7844c3a742c5a49f4380d7a2cfa2544ddca206cbeaa8de94ef962c42e611751197c94634a96a5b3711dfb2577bea9acf8f388844bb978c6a1e526ec614166a381b4c2e1785f3f1a6eda3981452c45ef8b17615f3a1195e3e5bb6fe9772aa841e28a808ee84543514aa3b89e80d549fb4f9a5c3d7ccffc10abc228fd86933e4cdb44f7fa69a66c2b7fee746ff517175a0de4dcd536f3e9467a72fb4e9039082d939bf4401a197a92b5858248c3b6b824ea5a6f4a0a1f40eb5839cdb779622f03a9058263a913e86a8994d234cb94635e0380194c49efee0ab1a68e5b954ecbe0f581807fdd2971ea0d1c0d004c78ffd85f12a2bb4daf4dd5c7";
const SHA1_3DES_SKEYID: &str = "e252a0815c133e95abf810b031c0283c2de3842b";
const SHA1_3DES_D: &str = "c5b1a8efd161e13afec8ed874749bac854a680a6";
const SHA1_3DES_A: &str = "658ea348d49ab7a1e1b79075146f8012a784dab6";
const SHA1_3DES_E: &str = "e8362530034e03c5ef13c82d5afc69715f7bd264";
const SHA1_3DES_KA: &str = "434fb82d6752fbf1ceef878f238e2e4e1a4c6c72b2a931e3";
const SHA1_3DES_HASH_I: &str = "a84f8062386f5bf021c3d97fdb260a6ef55cdf4a";
const SHA1_3DES_HASH_R: &str = "469aefddd3c17b2bf2ead1fa9f526b1c6e22ad70";
const SHA1_3DES_HASH1: &str = "aab5f1e083ee4a4ec94b7442e3fee0c5b0d0781e";
const SHA1_3DES_HASH2: &str = "cf7d909abccfc110ee460ca9896cfaf5e04c4139";
const SHA1_3DES_HASH3: &str = "87fc5b4195dd1410bd405e009b2f13e10a70490d";
const SHA1_3DES_KEYMAT: &str =
    "6e9e1adec7800d99cf40490b8d54cf407d7ca372e69264eed2082246ce9b93f3ca163c49f2d33fd7fd3b6e55";
const SHA1_3DES_KEYMAT_PFS: &str =
    "ef07250d6e9a9fa1dc8e119915f3c87fc142b6d6c70bb1a97835b45ac247b875e2be89ad4166cd330dbdfbd1";
const SHA1_3DES_IV1: &str = "dd23a07fd000b260";
const SHA1_3DES_QM_IV: &str = "d650fdb0d849f401";
const SHA256_AES256_SKEYID: &str =
    "82639a53c0f2d83ea273a1c57e5e9f86b8082da638dea4c1e81c9bc6cd0bfb1e";
const SHA256_AES256_D: &str = "71df172bb9d2defc86881562f5aad1fb0504a0d22a1cc66239cccd08ffbc3ddd";
const SHA256_AES256_A: &str = "a2ff7adcf661212c1fbce1beb1586ed381ea26f99109d7ff47b423a831fdb283";
const SHA256_AES256_E: &str = "327c30757318c37a7e86c4722b9c84d43a73b6cdddae2c88ab8ec14c1e984112";
const SHA256_AES256_KA: &str = "327c30757318c37a7e86c4722b9c84d43a73b6cdddae2c88ab8ec14c1e984112";
const SHA256_AES256_HASH_I: &str =
    "1be324ebe990e0b79b7ad75b5e870de73034d1214527b5d01f1c14072722d7e2";
const SHA256_AES256_HASH_R: &str =
    "ca157835d60d050af3b7bfc062a1c7f3d48135ba0e57960d67d9c806a40387bf";
const SHA256_AES256_HASH1: &str =
    "c4cb2c3f73c41aa8e764d49cdc026ebdfae9541bc694fcea49f3e49e4535d5a6";
const SHA256_AES256_HASH2: &str =
    "290af7df7f1e06b1d3c9359fa7918e8dfa9535166f747c7657eec75801fd512b";
const SHA256_AES256_HASH3: &str =
    "b5022ff1543ee593f4726fb74d2073f288425f45a0e410df423c677110266b83";
const SHA256_AES256_KEYMAT: &str =
    "27a0b43ec9200cd58f9b46b5122a1b8c5dd2c6973b7d0bf95a1a2c6e4568531019620e107967a8a6decbe0e6";
const SHA256_AES256_KEYMAT_PFS: &str =
    "63612374849052fcc4c128d0b00022aec73dd4cf0ba99de8ae38f99d33083676fdffe7b36059fbf6b5ed644f";
const SHA256_AES256_IV1: &str = "a58f7e63ea3acc70e5cde029e364d9bd";
const SHA256_AES256_QM_IV: &str = "8349cdfc37955cd8b207c02e2045fcb0";
const MD5_AES256_SKEYID: &str = "2f38a85e9e66462722fb6a21e62d7d5c";
const MD5_AES256_D: &str = "256968c346f79cac34e6e91c597eeccf";
const MD5_AES256_A: &str = "e851bd2b825767f94f1934071dd96981";
const MD5_AES256_E: &str = "52458f2219d178dbb1d6f19278e04541";
const MD5_AES256_KA: &str = "d174a21a476ba7e5d4abdd1f82a2050b714870cc25c94e257a8fc8be24661259";
const MD5_AES256_HASH_I: &str = "8d5f67ce509bce3def74a108476548d5";
const MD5_AES256_HASH_R: &str = "691657091734f0db39d7ecd532cc9cf4";
const MD5_AES256_HASH1: &str = "63a6e13ff2ececf9cb937abc80a0c09a";
const MD5_AES256_HASH2: &str = "64f15abb6cc70fec5bb6d17201c9a74e";
const MD5_AES256_HASH3: &str = "90bd504420b65a46bcbb6f65ba53d9c1";
const MD5_AES256_KEYMAT: &str =
    "7f9667c520151fd806d97e82919f889f4f9a18feca4c27ea14a5c3363d66101724ce0dfb643f72ff7859f9a4";
const MD5_AES256_KEYMAT_PFS: &str =
    "627ff20f2eddd8e26720d13af95066818f51c7eac6311a7d58f06f2675a87dc9f8b88addb26e2435e5f55550";
const MD5_AES256_IV1: &str = "3cf04dc14a2e8fbe369859f27e81178b";
const MD5_AES256_QM_IV: &str = "edf2b175c7b6f3d53d1b775dda5f88a7";
// ---- end of generated vectors ----

const PSK: &[u8] = b"interop-test-psk-123";
const NI: &str = "0102030405060708090a0b0c0d0e0f101112131415161718";
const NR: &str = "a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0";
const CKY_I: [u8; 8] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
const CKY_R: [u8; 8] = [0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00];
const SAI_B: &str = "00000001000000010000002c01010001";
const IDII_B: &str = "01000000c0000201";
const IDIR_B: &str = "01000000c0000202";
const MID: u32 = 0x1234_5678;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn xi() -> Vec<u8> {
    (1u8..=32).collect()
}
fn xr() -> Vec<u8> {
    (0x40u8..0x60).collect()
}

#[test]
fn modp_group2_and_24_known_answers() {
    for (group, gxi, gxr, gxy) in [
        (DhGroup::Modp1024, G2_GXI, G2_GXR, G2_GXY),
        (DhGroup::Modp2048s256, G24_GXI, G24_GXR, G24_GXY),
    ] {
        let a = DhPrivate::modp_with_exponent(group, &xi()).unwrap();
        let b = DhPrivate::modp_with_exponent(group, &xr()).unwrap();
        assert_eq!(hex::encode(a.public_value()), gxi, "{group:?}");
        assert_eq!(hex::encode(b.public_value()), gxr, "{group:?}");
        assert_eq!(hex::encode(a.agree(&h(gxr)).unwrap().as_bytes()), gxy);
        assert_eq!(hex::encode(b.agree(&h(gxi)).unwrap().as_bytes()), gxy);
    }
}

struct Vectors {
    hash: IkeHash,
    enc: IkeEncryption,
    skeyid: &'static str,
    d: &'static str,
    a: &'static str,
    e: &'static str,
    ka: &'static str,
    hash_i: &'static str,
    hash_r: &'static str,
    hash1: &'static str,
    hash2: &'static str,
    hash3: &'static str,
    keymat: &'static str,
    keymat_pfs: &'static str,
    iv1: &'static str,
    qm_iv: &'static str,
}

fn check(v: Vectors) {
    let (ni, nr) = (h(NI), h(NR));
    let gxy = h(G2_GXY);
    let inputs = Phase1Inputs {
        ni_b: &ni,
        nr_b: &nr,
        gxy: &gxy,
        cky_i: &CKY_I,
        cky_r: &CKY_R,
    };
    let k = Phase1Keys::derive_psk(v.hash, v.enc, PSK, &inputs);
    let name = format!("{:?}/{:?}", v.hash, v.enc);
    assert_eq!(hex::encode(&*k.skeyid), v.skeyid, "{name}");
    assert_eq!(hex::encode(&*k.skeyid_d), v.d, "{name}");
    assert_eq!(hex::encode(&*k.skeyid_a), v.a, "{name}");
    assert_eq!(hex::encode(&*k.skeyid_e), v.e, "{name}");
    assert_eq!(hex::encode(&*k.enc_key), v.ka, "{name}");
    let (gxi, gxr) = (h(G2_GXI), h(G2_GXR));
    let hi = k.hash_i(&gxi, &gxr, &CKY_I, &CKY_R, &h(SAI_B), &h(IDII_B));
    assert_eq!(hex::encode(&*hi), v.hash_i, "{name}");
    let hr = k.hash_r(&gxi, &gxr, &CKY_I, &CKY_R, &h(SAI_B), &h(IDIR_B));
    assert_eq!(hex::encode(&*hr), v.hash_r, "{name}");
    let rest = b"qm-payloads-after-hash";
    assert_eq!(hex::encode(&*k.hash1(MID, rest)), v.hash1, "{name}");
    assert_eq!(hex::encode(&*k.hash2(MID, &ni, rest)), v.hash2, "{name}");
    assert_eq!(hex::encode(&*k.hash3(MID, &ni, &nr)), v.hash3, "{name}");
    assert_eq!(
        hex::encode(&*k.keymat(None, 3, 0xc0ff_ee01, &ni, &nr, 44)),
        v.keymat,
        "{name}"
    );
    assert_eq!(
        hex::encode(&*k.keymat(Some(&gxy), 3, 0xc0ff_ee01, &ni, &nr, 44)),
        v.keymat_pfs,
        "{name}"
    );
    let bs = ipsecgw::ike::crypto::cipher::block_size(v.enc);
    let iv = phase1_iv(v.hash, &gxi, &gxr, bs);
    assert_eq!(hex::encode(&iv), v.iv1, "{name}");
    assert_eq!(
        hex::encode(exchange_iv(v.hash, &iv, MID, bs)),
        v.qm_iv,
        "{name}"
    );
}

#[test]
fn skeyid_chain_sha1_3des() {
    check(Vectors {
        hash: IkeHash::Sha1,
        enc: IkeEncryption::TripleDes,
        skeyid: SHA1_3DES_SKEYID,
        d: SHA1_3DES_D,
        a: SHA1_3DES_A,
        e: SHA1_3DES_E,
        ka: SHA1_3DES_KA,
        hash_i: SHA1_3DES_HASH_I,
        hash_r: SHA1_3DES_HASH_R,
        hash1: SHA1_3DES_HASH1,
        hash2: SHA1_3DES_HASH2,
        hash3: SHA1_3DES_HASH3,
        keymat: SHA1_3DES_KEYMAT,
        keymat_pfs: SHA1_3DES_KEYMAT_PFS,
        iv1: SHA1_3DES_IV1,
        qm_iv: SHA1_3DES_QM_IV,
    });
}

#[test]
fn skeyid_chain_sha256_aes256() {
    check(Vectors {
        hash: IkeHash::Sha256,
        enc: IkeEncryption::Aes256,
        skeyid: SHA256_AES256_SKEYID,
        d: SHA256_AES256_D,
        a: SHA256_AES256_A,
        e: SHA256_AES256_E,
        ka: SHA256_AES256_KA,
        hash_i: SHA256_AES256_HASH_I,
        hash_r: SHA256_AES256_HASH_R,
        hash1: SHA256_AES256_HASH1,
        hash2: SHA256_AES256_HASH2,
        hash3: SHA256_AES256_HASH3,
        keymat: SHA256_AES256_KEYMAT,
        keymat_pfs: SHA256_AES256_KEYMAT_PFS,
        iv1: SHA256_AES256_IV1,
        qm_iv: SHA256_AES256_QM_IV,
    });
}

#[test]
fn skeyid_chain_md5_aes256() {
    check(Vectors {
        hash: IkeHash::Md5,
        enc: IkeEncryption::Aes256,
        skeyid: MD5_AES256_SKEYID,
        d: MD5_AES256_D,
        a: MD5_AES256_A,
        e: MD5_AES256_E,
        ka: MD5_AES256_KA,
        hash_i: MD5_AES256_HASH_I,
        hash_r: MD5_AES256_HASH_R,
        hash1: MD5_AES256_HASH1,
        hash2: MD5_AES256_HASH2,
        hash3: MD5_AES256_HASH3,
        keymat: MD5_AES256_KEYMAT,
        keymat_pfs: MD5_AES256_KEYMAT_PFS,
        iv1: MD5_AES256_IV1,
        qm_iv: MD5_AES256_QM_IV,
    });
}
