// The explorer's verifier, run in the page: the checks of the Python SDK's `sdk/verify.py`
// redone over the node's own JSON (the records the workbench server passes through), so
// that what the explorer shows as "verified in browser" was checked here, not only by the
// server. app.js (plain script) calls it through the `QiProofs` global this bundle defines.
//
// Canonical encoding: the node hashes and signs MessagePack (msgspec, structs as arrays in
// field order, minimal integers); the records are re-encoded here from explicit schemas, so
// the JSON's key order never decides the meaning of a field. Every check throws a
// ProofFailure naming what failed; a value the encoder cannot represent exactly (a JSON
// number past 2^53) fails too.
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { sha3_256 } from "@noble/hashes/sha3.js";
import { ed25519 } from "@noble/curves/ed25519.js";
import { bls12_381 } from "@noble/curves/bls12-381.js";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { sm2, sm3 } from "sm-crypto";

export class ProofFailure extends Error {}

function fail(message) { throw new ProofFailure(message); }

// --- bytes -------------------------------------------------------------------------------
export function fromHex(text, what = "value") {
  if (typeof text !== "string" || !/^0x([0-9a-f]{2})*$/i.test(text)) fail(`${what} is not 0x-prefixed hex`);
  const out = new Uint8Array((text.length - 2) / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 + 2 * i, 2), 16);
  return out;
}
export function toHex(bytes) { return "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""); }
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
function same(a, b) { return a.length === b.length && a.every((x, i) => x === b[i]); }
const ascii = (text) => new TextEncoder().encode(text);

// --- canonical MessagePack (the subset the records use) -------------------------------------
function encodeInt(v) {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) fail(`${v} is not an exact integer`);
    v = BigInt(v);
  }
  if (v >= 0n) {
    if (v < 128n) return Uint8Array.of(Number(v));
    for (const [tag, size] of [[0xcc, 1], [0xcd, 2], [0xce, 4], [0xcf, 8]]) {
      if (v < 1n << BigInt(8 * size)) return concat(Uint8Array.of(tag), bigEndian(v, size));
    }
  } else {
    if (v >= -32n) return Uint8Array.of(Number(v + 256n));
    for (const [tag, size] of [[0xd0, 1], [0xd1, 2], [0xd2, 4], [0xd3, 8]]) {
      const half = 1n << BigInt(8 * size - 1);
      if (v >= -half) return concat(Uint8Array.of(tag), bigEndian(v + 2n * half, size));
    }
  }
  fail(`${v} does not fit 64 bits`);
}
function bigEndian(v, size) {
  const out = new Uint8Array(size);
  for (let i = size - 1; i >= 0; i--) { out[i] = Number(v & 0xffn); v >>= 8n; }
  return out;
}
function lengthHeader(n, fix, fixMax, tags) {
  if (fix !== null && n <= fixMax) return Uint8Array.of(fix | n);
  for (const [tag, size] of tags) if (n < 2 ** (8 * size)) return concat(Uint8Array.of(tag), bigEndian(BigInt(n), size));
  fail("too long");
}
const encodeBin = (b) => concat(lengthHeader(b.length, null, 0, [[0xc4, 1], [0xc5, 2], [0xc6, 4]]), b);
const encodeStr = (s) => { const b = ascii(s); return concat(lengthHeader(b.length, 0xa0, 31, [[0xd9, 1], [0xda, 2], [0xdb, 4]]), b); };
const arrayHeader = (n) => lengthHeader(n, 0x90, 15, [[0xdc, 2], [0xdd, 4]]);

// A schema: "int", "str", "bin", "bool", ["list", item], ["opt", schema], or a struct: a list
// of [field, schema] pairs, encoded as an array of its fields' values in that order.
export function encode(value, schema, where = "value") {
  if (schema === "int") { if (typeof value !== "number" && typeof value !== "bigint") fail(`${where} is not an integer`); return encodeInt(value); }
  if (schema === "str") { if (typeof value !== "string") fail(`${where} is not a string`); return encodeStr(value); }
  if (schema === "bin") return encodeBin(fromHex(value, where));
  if (schema === "bool") { if (typeof value !== "boolean") fail(`${where} is not a boolean`); return Uint8Array.of(value ? 0xc3 : 0xc2); }
  if (schema[0] === "opt") return value === null ? Uint8Array.of(0xc0) : encode(value, schema[1], where);
  if (schema[0] === "list") {
    if (!Array.isArray(value)) fail(`${where} is not a list`);
    return concat(arrayHeader(value.length), ...value.map((v, i) => encode(v, schema[1], `${where}[${i}]`)));
  }
  if (value === null || typeof value !== "object") fail(`${where} is not a record`);
  return concat(arrayHeader(schema.length), ...schema.map(([f, s]) => {
    if (!(f in value)) fail(`${where} has no field ${f}`);
    return encode(value[f], s, `${where}.${f}`);
  }));
}

