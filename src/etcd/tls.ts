// TLS material for the etcd client, read and checked the same way wherever it is needed: when the agent
// builds its etcd client and when `beacon validate` checks a config (which must accept exactly what the
// agent accepts). No etcd3 here, so the CLI can check a config without loading the client.
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { EtcdConfig } from './options.js';
import { MAX_AUX_FILE_BYTES, readBoundedFileSync } from '../util/file.js';
import { ConfigError } from '../errors.js';

/** The PEM material handed to the etcd3 client (its `credentials` option). */
export interface TlsCredentials {
  rootCertificate: Buffer;
  certChain?: Buffer;
  privateKey?: Buffer;
}

// The system's CA bundle (Debian, Fedora CoreOS via p11-kit's compat file), used when only a client certificate is set.
const DEFAULT_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';

/** Whether the client talks TLS (a CA file or a client certificate is configured). */
export function usesTls(cfg: EtcdConfig): boolean {
  return Boolean(cfg.caFile || cfg.certFile);
}

/**
 * Read and check the TLS files up front: gRPC would otherwise throw OpenSSL's error from deep inside the
 * client's constructor. Errors name the field, the path and OpenSSL's reason, never the file's contents.
 */
export function tlsCredentials(cfg: EtcdConfig): TlsCredentials {
  const read = (field: string, path: string): Buffer => {
    // Bounded, regular files only: a FIFO named as caFile would otherwise block the process for good.
    return readBoundedFileSync(path, { field: `etcd.${field}`, shown: path, maxBytes: MAX_AUX_FILE_BYTES });
  };
  const ca = read('caFile', cfg.caFile ?? DEFAULT_CA_FILE);
  const cert = cfg.certFile ? read('certFile', cfg.certFile) : undefined;
  const key = cfg.keyFile ? read('keyFile', cfg.keyFile) : undefined;
  const check = (field: string, path: string | undefined, what: string, material: Parameters<typeof createSecureContext>[0]) => {
    try {
      createSecureContext(material);
    } catch (err) {
      // OpenSSL's reason ("no start line", "key values mismatch") says what is wrong without quoting the file.
      const reason = (err as { reason?: string }).reason ?? (err as NodeJS.ErrnoException).code ?? 'unusable';
      throw new ConfigError(`etcd.${field}`, path, `is not a usable ${what} (${reason})`);
    }
  };
  check('caFile', cfg.caFile, 'PEM CA bundle', { ca });
  // OpenSSL skips what is not a certificate in a CA list without a word (a caFile of /etc/hostname gave a
  // client that trusted nothing): the bundle must hold at least one certificate it can parse.
  try {
    new X509Certificate(ca);
  } catch (err) {
    const reason = (err as { reason?: string }).reason ?? (err as NodeJS.ErrnoException).code ?? 'unusable';
    throw new ConfigError('etcd.caFile', cfg.caFile ?? DEFAULT_CA_FILE, `is not a usable PEM CA bundle (${reason})`);
  }
  if (cert) check('certFile', cfg.certFile, 'PEM certificate', { cert });
  if (key) check('keyFile', cfg.keyFile, 'PEM private key', { key });
  if (cert && key) check('keyFile', cfg.keyFile, 'private key for etcd.certFile', { cert, key });
  return { rootCertificate: ca, ...(cert ? { certChain: cert } : {}), ...(key ? { privateKey: key } : {}) };
}

