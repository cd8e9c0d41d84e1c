// Verifies tongbao's signed objects with @auth0/cose, a COSE implementation
// tongbao did not write.
//
// stdin:  a JSON list of {"cose_b64", "public_key_b64"}: a tagged COSE_Sign1
//         and the raw 32-byte Ed25519 public key that should have signed it.
// stdout: a JSON list, one result each, in order:
//         {"verified", "error", "alg", "content_type", "kid_b64", "claims"},
//         claims being the payload's CBOR map with its integer keys as
//         strings, byte strings in base64 and integers as JSON numbers.
//
// A signature that does not verify is a result (verified false), not a
// failure of the script; the exit status is non-zero only when the input
// itself cannot be read.
import { createPublicKey } from 'node:crypto';
import { Sign1, Algorithms, Headers } from '@auth0/cose';
import { Decoder } from 'cbor-x';

const claimsDecoder = new Decoder({ mapsAsObjects: false, useRecords: false });

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function ed25519Public(raw) {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

// plain turns decoded CBOR into JSON: JSON has no byte strings and no
// integer keys.
function plain(v) {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Map) {
    const o = {};
    for (const [k, x] of v) o[String(k)] = plain(x);
    return o;
  }
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

async function verifyOne({ cose_b64, public_key_b64 }) {
  const out = { verified: false, error: '', alg: null, content_type: null, kid_b64: null, claims: null };
  let msg;
  try {
    msg = Sign1.decode(Buffer.from(cose_b64, 'base64'));
    out.alg = msg.alg ?? null;
    out.content_type = msg.protectedHeaders.get(Headers.ContentType) ?? null;
    const kid = msg.kid;
    out.kid_b64 = kid ? Buffer.from(kid).toString('base64') : null;
    out.claims = plain(claimsDecoder.decode(msg.payload));
  } catch (err) {
    out.error = `decode: ${err.message}`;
    return out;
  }
  try {
    await msg.verify(ed25519Public(Buffer.from(public_key_b64, 'base64')), { algorithms: [Algorithms.EdDSA] });
    out.verified = true;
  } catch (err) {
    out.error = `${err.code ?? err.name}: ${err.message}`;
  }
  return out;
}

const requests = JSON.parse(await readStdin());
const results = [];
for (const r of requests) results.push(await verifyOne(r));
process.stdout.write(JSON.stringify(results) + '\n');