// Decode canonical MessagePack into plain values (integers as BigInt, bytes as Uint8Array);
// the input must be the one encoding of what it decodes to (as codec.decode requires).
export function decode(bytes, what = "value") {
  let at = 0;
  const take = (n) => { if (at + n > bytes.length) fail(`${what} is truncated`); const out = bytes.subarray(at, at + n); at += n; return out; };
  const uint = (n) => take(n).reduce((v, b) => (v << 8n) | BigInt(b), 0n);
  const item = (depth) => {
    if (depth > 32) fail(`${what} nests too deep`);
    const t = take(1)[0];
    if (t < 0x80) return BigInt(t);
    if (t >= 0xe0) return BigInt(t - 256);
    if ((t & 0xf0) === 0x90) return list(t & 0x0f, depth);
    if ((t & 0xe0) === 0xa0) return new TextDecoder("utf-8", { fatal: true }).decode(take(t & 0x1f));
    const sizes = { 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8 }, signed = { 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8 };
    if (t in sizes) return uint(sizes[t]);
    if (t in signed) { const n = signed[t], v = uint(n), half = 1n << BigInt(8 * n - 1); return v >= half ? v - 2n * half : v; }
    if (t === 0xc0) return null;
    if (t === 0xc2 || t === 0xc3) return t === 0xc3;
    if (t >= 0xc4 && t <= 0xc6) return take(Number(uint(1 << (t - 0xc4)))).slice();
    if (t >= 0xd9 && t <= 0xdb) return new TextDecoder("utf-8", { fatal: true }).decode(take(Number(uint(1 << (t - 0xd9)))));
    if (t === 0xdc || t === 0xdd) return list(Number(uint(t === 0xdc ? 2 : 4)), depth);
    fail(`${what} holds an unexpected MessagePack type 0x${t.toString(16)}`);
  };
  const list = (n, depth) => { const out = []; for (let i = 0; i < n; i++) out.push(item(depth + 1)); return out; };
  let value;
  try { value = item(0); } catch (err) { if (err instanceof ProofFailure) throw err; fail(`${what} does not decode: ${err.message}`); }
  if (at !== bytes.length) fail(`${what} has trailing bytes`);
  if (!same(reencode(value), bytes)) fail(`${what} is not canonically encoded`);
  return value;
}
function reencode(v) {
  if (v === null) return Uint8Array.of(0xc0);
  if (typeof v === "boolean") return Uint8Array.of(v ? 0xc3 : 0xc2);
  if (typeof v === "bigint") return encodeInt(v);
  if (typeof v === "string") return encodeStr(v);
  if (v instanceof Uint8Array) return encodeBin(v);
  return concat(arrayHeader(v.length), ...v.map(reencode));
}

// --- the records (ledger/block.py, ledger/transaction.py, ledger/merkle.py, ...) ------------
export const KEY = [["alg", "int"], ["data", "bin"]];  // PublicKey and Signature
export const HEADER = [["chain_id", "str"], ["height", "int"], ["parent_hash", "bin"], ["timestamp_ms", "int"],
  ["tx_count", "int"], ["tx_root", "bin"], ["state_root", "bin"], ["receipts_root", "bin"], ["proposer", KEY]];
const EVENT = [["source", "str"], ["name", "str"], ["data", "bin"]];
export const RECEIPT = [["tx_hash", "bin"], ["status", "int"], ["error", "str"], ["events", ["list", EVENT]],
  ["resources_used", "int"], ["fee_paid", "int"], ["output", "bin"], ["message", "str"], ["trace", ["list", "str"]],
  ["fuel_used", "int"], ["memory_used", "int"]];
const TX_BODY = [["chain_id", "str"], ["sender", KEY], ["nonce", "int"], ["kind", "int"], ["payload", "bin"],
  ["fee_limit", "int"], ["expiry", "int"]];
const HEADER_DOMAIN = ascii("xinlian/header/v1\0");
const TX_DOMAIN = ascii("xinlian/tx/v1\0");
const ADDRESS_SIZE = 20;

// The suites' hashes (crypto/suites.py) and the signature schemes checked here.
const smHash = (b) => fromHex("0x" + sm3(b));
const HASHES = { intl: sha256, "hybrid-intl": sha256, pq: sha3_256, sm: smHash, "hybrid-sm": smHash };
export const SM2 = 1, ED25519 = 2, ML_DSA_65 = 3, SM2_ML_DSA_65 = 5, ED25519_ML_DSA_65 = 6;
const MLDSA65_KEY = 1952, MLDSA65_SIG = 3309;

// ML-DSA-65 (FIPS 204, pure, with a context string), as fast_mldsa signs; a signature that
// does not decode verifies false.
function mldsaValid(key, msg, sig, context = new Uint8Array(0)) {
  if (key.length !== MLDSA65_KEY || sig.length !== MLDSA65_SIG) return false;
  try { return ml_dsa65.verify(sig, msg, key, { context }); } catch { return false; }
}

