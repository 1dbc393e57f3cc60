import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface TlsMaterial {
  caCertificatePem: string;
  serverCertificatePem: string;
  serverKeyPem: string;
}

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey: forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()),
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
  };
}

function baseCertificate(publicKey: forge.pki.PublicKey, days: number): forge.pki.Certificate {
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = publicKey;
  certificate.serialNumber = `01${randomBytes(8).toString('hex')}`;
  certificate.validity.notBefore = new Date(Date.now() - 60_000);
  certificate.validity.notAfter = new Date(Date.now() + days * 24 * 3600_000);
  return certificate;
}

/**
 * A certificate authority of the emulator's own and a server certificate it signs for localhost and 127.0.0.1,
 * as IoT Edge's security daemon issues for edgeHub. Modules trust the CA through the workload API's trust bundle.
 */
export function createTlsMaterial(hostNames: string[] = ['localhost']): TlsMaterial {
  const ca = keyPair();
  const caCertificate = baseCertificate(ca.publicKey, 30);
  const caName = [{ name: 'commonName', value: 'edgehub-emulator local CA' }];
  caCertificate.setSubject(caName);
  caCertificate.setIssuer(caName);
  caCertificate.setExtensions([{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }]);
  caCertificate.sign(ca.privateKey, forge.md.sha256.create());

  const server = keyPair();
  const serverCertificate = baseCertificate(server.publicKey, 30);
  serverCertificate.setSubject([{ name: 'commonName', value: hostNames[0] ?? 'localhost' }]);
  serverCertificate.setIssuer(caName);
  serverCertificate.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [...hostNames.map((value) => ({ type: 2, value })), { type: 7, ip: '127.0.0.1' }] },
  ]);
  serverCertificate.sign(ca.privateKey, forge.md.sha256.create());
  return {
    caCertificatePem: forge.pki.certificateToPem(caCertificate),
    serverCertificatePem: forge.pki.certificateToPem(serverCertificate),
    serverKeyPem: forge.pki.privateKeyToPem(server.privateKey),
  };
}
