// An independent KYC issuer (Digital Bazaar VC stack + jose) for tests/interop.rs:
// the node's KYC verifier must accept what another implementation signs.
//
//   node tests/interop/issue_kyc.mjs <holder DID> <out.json>
//
// Writes {"issuer": "did:key:...", "dataIntegrity": {...eddsa-rdfc-2022 VC...},
//         "jose": "<VC-JOSE compact JWS>"} for a fresh Ed25519 did:key issuer.

import {generateKeyPairSync} from 'node:crypto';
import {writeFileSync} from 'node:fs';

import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {contexts as credentialsContexts} from '@digitalbazaar/credentials-context';
import * as jose from 'jose';

const [holder, out] = process.argv.slice(2);

const {privateKey} = generateKeyPairSync('ed25519');
const jwk = privateKey.export({format: 'jwk'});
const probe = await Ed25519Multikey.fromJwk({jwk});
const fingerprint = probe.publicKeyMultibase;
const did = `did:key:${fingerprint}`;
const kid = `${did}#${fingerprint}`;
const keyPair = await Ed25519Multikey.fromJwk({jwk, secretKey: true, id: kid, controller: did});

const now = Date.now();
const iso = ms => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const credential = {
  '@context': ['https://www.w3.org/ns/credentials/v2', {'@vocab': 'https://kyc.example/ns#'}],
  id: `urn:uuid:${crypto.randomUUID()}`,
  type: ['VerifiableCredential', 'IdentityCredential'],
  issuer: did,
  validFrom: iso(now - 60_000),
  validUntil: iso(now + 365 * 24 * 3600_000),
  credentialSubject: {
    id: holder,
    givenName: 'Ada',
    familyName: 'Lovelace',
    birthDate: '1815-12-10',
    nationality: 'GB',
    documentNumber: 'P1234567',
    liveness: true
  }
};

const documentLoader = async url => {
  if(credentialsContexts.has(url)) {
    return {contextUrl: null, documentUrl: url, document: credentialsContexts.get(url)};
  }
  throw new Error(`offline loader: refusing to load ${url}`);
};
const suite = new DataIntegrityProof({signer: keyPair.signer(), cryptosuite: eddsaRdfc2022});
const dataIntegrity = await vc.issue({credential: structuredClone(credential), suite, documentLoader});

const joseVc = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(credential)))
  .setProtectedHeader({alg: 'EdDSA', kid, typ: 'vc+jwt', cty: 'vc'})
  .sign(privateKey);

writeFileSync(out, JSON.stringify({issuer: did, dataIntegrity, jose: joseVc}, null, 2));