// A composite (crypto/composite.py, the IETF LAMPS composite ML-DSA draft): both halves sign
// M' = Prefix || Label || len(ctx) || ctx || PH(M) (ctx empty), ML-DSA-65 with Label as its
// context; keys and signatures are the ML-DSA part || the classical part. Valid only if both
// halves are.
const COMPOSITE_PREFIX = ascii("CompositeAlgorithmSignatures2025");
function composite(classical, label, prehash, classicalKey, classicalSig) {
  const tag = ascii(label);
  return (key, msg, sig) => {
    if (key.length !== MLDSA65_KEY + classicalKey || sig.length !== MLDSA65_SIG + classicalSig) return false;
    const m = concat(COMPOSITE_PREFIX, tag, Uint8Array.of(0), prehash(msg));
    return mldsaValid(key.subarray(0, MLDSA65_KEY), m, sig.subarray(0, MLDSA65_SIG), tag)
      && SCHEMES[classical](key.subarray(MLDSA65_KEY), m, sig.subarray(MLDSA65_SIG));
  };
}
const SCHEMES = {
  [ED25519]: (key, msg, sig) => key.length === 32 && sig.length === 64 && ed25519.verify(sig, msg, key, { zip215: false }),
  [SM2]: (key, msg, sig) => key.length === 65 && sig.length === 64
    && sm2.doVerifySignature(msg, toHex(sig).slice(2), toHex(key).slice(2), { hash: true, der: false }),
  [ML_DSA_65]: (key, msg, sig) => mldsaValid(key, msg, sig),
  [SM2_ML_DSA_65]: composite(SM2, "COMPSIG-MLDSA65-SM2-SM3", smHash, 65, 64),
  [ED25519_ML_DSA_65]: composite(ED25519, "COMPSIG-MLDSA65-Ed25519-SHA512", sha512, 32, 64),
};
export const SCHEME_NAMES = { [SM2]: "SM2", [ED25519]: "Ed25519", [ML_DSA_65]: "ML-DSA-65",
  [SM2_ML_DSA_65]: "SM2+ML-DSA-65", [ED25519_ML_DSA_65]: "Ed25519+ML-DSA-65" };
// Each suite's signature algorithm: its node, transaction and (but for intl's BLS) vote keys.
const SUITE_SIGNATURE = { sm: SM2, intl: ED25519, pq: ML_DSA_65, "hybrid-sm": SM2_ML_DSA_65, "hybrid-intl": ED25519_ML_DSA_65 };
const KEY_SIZES = { [SM2]: 65, [ED25519]: 32, [ML_DSA_65]: MLDSA65_KEY, [SM2_ML_DSA_65]: MLDSA65_KEY + 65,
  [ED25519_ML_DSA_65]: MLDSA65_KEY + 32 };

export function hasher(suite) {
  const h = HASHES[suite];
  if (!h) fail(`suite ${suite}: its hash is not implemented in the browser`);
  return h;
}

function suiteSignature(suite) {
  const alg = SUITE_SIGNATURE[suite];
  if (!alg) fail(`suite ${suite}: its signatures are not checked in the browser`);
  return alg;
}

// True or false for a scheme checked here; a ProofFailure for an unknown algorithm.
export function verifySignature(key, message, signature) {
  if (key.alg !== signature.alg) fail(`a signature of algorithm ${signature.alg} under a key of ${key.alg}`);
  const scheme = SCHEMES[key.alg];
  if (!scheme) fail(`signature algorithm ${key.alg} is not checked in the browser`);
  return scheme(fromHex(key.data, "key"), message, fromHex(signature.data, "signature"));
}

// Raise unless `key` is a public key of `alg` (signing.check_public_key): its size, and an SM2
// key (or the SM2 half of a composite) a point of the curve.
function checkPublicKey(alg, key) {
  const bytes = fromHex(key, "key");
  if (bytes.length !== KEY_SIZES[alg]) fail(`a ${SCHEME_NAMES[alg]} public key is ${KEY_SIZES[alg]} bytes`);
  if ((alg === SM2 || alg === SM2_ML_DSA_65) && !sm2.verifyPublicKey(toHex(bytes.subarray(bytes.length - 65)).slice(2))) {
    fail(`not an ${SCHEME_NAMES[alg]} public key: the SM2 part is not a point of the curve`);
  }
}

export function merkleVerifyPath(root, leaf, path, h) {
  if (!(path.index >= 0 && path.index < path.size)) return false;
  let node = h(concat(Uint8Array.of(0), leaf)), i = path.index, width = path.size, k = 0;
  while (width > 1) {
    if ((i ^ 1) < width) {
      if (k >= path.siblings.length) return false;
      const sib = fromHex(path.siblings[k++], "sibling");
      node = i & 1 ? h(concat(Uint8Array.of(1), sib, node)) : h(concat(Uint8Array.of(1), node, sib));
    }
    i = Math.floor(i / 2);
    width = Math.floor((width + 1) / 2);
  }
  return k === path.siblings.length && same(node, root);
}

export function merkleRoot(leaves, h) {
  if (!leaves.length) return h(new Uint8Array(0));
  let level = leaves.map((l) => h(concat(Uint8Array.of(0), l)));
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(h(concat(Uint8Array.of(1), level[i], level[i + 1])));
    if (level.length % 2) next.push(level[level.length - 1]);
    level = next;
  }
  return level[0];
}

