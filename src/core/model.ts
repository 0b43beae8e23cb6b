/**
 * Plain data shared by the pure core and the edges. Sources produce snapshots;
 * the core turns them into a desired state and then into HAProxy files.
 */
import type { ErrorCode } from '../errors.ts';
import type { CertificateFacts, ParsedCertificate } from './certificate.ts';

/** A reason something was left out, with where it came from, so an operator can fix it. */
export interface Problem {
  readonly code: ErrorCode;
  /** Where the bad input lives: "etcd key /haproxy-sync/vhosts/x/spec", "static file /etc/…". */
  readonly source: string;
  readonly message: string;
  /** The vhost the problem disables or degrades, if any. */
  readonly host?: string;
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** One Service's ready endpoints, keyed by the Service port's name and by its number (as a string). */
export interface ServiceEndpoints {
  readonly ports: Readonly<Record<string, readonly Endpoint[]>>;
}

/** What an endpoint source (Kubernetes, static file) knows, keyed by "namespace/name". */
export interface ServicesSnapshot {
  readonly services: Readonly<Record<string, ServiceEndpoints>>;
  readonly problems: readonly Problem[];
}

export interface EtcdEntry {
  readonly value: string;
  readonly modRevision: number;
}

/** The etcd keys under `<prefix>vhosts/`, keyed relative to the prefix ("vhosts/<host>/spec"). */
export interface EtcdSnapshot {
  readonly prefix: string;
  readonly revision: number;
  readonly entries: Readonly<Record<string, EtcdEntry>>;
}

/** Template files by name relative to the template directory ("haproxy.cfg.eta"). */
export interface TemplatesSnapshot {
  readonly dir: string;
  readonly files: Readonly<Record<string, string>>;
}

export interface Snapshot {
  readonly etcd: EtcdSnapshot;
  readonly services: readonly ServicesSnapshot[];
  readonly templates: TemplatesSnapshot;
}

export type Balance = 'roundrobin' | 'static-rr' | 'leastconn' | 'first' | 'source' | 'random';

/** Where a vhost's certificate comes from. */
export type CertificateRef =
  | { readonly kind: 'secret'; readonly namespace: string; readonly name: string }
  | { readonly kind: 'file'; readonly name: string };

export interface VHostSpec {
  readonly backends: Readonly<Record<string, { readonly service: string; readonly port: string }>>;
  readonly default: string;
  readonly health: { readonly path: string | null; readonly minReady: number };
  readonly balance: Balance;
  /** Absent: the vhost is not served over HTTPS. */
  readonly tls?: CertificateRef;
  /** Plain-HTTP requests get a redirect to HTTPS. */
  readonly redirect?: boolean;
  /** Strict-Transport-Security max-age sent over HTTPS. */
  readonly hsts?: number;
}

/** One certificate as a source last read it: parsed, or the reason it could not be. */
export interface CertificateEntry {
  /** Where it lives, for messages: "Secret shop/shop-tls", "certificate file /etc/haproxy-sync/certs/shop.pem". */
  readonly source: string;
  readonly parsed: ParsedCertificate | null;
  readonly problem: string | null;
}

/** What the certificate sources know, by certificateKey(). */
export interface CertificatesSnapshot {
  readonly certificates: Readonly<Record<string, CertificateEntry>>;
  /** Secret namespaces watched; a spec naming a Secret elsewhere is told why it is not found. */
  readonly secretNamespaces: readonly string[] | null;
  /** Whether a certificates directory is configured. */
  readonly fileDir: string | null;
}

export function certificateKey(ref: CertificateRef): string {
  return ref.kind === 'secret' ? `secret:${ref.namespace}/${ref.name}` : `file:${ref.name}`;
}

/** A vhost's certificate as it is served. */
export interface VHostTls {
  readonly source: string;
  readonly pem: string;
  readonly leaf: CertificateFacts;
  readonly chain: readonly string[];
  /** Plain-HTTP requests are redirected to HTTPS. */
  readonly redirect: boolean;
  readonly hsts: number | null;
  /** True when the current certificate was refused and the last good one still serves. */
  readonly kept: boolean;
}

export interface Backend {
  /** HAProxy backend name: be_<host>_<colour>, "*" of a wildcard host written as "_". */
  readonly name: string;
  readonly host: string;
  readonly colour: string;
  readonly service: string;
  readonly port: string;
  readonly balance: Balance;
  readonly healthPath: string | null;
  readonly minReady: number;
  /** Ready endpoints, deduplicated and sorted, so equal input renders byte-identical output. */
  readonly servers: readonly Endpoint[];
}

export interface VHost {
  readonly host: string;
  readonly active: string;
  readonly backends: readonly Backend[];
  /** etcd revision of the newest key this vhost was built from. */
  readonly revision: number;
  /** Set when the current etcd values are invalid and this is the last good version, still serving. */
  readonly lastGood?: LastGoodMark;
  /** The certificate HTTPS serves for this host; null: not served over HTTPS. */
  readonly tls?: VHostTls | null;
}

export interface DesiredState {
  readonly revision: number;
  readonly vhosts: readonly VHost[];
  readonly problems: readonly Problem[];
  /** The last good etcd values per vhost, to remember once this state is applied. */
  readonly lastGood?: LastGoodRecords;
}

/** The etcd values a vhost was last served from. */
export interface LastGoodInputs {
  readonly spec: string;
  /** The active key's value; null when the key was absent (the spec's default). */
  readonly active: string | null;
  /** The newest modRevision of those keys. */
  readonly revision: number;
}

export interface LastGoodEntry extends LastGoodInputs {
  /** When this version began to serve in place of bad current values (ms since the epoch); null while the current values are good. */
  readonly since: number | null;
}

/** By host. */
export type LastGoodRecords = Readonly<Record<string, LastGoodEntry>>;

/** Why and since when a vhost serves its last good version. */
export interface LastGoodMark {
  readonly since: number;
  readonly problem: Problem;
}

/** A backend's server line: a slot holding an endpoint, or a free slot kept disabled for runtime updates. */
export interface Slot {
  readonly name: string;
  readonly endpoint: Endpoint | null;
}

/** Settings from the daemon config that shape the rendered files. */
export interface RenderSettings {
  readonly node: string;
  readonly adminSocket: string;
  readonly mapsDir: string;
  readonly bind: readonly (readonly string[])[];
  readonly spareSlots: number;
  /** HAProxy's server-state file, written before each reload; absent: none. */
  readonly serverStateFile?: string;
  /** The HTTPS frontend, or null when haproxy.bindTls is empty. */
  readonly tls?: TlsSettings | null;
  /** How HAProxy's processes run; absent: as the user that started HAProxy, no chroot, no logging, HAProxy's own error pages. */
  readonly process?: ProcessSettings;
}

export interface TlsSettings {
  readonly bind: readonly (readonly string[])[];
  readonly certsDir: string;
}

/** Each part as Debian's packaged HAProxy has it, or '' for off. */
export interface ProcessSettings {
  /** Workers drop to this user and group after binding. */
  readonly user: string;
  readonly group: string;
  /** Workers chroot here after loading the config, maps and errorfiles. */
  readonly chroot: string;
  /** Syslog target for HAProxy's own and traffic logs (facility local0). */
  readonly log: string;
  /** Directory of <status>.http error pages. */
  readonly errorfiles: string;
}

export const PLAIN_PROCESS: ProcessSettings = { user: '', group: '', chroot: '', log: '', errorfiles: '' };

/** The files HAProxy reads: the config text and the map files by base name. */
export interface Rendered {
  readonly config: string;
  /** A digest of `config`, made by parts as it was rendered; configs of the same digest are the same text. */
  readonly configDigest?: string;
  readonly maps: Readonly<Record<string, string>>;
  /** Files of the certificates directory: the crt-list and each vhost's PEM under hosts/, by path relative to it. */
  readonly certificates?: Readonly<Record<string, string>>;
}
