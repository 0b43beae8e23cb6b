/**
 * Static services file: endpoints for hosts without Kubernetes, and for the
 * demo. Re-read on every change; a broken file keeps the last good content
 * (and says why, in the log and as a problem) until it is fixed.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import type { Endpoint, Problem, ServiceEndpoints, ServicesSnapshot } from '../core/model.ts';
import { checkPortRef, checkServiceRef, parseHostPort } from '../core/validate.ts';
import { errorMessage } from '../errors.ts';
import { watchAndRead, type FileWatch } from './file-watch.ts';
import { SourceHealth, type Source, type SourceStatus } from './source.ts';

export class StaticFileSource implements Source<ServicesSnapshot> {
  readonly name = 'static';
  private readonly file: string;
  private readonly log: Logger;
  private readonly health: SourceHealth;
  private good: ServicesSnapshot['services'] | null = null;
  private problem: Problem | null = null;
  private watcher: FileWatch | null = null;
  private lastText: string | null = null;

  constructor(file: string, log: Logger) {
    this.health = new SourceHealth('static', log);
    this.file = file;
    this.log = log;
  }

  start(onChange: () => void): void {
    this.watcher = watchAndRead([this.file], () => this.read(), onChange, (err) => this.fail(`watching failed: ${errorMessage(err)}`));
  }

  snapshot(): ServicesSnapshot | null {
    if (!this.good) return null;
    return { services: this.good, problems: this.problem ? [this.problem] : [] };
  }

  status(): SourceStatus {
    return this.health.status();
  }

  async stop(): Promise<void> {
    await this.watcher?.close();
  }

  /** Says whether the snapshot changed. */
  private async read(): Promise<boolean> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      return this.fail(`cannot read it (${errorMessage(err)})`);
    }
    if (text === this.lastText && this.problem === null) return false;
    this.lastText = text;
    const parsed = parseServicesFile(text);
    if (typeof parsed === 'string') return this.fail(parsed);
    this.good = keepUnchangedServices(this.good, parsed);
    this.problem = null;
    this.health.synced = true;
    this.health.event();
    return true;
  }

  private fail(message: string): boolean {
    if (this.problem?.message.startsWith(message)) return false;
    const kept = this.good ? 'keeping the last good content' : 'no good content yet';
    this.problem = { code: 'STATIC_FILE_INVALID', source: `static file ${this.file}`, message: `${message}; ${kept}` };
    this.health.failed(message);
    this.log.error({ source: 'static', code: 'STATIC_FILE_INVALID', file: this.file, err: message }, `static services file rejected; ${kept}`);
    return true;
  }
}

/** Parses the services file; returns a message naming the bad entry instead of throwing. */
export function parseServicesFile(text: string): ServicesSnapshot['services'] | string {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return `not valid YAML (${errorMessage(err).split('\n')[0]})`;
  }
  const root = doc ?? {};
  if (!isRecord(root)) return 'must be a mapping with a "services" key';
  const unknown = Object.keys(root).filter((k) => k !== 'services');
  if (unknown.length > 0) return `${unknown[0]}: unknown field (allowed: services)`;
  const services = root['services'] ?? {};
  if (!isRecord(services)) return 'services: must be a mapping of "namespace/name" to ports';
  const out: Record<string, { ports: Record<string, Endpoint[]> }> = {};
  for (const [ref, ports] of Object.entries(services)) {
    const refProblem = checkServiceRef(ref);
    if (refProblem) return `services: ${refProblem}`;
    if (!isRecord(ports)) return `services.${ref}: must map port names to lists of "ip:port"`;
    const parsedPorts: Record<string, Endpoint[]> = {};
    for (const [port, list] of Object.entries(ports)) {
      const field = `services.${ref}.${port}`;
      const portProblem = checkPortRef(port);
      if (portProblem) return `${field}: ${portProblem}`;
      if (!Array.isArray(list)) return `${field}: must be a list of "ip:port"`;
      const endpoints: Endpoint[] = [];
      for (const [i, item] of list.entries()) {
        const ep = typeof item === 'string' ? parseHostPort(item) : `must be a string "ip:port"`;
        if (typeof ep === 'string') return `${field}[${i}]: ${ep}`;
        endpoints.push(ep);
      }
      parsedPorts[port] = endpoints;
    }
    out[ref] = { ports: parsedPorts };
  }
  return out;
}

/**
 * The services just read, each one equal to its previous version replaced by
 * that version: the core reuses what it built for a vhost while the
 * ServiceEndpoints of its services are the same objects, so an edit to one
 * service must not renew the others. Files are small: comparing by JSON is
 * cheap, and JSON keeps the order of ports and endpoints, which matters.
 */
export function keepUnchangedServices(previous: ServicesSnapshot['services'] | null, next: ServicesSnapshot['services']): ServicesSnapshot['services'] {
  if (!previous) return next;
  const out: Record<string, ServiceEndpoints> = {};
  for (const [ref, service] of Object.entries(next)) {
    const old = Object.hasOwn(previous, ref) ? previous[ref] : undefined;
    out[ref] = old && JSON.stringify(old) === JSON.stringify(service) ? old : service;
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