// The state tree's proofs (storage/proof.py).
const EMPTY = new Uint8Array(32);
const bit = (path, i) => (path[i >> 3] >> (7 - (i & 7))) & 1;
function sharesPrefix(a, b, bits) {
  for (let i = 0; i < bits; i++) if (bit(a, i) !== bit(b, i)) return false;
  return true;
}
export function stateVerify(root, key, value, proof, h) {
  const siblings = proof.siblings.map((s) => fromHex(s, "sibling"));
  if (siblings.length % 4 || siblings.length > 256) return false;
  if (siblings.some((s) => (s.length !== 0 && s.length !== 32) || same(s, EMPTY))) return false;
  const path = h(key), leaf = proof.leaf;
  const leafPath = leaf && fromHex(leaf.path, "leaf path"), leafValue = leaf && fromHex(leaf.value_hash, "leaf value hash");
  let current;
  if (value !== null) {
    if (!leaf || !same(leafPath, path) || !same(leafValue, h(value))) return false;
    current = h(concat(Uint8Array.of(0), leafPath, leafValue));
  } else if (!leaf) {
    current = EMPTY;
  } else {
    if (same(leafPath, path) || !sharesPrefix(leafPath, path, siblings.length)) return false;
    current = h(concat(Uint8Array.of(0), leafPath, leafValue));
  }
  const node = (l, r) => (same(l, EMPTY) && same(r, EMPTY) ? EMPTY : h(concat(Uint8Array.of(1), l, r)));
  for (let i = siblings.length - 1; i >= 0; i--) {
    const sib = siblings[i].length ? siblings[i] : EMPTY;
    current = bit(path, i) ? node(sib, current) : node(current, sib);
  }
  return same(current, root);
}

// --- a BFT chain's certified headers (node/certify.py, consensus/certificates.py) -------------
// The committee of the header's epoch signed `[CERT_DOMAIN, chain_id, epoch, height, hash]`:
// on `intl` one BLS12-381 aggregate (min-pk: 48-byte G1 keys, 96-byte G2 signatures, the
// IETF proof-of-possession ciphersuite, as crypto/primitives/bls.py with blst), on the other
// suites one signature of the suite's algorithm per signer in bitmap order (SM2, ML-DSA-65 or
// a composite). Signers must hold more than 2/3 of the power.
const CERT_DOMAIN = "xinlian/ledger/header-cert/v1";
export const BLS_DST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
const POP_DST = "BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
const MEMBER = [["node", "bin"], ["power", "int"], ["key", "bin"], ["pop", "bin"]];
export const COMMITTEE = [["epoch", "int"], ["suite", "str"], ["aggregate", "bool"], ["members", ["list", MEMBER]]];

export function sealMessage(chainId, epoch, height, digest) {
  return concat(arrayHeader(5), encodeStr(CERT_DOMAIN), encodeStr(chainId), encodeInt(epoch), encodeInt(height), encodeBin(digest));
}

export function signersOf(bits, n) {
  if (bits.length !== Math.ceil(n / 8)) fail(`signer bitmap is ${bits.length} bytes for ${n} members`);
  const out = [];
  for (let i = 0; i < n; i++) if (bits[i >> 3] & (0x80 >> (i & 7))) out.push(i);
  if (n % 8 && bits[bits.length - 1] & (0xff >> (n % 8))) fail("signer bitmap has bits past the last member");
  return out;
}

// The committee's BLS keys, decoded (in G1, not the identity) and each with its proof of
// possession checked (the defence against rogue keys in the aggregate): once per committee.
const blsKeys = new Map();
function committeeKeys(committee) {
  const id = toHex(encode(committee, COMMITTEE, "committee"));
  if (!blsKeys.has(id)) {
    const sigs = bls12_381.longSignatures;
    blsKeys.set(id, committee.members.map((m, i) => {
      const key = fromHex(m.key, "member key");
      let point = null;
      try {
        point = bls12_381.G1.Point.fromBytes(key);
        if (point.is0() || !sigs.verify(sigs.Signature.fromBytes(fromHex(m.pop, "pop")), sigs.hash(key, POP_DST), point)) point = null;
      } catch { point = null; }
      if (point === null) fail(`committee member ${i}: not a BLS12-381 key with a valid proof of possession`);
      return point;
    }));
  }
  return blsKeys.get(id);
}

function aggregateValid(committee, who, message, signatures) {
  if (signatures.length !== 1) return false;
  const sigs = bls12_381.longSignatures, keys = committeeKeys(committee);
  try {
    const signature = sigs.Signature.fromBytes(fromHex(signatures[0], "signature"));
    return sigs.verify(signature, sigs.hash(message, BLS_DST), sigs.aggregatePublicKeys(who.map((i) => keys[i])));
  } catch { return false; }  // not a G2 point of the subgroup, or the identity
}

function listValid(committee, who, message, signatures) {
  if (signatures.length !== who.length) return false;
  const scheme = SCHEMES[suiteSignature(committee.suite)];
  return who.every((i, k) => scheme(fromHex(committee.members[i].key, "member key"), message, fromHex(signatures[k], "signature")));
}

