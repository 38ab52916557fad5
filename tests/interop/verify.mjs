// Independent verification of the AML node's outputs (run by tests/interop.rs and CI).
//
//   node tests/interop/verify.mjs <input.json>
//
// input.json:
//   {
//     "issuer":            "did:key:z6Mk...",        // the officer DID expected everywhere
//     "credential":        { Data Integrity AML credential (eddsa-rdfc-2022) },
//     "credentialJose":    "<VC-JOSE compact JWS>",   // optional
//     "certificate":       "<compliance certificate JWT>",
//     "jwks":              { "keys": [...] },
//     "statusList":        { BitstringStatusListCredential },   // optional
//     "revokedCredential": { a DI credential whose status bit is set }  // optional
//     "suspensionList":    { BitstringStatusListCredential, purpose suspension }   // optional
//     "suspendedCredential": { a DI credential whose suspension bit is set }      // optional
//   }
//
// Everything is verified OFFLINE with Digital Bazaar's VC stack and `jose`: the W3C v2 and
// Multikey contexts come from npm packages, did:key is resolved locally, the status list is
// decoded per the Bitstring Status List spec (index 0 = most significant bit of byte 0).
// Self-made tampered copies must FAIL. Prints one line per check; exit 0 iff every check
// gave the expected answer.

import {readFileSync} from 'node:fs';
import {gunzipSync} from 'node:zlib';

import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as DidKey from '@digitalbazaar/did-method-key';
import {contexts as credentialsContexts} from '@digitalbazaar/credentials-context';
import multikeyContext from '@digitalbazaar/multikey-context';
import * as jose from 'jose';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const results = [];
function record(name, ok, detail = '') {
  results.push(ok);
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
}

// ---- offline document loader -------------------------------------------------------------
const didKeyDriver = DidKey.driver();
didKeyDriver.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});
const staticDocs = new Map(credentialsContexts);
staticDocs.set(multikeyContext.CONTEXT_URL, multikeyContext.CONTEXT);
const documentLoader = async url => {
  if(staticDocs.has(url)) {
    return {contextUrl: null, documentUrl: url, document: staticDocs.get(url)};
  }
  if(url.startsWith('did:key:')) {
    const document = await didKeyDriver.get({url});
    return {contextUrl: null, documentUrl: url, document};
  }
  throw new Error(`offline loader: refusing to load ${url}`);
};

const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});

// ---- Bitstring Status List, by the spec ----------------------------------------------------
function decodeEncodedList(encoded) {
  if(!encoded.startsWith('u')) {
    throw new Error('encodedList is not multibase base64url');
  }
  const bytes = gunzipSync(Buffer.from(encoded.slice(1), 'base64url'));
  if(bytes.length * 8 < 131072) {
    throw new Error('status list shorter than 131072 entries');
  }
  return bytes;
}
function bitIsSet(bytes, index) {
  return (bytes[index >> 3] & (0x80 >> (index % 8))) !== 0;
}

async function verifyStatusListCredential(listCredential) {
  const r = await vc.verifyCredential({credential: listCredential, suite, documentLoader});
  if(!r.verified) {
    throw new Error(`status list credential does not verify: ${errorText(r)}`);
  }
  return decodeEncodedList(listCredential.credentialSubject.encodedList);
}

// Each list verified and decoded once.
const decoded = new Map();
async function bitsOf(listCredential) {
  if(!decoded.has(listCredential.id)) {
    decoded.set(listCredential.id, await verifyStatusListCredential(listCredential));
  }
  return decoded.get(listCredential.id);
}

// credentialStatus may be one entry or several (revocation + suspension). Each entry whose
// list we were given is checked: the list must be the one named, for the same purpose, by
// the same issuer, and the bit at the entry's index must be clear.
async function checkStatus({credential}) {
  const entries = [].concat(credential.credentialStatus ?? []);
  const lists = [input.statusList, input.suspensionList].filter(Boolean);
  for(const entry of entries) {
    if(entry.type !== 'BitstringStatusListEntry') {
      return {verified: false, error: new Error(`unknown status entry type ${entry.type}`)};
    }
    const list = lists.find(l => l.id === entry.statusListCredential);
    if(!list) {
      continue;
    }
    if(entry.statusPurpose !== list.credentialSubject.statusPurpose) {
      return {verified: false, error: new Error('status entry purpose differs from its list')};
    }
    if(list.issuer !== (credential.issuer.id ?? credential.issuer)) {
      return {verified: false, error: new Error('status list from another issuer')};
    }
    const bits = await bitsOf(list);
    if(bitIsSet(bits, Number.parseInt(entry.statusListIndex, 10))) {
      return {verified: false, error: new Error(`${entry.statusPurpose} bit set (index ${entry.statusListIndex})`)};
    }
  }
  if(input.statusList && !entries.some(e => e.statusListCredential === input.statusList.id)) {
    return {verified: false, error: new Error('no status entry points at the list')};
  }
  return {verified: true};
}

function errorText(r) {
  const errs = [];
  const walk = e => {
    if(!e) {
      return;
    }
    if(Array.isArray(e)) {
      e.forEach(walk);
      return;
    }
    errs.push(e.message ?? String(e));
    walk(e.errors);
  };
  walk(r.error);
  for(const p of r.results ?? []) {
    walk(p.error);
  }
  if(r.statusResult && !r.statusResult.verified) {
    walk(r.statusResult.error);
  }
  return errs.join('; ') || JSON.stringify(r).slice(0, 300);
}

