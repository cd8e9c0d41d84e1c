// Signs payloads as tagged COSE_Sign1 with @auth0/cose, a COSE
// implementation tongbao did not write, the way tongbao signs its objects:
// EdDSA (Ed25519), a protected header of alg, content type and kid, and no
// unprotected header.
//
// stdin:  a JSON list of {"payload_b64", "seed_b64", "public_key_b64",
//         "content_type", "kid_b64"}: the payload's bytes, signed as given,
//         and the Ed25519 key as its 32-byte seed and public key.
// stdout: a JSON list of {"cose_b64"}, in order.
import { createPrivateKey } from 'node:crypto';
import { Sign1, Algorithms, Headers } from '@auth0/cose';

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function ed25519Private(seed, pub) {
  return createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', d: seed.toString('base64url'), x: pub.toString('base64url') },
    format: 'jwk',
  });
}

async function signOne({ payload_b64, seed_b64, public_key_b64, content_type, kid_b64 }) {
  const key = ed25519Private(Buffer.from(seed_b64, 'base64'), Buffer.from(public_key_b64, 'base64'));
  // Map keeps insertion order: 1, 3, 4 is the deterministic order too.
  const protectedHeaders = new Map([
    [Headers.Algorithm, Algorithms.EdDSA],
    [Headers.ContentType, content_type],
    [Headers.KeyID, new Uint8Array(Buffer.from(kid_b64, 'base64'))],
  ]);
  const payload = new Uint8Array(Buffer.from(payload_b64, 'base64'));
  const msg = await Sign1.sign(protectedHeaders, new Map(), payload, key);
  return { cose_b64: Buffer.from(msg.encode()).toString('base64') };
}

const requests = JSON.parse(await readStdin());
const results = [];
for (const r of requests) results.push(await signOne(r));
process.stdout.write(JSON.stringify(results) + '\n');