// The signer indices of a certificate over `message` by `committee`, or a ProofFailure.
export function verifyCertificate(committee, cert, message) {
  const scheme = committee.aggregate ? "BLS12-381" : SCHEME_NAMES[suiteSignature(committee.suite)];
  const who = signersOf(fromHex(cert.signers, "signers"), committee.members.length);
  const power = (ids) => ids.reduce((n, i) => n + committee.members[i].power, 0);
  const all = committee.members.map((_, i) => i), quorum = Math.floor(power(all) * 2 / 3) + 1;
  if (power(who) < quorum) fail(`signers hold ${power(who)} power, need ${quorum}`);
  const valid = committee.aggregate ? aggregateValid : listValid;
  if (!valid(committee, who, message, cert.signatures)) fail("certificate signature does not verify");
  return { who, scheme };
}

// Raise unless `committee` can certify (Committee.validate): 1..1024 members with distinct
// addresses, powers in 1..2^32-1, and valid keys (BLS ones with their proofs of possession).
function validateCommittee(committee) {
  const n = committee.members.length;
  if (n < 1 || n > 1024) fail(`a committee has 1..1024 members, not ${n}`);
  if (new Set(committee.members.map((m) => m.node)).size !== n) fail("duplicate committee member");
  if (committee.members.some((m) => !(m.power >= 1 && m.power < 2 ** 32))) fail("voting power must be in 1..2^32-1");
  if (committee.aggregate) committeeKeys(committee);
  else {
    const alg = suiteSignature(committee.suite);
    for (const m of committee.members) checkPublicKey(alg, m.key);
  }
}

// --- epoch changes (node/statesync.py `next_root`) ---------------------------------------------
// How an epoch ended: the committee's QC over blocks[0], whose parents lead down to the
// committed block carrying the next committee (2-chain rule). Each proof is the node's
// `xl_getEpochProofs` record, hex of its canonical MessagePack: [qc, blocks], qc = [epoch,
// round, height, block_id, cert], block = [epoch, round, height, parent, author, justify,
// tc, payload, reconfig]; a block's id is the suite hash of its encoding.
const MAX_PROOF_BLOCKS = 16;
const isInt = (v) => typeof v === "bigint";

export function voteMessage(epoch, round, height, blockId) {
  return concat(arrayHeader(5), encodeStr("xinlian/consensus/vote"), encodeInt(epoch), encodeInt(round), encodeInt(height), encodeBin(blockId));
}

function committeeOf(v) {
  const member = (m) => Array.isArray(m) && m.length === 4 && m[0] instanceof Uint8Array && isInt(m[1]) && m[2] instanceof Uint8Array && m[3] instanceof Uint8Array;
  if (!Array.isArray(v) || v.length !== 4 || !isInt(v[0]) || typeof v[1] !== "string" || typeof v[2] !== "boolean"
      || !Array.isArray(v[3]) || !v[3].every(member) || v[3].some((m) => m[1] >= 2n ** 53n)) fail("the next committee is not a committee");
  return { epoch: Number(v[0]), suite: v[1], aggregate: v[2],
           members: v[3].map((m) => ({ node: toHex(m[0]), power: Number(m[1]), key: toHex(m[2]), pop: toHex(m[3]) })) };
}

// The committee and starting height of the epoch after `root`'s, if `proofHex` shows how
// `root`'s epoch ended.
export function nextRoot(root, proofHex) {
  const { committee, height } = root, epoch = BigInt(committee.epoch);
  const bad = (why) => fail(`epoch ${epoch} change: ${why}`);
  const proof = decode(fromHex(proofHex, "epoch proof"), "epoch proof");
  if (!Array.isArray(proof) || proof.length !== 2 || !Array.isArray(proof[0]) || !Array.isArray(proof[1])) bad("not an epoch proof");
  const [qc, blocks] = proof;
  const cert = qc[4];
  if (qc.length !== 5 || !qc.slice(0, 3).every(isInt) || !(qc[3] instanceof Uint8Array) || !Array.isArray(cert) || cert.length !== 2
      || !(cert[0] instanceof Uint8Array) || !Array.isArray(cert[1]) || !cert[1].every((x) => x instanceof Uint8Array)) bad("the certificate is not a QC");
  if (!blocks.every((b) => Array.isArray(b) && b.length === 9 && b.slice(0, 3).every(isInt) && b[3] instanceof Uint8Array)) bad("a block is not a consensus block");
  if (qc[0] !== epoch || qc[1] < 1n || blocks.length < 2 || blocks.length > MAX_PROOF_BLOCKS) bad("the proof is not for this epoch, or has too few or many blocks");
  const h = hasher(committee.suite), ids = blocks.map((b) => h(reencode(b)));
  const top = blocks[0], ending = blocks[blocks.length - 1];
  if (!same(ids[0], qc[3]) || top[1] !== qc[1] || top[2] !== qc[2]) bad("the certificate does not name the first block");
  for (let i = 0; i + 1 < blocks.length; i++) {
    const child = blocks[i], parent = blocks[i + 1];
    if (child[0] !== epoch || parent[0] !== epoch || !same(child[3], ids[i + 1]) || child[2] !== parent[2] + 1n) bad("the blocks are not a chain of this epoch");
  }
  if (blocks[1][1] + 1n !== top[1]) bad("the certificate does not commit the chain (2-chain rule)");
  if (ending[8] === null || blocks.slice(1, -1).some((b) => b[8] !== null)) bad("the last block, and only it, must carry the next committee");
  const next = committeeOf(ending[8]);
  if (ending[2] <= height || BigInt(next.epoch) !== epoch + 1n) bad("the next committee's epoch or height is out of order");
  validateCommittee(next);
  verifyCertificate(committee, { signers: toHex(cert[0]), signatures: cert[1].map(toHex) }, voteMessage(epoch, qc[1], qc[2], qc[3]));
  return { committee: next, height: ending[2] };
}