async function verifyDi(credential) {
  return vc.verifyCredential({credential, suite, documentLoader, checkStatus});
}

// ---- 1. Data Integrity AML credential ------------------------------------------------------
{
  const r = await verifyDi(input.credential);
  record('data-integrity credential verifies (eddsa-rdfc-2022, offline)', r.verified,
    r.verified ? '' : errorText(r));
  const issuerOk = (input.credential.issuer.id ?? input.credential.issuer) === input.issuer;
  record('data-integrity credential issuer is the officer', issuerOk);

  const tampered = structuredClone(input.credential);
  tampered.credentialSubject.result = 'failed';
  const t = await verifyDi(tampered);
  record('tampered data-integrity credential is rejected', !t.verified);

  const tampered2 = structuredClone(input.credential);
  tampered2.validUntil = '2999-01-01T00:00:00Z';
  const t2 = await verifyDi(tampered2);
  record('data-integrity credential with extended validity is rejected', !t2.verified);
}

// ---- 2. Status list --------------------------------------------------------------------------
if(input.statusList) {
  try {
    await verifyStatusListCredential(input.statusList);
    record('status list credential verifies', true);
  } catch(e) {
    record('status list credential verifies', false, e.message);
  }
  const forged = structuredClone(input.statusList);
  const zero = Buffer.alloc(16384);
  const {gzipSync} = await import('node:zlib');
  forged.credentialSubject.encodedList = 'u' + gzipSync(zero).toString('base64url');
  const f = await vc.verifyCredential({credential: forged, suite, documentLoader});
  record('forged status list is rejected', !f.verified);
  if(input.revokedCredential) {
    const r = await verifyDi(input.revokedCredential);
    record('revoked credential is rejected by its status bit', !r.verified,
      r.verified ? 'verified although revoked' : errorText(r));
  }
  if(input.suspendedCredential && input.suspensionList) {
    const r = await verifyDi(input.suspendedCredential);
    record('suspended credential is rejected by its suspension bit', !r.verified,
      r.verified ? 'verified although suspended' : errorText(r));
  }
}

// ---- 3. VC-JOSE credential ------------------------------------------------------------------
const JWKS = jose.createLocalJWKSet(input.jwks);
if(input.credentialJose) {
  try {
    const {payload, protectedHeader} = await jose.compactVerify(input.credentialJose, JWKS,
      {algorithms: ['EdDSA']});
    const cred = JSON.parse(new TextDecoder().decode(payload));
    const now = Date.now();
    const ok = protectedHeader.typ === 'vc+jwt' &&
      cred.issuer === input.issuer &&
      protectedHeader.kid.startsWith(`${input.issuer}#`) &&
      Date.parse(cred.validFrom) <= now && now < Date.parse(cred.validUntil);
    record('VC-JOSE credential verifies with the JWKS (typ vc+jwt, issuer, dates)', ok,
      ok ? '' : JSON.stringify(protectedHeader));
  } catch(e) {
    record('VC-JOSE credential verifies with the JWKS', false, e.message);
  }
  const [h, p, s] = input.credentialJose.split('.');
  const cred = JSON.parse(Buffer.from(p, 'base64url'));
  cred.credentialSubject.result = 'failed';
  const forged = `${h}.${Buffer.from(JSON.stringify(cred)).toString('base64url')}.${s}`;
  try {
    await jose.compactVerify(forged, JWKS, {algorithms: ['EdDSA']});
    record('tampered VC-JOSE credential is rejected', false);
  } catch {
    record('tampered VC-JOSE credential is rejected', true);
  }
}

// ---- 4. Compliance certificate (JWT) ---------------------------------------------------------
{
  try {
    const {payload, protectedHeader} = await jose.jwtVerify(input.certificate, JWKS, {
      algorithms: ['EdDSA'], issuer: input.issuer, typ: 'JWT',
      requiredClaims: ['exp', 'iat', 'nbf', 'sub', 'jti']
    });
    const ok = payload.result === 'passed' && typeof payload.credentialId === 'string' &&
      protectedHeader.kid.startsWith(`${input.issuer}#`);
    record('certificate verifies with jose + JWKS (issuer, EdDSA)', ok);
  } catch(e) {
    record('certificate verifies with jose + JWKS (issuer, EdDSA)', false, e.message);
  }
  const parts = input.certificate.split('.');
  const payload = JSON.parse(Buffer.from(parts[1], 'base64url'));
  payload.exp += 3600 * 24 * 365;
  const forged = `${parts[0]}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${parts[2]}`;
  try {
    await jose.jwtVerify(forged, JWKS, {algorithms: ['EdDSA'], issuer: input.issuer});
    record('tampered certificate is rejected', false);
  } catch(e) {
    record('tampered certificate is rejected', e.code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED', e.code);
  }
  try {
    await jose.jwtVerify(input.certificate, JWKS, {algorithms: ['EdDSA'], issuer: 'did:key:z6MkOther'});
    record('certificate with the wrong expected issuer is rejected', false);
  } catch {
    record('certificate with the wrong expected issuer is rejected', true);
  }
}

const failed = results.filter(ok => !ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