// The committees from the anchor's genesis committee through its epoch proofs (`epochs`,
// those of every epoch change up to the latest the server followed), each checked here.
const known = new Map();
export function committees(anchor) {
  const id = JSON.stringify([anchor.committee, anchor.epochs || []]);
  if (!known.has(id)) {
    validateCommittee(anchor.committee);
    const roots = [{ committee: anchor.committee, height: 0n }];
    for (const proof of anchor.epochs || []) roots.push(nextRoot(roots[roots.length - 1], proof));
    known.set(id, roots.map((r) => r.committee));
  }
  return known.get(id);
}

// --- the trust anchor ----------------------------------------------------------------------------
// What every check rests on. The workbench serves the chain's genesis (`anchor.genesis`: its
// canonical bytes); its suite hash is the genesis hash (ledger/genesis.py), the chain id and
// suite are the genesis's, and a BFT chain's genesis committee is made here from the genesis
// validators (node/certify.py `committee_of`). A pin obtained out of band (the genesis hash,
// and on a solo chain the node key, which the genesis does not name) must match, or nothing is
// checked; without a pin the checks rest on the genesis the workbench served.
const AGGREGATE_SUITES = new Set(["intl"]);  // BLS12-381 votes; the others list signatures
const GENESIS_FIELDS = 7;  // chain_id, suite, timestamp_ms, params, organisations, accounts, validators

export function parsePin(text) {
  const bad = () => fail("a pin is a genesis hash (0x and 64 hex digits) or the JSON `xinlian web-anchor` prints");
  const raw = String(text).trim();
  let value = null;
  if (/^0x[0-9a-f]{64}$/i.test(raw)) value = { genesis_hash: raw };
  else { try { value = JSON.parse(raw); } catch { bad(); } }
  if (value === null || typeof value !== "object" || typeof value.genesis_hash !== "string"
      || !/^0x[0-9a-f]{64}$/i.test(value.genesis_hash)) bad();
  const nodeKey = value.node_key ?? null;
  if (nodeKey !== null && (typeof nodeKey !== "string" || !/^0x([0-9a-f]{2})+$/i.test(nodeKey))) bad();
  return { genesis_hash: value.genesis_hash.toLowerCase(), node_key: nodeKey && nodeKey.toLowerCase() };
}

function genesisCommittee(suite, validators, h) {
  const validator = (v) => Array.isArray(v) && v.length === 6 && typeof v[0] === "string" && Array.isArray(v[1]) && v[1].length === 2
    && isInt(v[1][0]) && v[1][1] instanceof Uint8Array && v[2] instanceof Uint8Array && v[3] instanceof Uint8Array && isInt(v[4]) && v[4] < 2n ** 53n;
  if (!validators.every(validator)) fail("the genesis validators are not validators");
  const members = validators.map((v) => ({
    node: toHex(h(encode({ alg: Number(v[1][0]), data: toHex(v[1][1]) }, KEY, "node key")).slice(-ADDRESS_SIZE)),
    power: Number(v[4]), key: toHex(v[2]), pop: toHex(v[3]) }));
  return { epoch: 0, suite, aggregate: AGGREGATE_SUITES.has(suite), members };
}

// The genesis hash the anchor rests on, once the anchor is the genesis's and matches `pin`.
const anchorsChecked = new Map();
export function checkAnchor(anchor, pin = null) {
  const id = JSON.stringify([anchor.chain_id, anchor.suite, anchor.basis, anchor.node_key, anchor.committee, anchor.genesis, pin]);
  if (!anchorsChecked.has(id)) {
    const bytes = fromHex(anchor.genesis, "genesis");
    const genesis = decode(bytes, "genesis");
    if (!Array.isArray(genesis) || genesis.length !== GENESIS_FIELDS || typeof genesis[0] !== "string"
        || typeof genesis[1] !== "string" || !Array.isArray(genesis[6])) fail("the genesis is not a genesis");
    const [chainId, suite] = genesis, h = hasher(suite), digest = toHex(h(bytes));
    if (pin && digest !== pin.genesis_hash) {
      fail(`the workbench serves the chain of genesis ${digest}, not the pinned ${pin.genesis_hash}: nothing is verified against it`);
    }
    if (anchor.chain_id !== chainId || anchor.suite !== suite) fail("the anchor's chain id or suite is not its genesis's");
    if (genesis[6].length) {
      if (anchor.basis !== "committee") fail("a chain with genesis validators is checked against its committee");
      if (!same(encode(anchor.committee, COMMITTEE, "committee"), encode(genesisCommittee(suite, genesis[6], h), COMMITTEE))) {
        fail("the anchor's committee is not the genesis committee");
      }
    } else {
      if (anchor.basis !== "node-signature") fail("a solo chain is checked against its node key");
      if (pin && pin.node_key === null) fail("the pin names no node key: a solo chain's headers are signed by a key its genesis does not name");
      if (pin && toHex(encode(anchor.node_key, KEY, "node key")) !== pin.node_key) fail("the node signs with another key than the pinned one");
    }
    anchorsChecked.set(id, { genesis_hash: digest, chain_id: chainId, suite, pinned: pin !== null });
  }
  return anchorsChecked.get(id);
}

// The header's certificate (`certified`, the node's `xl_getCertifiedHeader` record) by the
// committee of its epoch.
function verifyCertified(anchor, header, encoded, digest) {
  const certified = anchor.certified, all = committees(anchor);
  if (!certified) fail(`block ${header.height} has no committee certificate`);
  if (!same(encode(certified.header, HEADER, "certified header"), encoded)) fail(`block ${header.height}'s header is not the one the committee certified`);
  const committee = all[certified.epoch - all[0].epoch];
  if (!Number.isSafeInteger(certified.epoch) || !committee || committee.epoch !== certified.epoch) {
    fail(`block ${header.height} is certified in epoch ${certified.epoch}; the committees known end at epoch ${all[all.length - 1].epoch}`);
  }
  const { who, scheme } = verifyCertificate(committee, certified.cert, sealMessage(header.chain_id, certified.epoch, header.height, digest));
  const changes = committee.epoch - all[0].epoch;
  const epochs = changes ? `, epoch ${committee.epoch}: ${changes} epoch change${changes > 1 ? "s" : ""} checked` : "";
  return `header certified by the committee (${scheme}, ${who.length} of ${committee.members.length}${epochs})`;
}

// --- the checks of sdk/verify.py -------------------------------------------------------------
// `anchor`: {chain_id, suite, basis, node_key, committee} (what the workbench's SDK client
// trusts: the node key on a solo chain, the genesis committee on a BFT chain) and, on a BFT
// chain, `certified`: the node's certificate for the item's header. Each check returns the
// list of what it checked, for the page to show.

export function verifyHeader(anchor, header, signature) {
  const h = hasher(anchor.suite);
  if (header.chain_id !== anchor.chain_id) fail(`header of chain ${header.chain_id}, expected ${anchor.chain_id}`);
  const encoded = encode(header, HEADER, "header"), hash = h(encoded);
  const done = [];
  if (anchor.basis === "node-signature") {
    if (!verifySignature(anchor.node_key, concat(HEADER_DOMAIN, encoded), signature)) {
      fail(`block ${header.height} is not signed by the trusted node key`);
    }
    done.push(`header signature (${SCHEME_NAMES[anchor.node_key.alg]})`);
  } else {
    done.push(verifyCertified(anchor, header, encoded, hash));
  }
  return { hash, done };
}

export function verifyBlock(anchor, view) {
  const h = hasher(anchor.suite);
  const { hash, done } = verifyHeader(anchor, view.header, view.signature);
  if (!same(hash, fromHex(view.hash, "hash"))) fail(`block ${view.header.height}: hash does not match the header`);
  if (view.tx_hashes.length !== view.header.tx_count) fail(`block ${view.header.height}: tx count does not match`);
  const leaves = view.tx_hashes.map((t) => fromHex(t, "tx hash"));
  if (!same(merkleRoot(leaves, h), fromHex(view.header.tx_root, "tx_root"))) fail(`block ${view.header.height}: tx hashes do not give the tx_root`);
  return [...done, "header hash", "tx_root"];
}

function checkedState(anchor, proof) {
  const h = hasher(anchor.suite);
  const signature = decode(fromHex(proof.header_signature, "header signature"), "header signature");
  if (!Array.isArray(signature) || signature.length !== 2 || !(signature[1] instanceof Uint8Array)) fail("the header signature is not a signature");
  const { done } = verifyHeader(anchor, proof.header, { alg: Number(signature[0]), data: toHex(signature[1]) });
  const value = proof.value === null ? null : fromHex(proof.value, "value");
  if (!stateVerify(fromHex(proof.header.state_root, "state_root"), fromHex(proof.key, "key"), value, proof.proof, h)) {
    fail(`state proof for key ${proof.key} does not verify against the state root of block ${proof.header.height}`);
  }
  return { value, done: [...done, `state proof at block ${proof.header.height}`] };
}

// An account: its proof is for `acct/ADDRESS`; the account shown is decoded from the proven
// value, and the node's own copy must be it.
export function verifyAccount(anchor, view) {
  if (view.state.key !== toHex(concat(ascii("acct/"), fromHex(view.address, "address")))) fail("the proof is for another key than the account's");
  const { value, done } = checkedState(anchor, view.state);
  const fields = value === null ? [0n, 0n] : decode(value, "account");
  if (!Array.isArray(fields) || fields.length !== 2 || fields.some((f) => typeof f !== "bigint")) fail("the proven account is not an account");
  const [balance, nonce] = fields;
  if (Number(balance) !== view.account.balance || Number(nonce) !== view.account.nonce) fail("the account differs from the proven state");
  return { done, proven: { balance: balance.toString(), nonce: nonce.toString() } };
}

// A contract's record (`ct/ADDRESS`, execution/contracts/records.py): code hash, admin,
// version, frozen, balance, created height, decoded from the proven value.
export function verifyContractRecord(anchor, address, proof) {
  if (proof.key !== toHex(concat(ascii("ct/"), fromHex(address, "address")))) fail("the proof is for another key than the contract's record");
  const { value, done } = checkedState(anchor, proof);
  if (value === null) fail(`no contract at ${address} (proven absent)`);
  const f = decode(value, "contract record");
  if (!Array.isArray(f) || f.length !== 6) fail("the proven record is not a contract record");
  return { done, proven: { code_hash: toHex(f[0]), admin: toHex(f[1]), version: f[2].toString(), frozen: f[3],
                           balance: f[4].toString(), created_height: f[5].toString() } };
}

export function verifyTransaction(anchor, view) {
  const h = hasher(anchor.suite);
  const { done } = verifyHeader(anchor, view.header, view.header_signature);
  const signed = decode(fromHex(view.raw, "raw transaction"), "raw transaction");
  if (!Array.isArray(signed) || signed.length !== 2 || !(signed[0] instanceof Uint8Array)) fail("the raw transaction is not a signed transaction");
  const body = signed[0];
  const txHash = h(body);
  if (!same(txHash, fromHex(view.hash, "hash")) || !same(txHash, fromHex(view.receipt.tx_hash, "receipt tx_hash"))) {
    fail("the transaction's hash does not match its bytes");
  }
  if (!same(encode(view.body, TX_BODY, "body"), body)) fail("the decoded body does not match the raw transaction");
  const sender = view.body.sender;
  if (!same(h(encode(sender, KEY, "sender")).slice(-ADDRESS_SIZE), fromHex(view.sender, "sender"))) fail("the sender's address does not match its key");
  if (!Array.isArray(signed[1]) || signed[1].length !== 2 || !(signed[1][1] instanceof Uint8Array)) fail("the transaction's signature is not a signature");
  const [alg, sig] = signed[1];
  if (!verifySignature(sender, concat(TX_DOMAIN, body), { alg: Number(alg), data: toHex(sig) })) {
    fail("the sender's signature on the transaction does not verify");
  }
  const path = view.tx_path;
  if (view.height !== view.header.height || path.index !== view.index || path.size !== view.header.tx_count) {
    fail("the transaction's position does not match its header");
  }
  if (!merkleVerifyPath(fromHex(view.header.tx_root, "tx_root"), txHash, path, h)) fail("the audit path does not lead to the header's tx_root");
  const rpath = view.receipt_path;
  if (rpath.index !== view.index || rpath.size < view.header.tx_count) fail("the receipt's position does not match the transaction's");
  if (!merkleVerifyPath(fromHex(view.header.receipts_root, "receipts_root"), encode(view.receipt, RECEIPT, "receipt"), rpath, h)) {
    fail("the receipt's audit path does not lead to the receipts_root");
  }
  return [...done, `sender signature (${SCHEME_NAMES[sender.alg]})`, "tx audit path", "receipt audit path"];
}

// One explorer item by kind ("block", "tx", "account", "contract"), for what was asked (a
// height, a transaction hash, an address), with the node's certificate of its header on a BFT
// chain, once its anchor is the genesis's and matches `pin` (if any): what was checked, for an
// account or a contract the values decoded from the proven state, and what the anchor rests on.
export function verify(kind, chainAnchor, proof, asked, certified = null, pin = null) {
  const rests = checkAnchor(chainAnchor, pin);
  return { ...verifyItem(kind, { ...chainAnchor, certified }, proof, asked), anchor: rests };
}

function verifyItem(kind, anchor, proof, asked) {
  const is = (a, b) => String(a).toLowerCase().replace(/^0x/, "") === String(b).toLowerCase().replace(/^0x/, "");
  if (kind === "block") {
    if (!is(proof.header.height, asked)) fail(`asked for block ${asked}, got block ${proof.header.height}`);
    return { done: verifyBlock(anchor, proof), proven: null };
  }
  if (kind === "tx") {
    if (!is(proof.hash, asked)) fail(`asked for transaction ${asked}, got ${proof.hash}`);
    return { done: verifyTransaction(anchor, proof), proven: null };
  }
  if (kind === "account") {
    if (!is(proof.address, asked)) fail(`asked for account ${asked}, got ${proof.address}`);
    return verifyAccount(anchor, proof);
  }
  if (kind === "contract") return verifyContractRecord(anchor, "0x" + String(asked).replace(/^0x/i, ""), proof);
  fail(`nothing to verify for ${kind}`);
}
