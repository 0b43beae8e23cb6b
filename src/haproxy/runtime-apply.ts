/**
 * Applies a runtime plan without a reload: writes the files a reload would
 * read, sends the slot fills (addresses, then once accepted the ready
 * states) and reads them back, then the map changes and frees, then reads
 * HAProxy's state back (show map, show servers state) and compares it with the
 * target. A refused command or any difference is reported as a failure,
 * which the reconciler answers with a checked reload: HAProxy then loads the
 * files, so it is never left half-updated.
 */
import { join } from 'node:path';
import type { Rendered, Slot } from '../core/model.ts';
import { sameEndpoint } from '../core/drift.ts';
import { mapEntries, type CertificateOp, type RuntimeOp } from '../core/plan.ts';
import { applyCertificateOps, verifyCertificates, writeCertificateFiles, type CertificateApi } from './certificates.ts';
import { mapPath } from '../core/render.ts';
import { endpointKey, type Layout } from '../core/slots.ts';
import { errorCode, errorMessage, type ErrorCode } from '../errors.ts';
import { ensureDir, flush, writeIfChanged } from './files.ts';
import type { RuntimeClient, ServerState } from './runtime.ts';

/** The part of the Runtime API client this needs. */
export type RuntimeApi = Pick<RuntimeClient, 'setMap' | 'setServerAddr' | 'setServerState' | 'showMap' | 'showServersState'> & Partial<CertificateApi>;

export interface RuntimePaths {
  readonly config: string;
  readonly mapsDir: string;
  /** Where the crt-list and the vhosts' certificates are written; needed once HTTPS is on. */
  readonly certsDir?: string;
}

export type RuntimeOutcome =
  | { readonly ok: true; readonly commands: number }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

type FillOp = Extract<RuntimeOp, { kind: 'fill-slot' }>;

/** What the runtime changes must leave HAProxy running. */
export interface RuntimeTarget {
  readonly layout: Layout;
  readonly rendered: Rendered;
}

// Bounds the length of a failure message when many things differ at once.
const SHOWN_PROBLEMS = 3;

export class RuntimeApplier {
  private readonly paths: RuntimePaths;
  private readonly api: RuntimeApi;
  private mapsDirMade = false;

  constructor(paths: RuntimePaths, api: RuntimeApi) {
    this.paths = paths;
    this.api = api;
  }

  async apply(ops: readonly RuntimeOp[], target: RuntimeTarget): Promise<RuntimeOutcome> {
    const maps = await this.writeMaps(target.rendered);
    if (!Array.isArray(maps)) return maps;
    const applied = await this.applyOps(ops, target);
    // The config (megabytes at scale) and the fsyncs follow the commands: they only matter to a later
    // load, and a failed write still ends in the fallback reload, which writes the files again or reports it.
    return (await this.writeConfig(target.rendered, maps)) ?? applied;
  }

  private async applyOps(ops: readonly RuntimeOp[], target: RuntimeTarget): Promise<RuntimeOutcome> {
    // New and changed certificates first, so a map line never points at a certificate HAProxy lacks;
    // removed ones last, once nothing refers to them.
    const certs = ops.filter(isCertificateOp);
    const plain = ops.filter((op): op is PlainOp => !isCertificateOp(op));
    const before = await this.certificates(certs.filter((op) => op.kind !== 'del-cert'));
    if (!before.ok) return before;
    const sent = await this.applyPlain(plain, target);
    if (!sent.ok) return sent;
    const after = await this.certificates(certs.filter((op) => op.kind === 'del-cert'));
    if (!after.ok) return after;
    const verified = await this.verifyCertificates(certs);
    return verified ?? { ok: true, commands: sent.commands + before.commands + after.commands };
  }

  private async applyPlain(ops: readonly PlainOp[], target: RuntimeTarget): Promise<RuntimeOutcome> {
    // A refused command must not let a later one take effect: a slot is made ready only once its address
    // is accepted, and the map lines that may send traffic to new servers change only once every fill is
    // read back as it should be.
    const fills = ops.filter((op): op is FillOp => op.kind === 'fill-slot');
    const rest = ops.filter((op) => op.kind !== 'fill-slot');
    let commands = 0;
    const steps: Array<{ commands: () => Array<Promise<void>>; verify: readonly PlainOp[] | null }> = [
      ...(fills.length > 0
        ? [
            { commands: () => fills.map((op) => this.setAddress(op)), verify: null },
            { commands: () => fills.map((op) => this.setReady(op)), verify: fills },
          ]
        : []),
      ...(rest.length > 0 ? [{ commands: () => rest.flatMap((op) => this.commands(op)), verify: rest }] : []),
    ];
    for (const step of steps) {
      const sent = await this.send(step.commands);
      if (!sent.ok) return sent;
      commands += sent.commands;
      const wrong = step.verify && (await this.verify(step.verify, target));
      if (wrong) return wrong;
    }
    return { ok: true, commands };
  }

  private setAddress(op: FillOp): Promise<void> {
    return this.api.setServerAddr(op.backend, op.server, op.endpoint.address, op.endpoint.port);
  }

  private setReady(op: FillOp): Promise<void> {
    return this.api.setServerState(op.backend, op.server, 'ready');
  }

  /** One certificate transaction at a time, as HAProxy allows; in order, each confirmed before the next. */
  private async certificates(ops: readonly CertificateOp[]): Promise<RuntimeOutcome> {
    if (ops.length === 0) return { ok: true, commands: 0 };
    return applyCertificateOps(this.certificateApi(), ops);
  }

  private async verifyCertificates(ops: readonly CertificateOp[]): Promise<RuntimeOutcome | null> {
    if (ops.length === 0) return null;
    return verifyCertificates(this.certificateApi(), ops);
  }

  private certificateApi(): CertificateApi {
    const api = this.api;
    if (!api.setSslCert || !api.commitSslCert || !api.abortSslCert || !api.newSslCert || !api.delSslCert || !api.addCrtListEntry || !api.delCrtListEntry || !api.showSslCert) {
      throw new Error('this Runtime API client cannot change certificates');
    }
    return api as CertificateApi;
  }

  /**
   * Maps and certificates first: whatever reloads HAProxy next (the fallback
   * reload, an operator, a restart) then reads the new routing, and the
   * commands only bring the running workers to what the files already say.
   * The maps are flushed to disk, and the config written, after the commands
   * (see apply); until then a restart of HAProxy may load the previous
   * servers, which the drift check then repairs. Returns the maps written.
   *
   * No `haproxy -c` here. The planner sends a change this way only when the
   * templates, and everything they see apart from slot contents, equal those
   * of the config HAProxy last loaded after a check; the new text therefore
   * differs from a checked one only in server addresses, ports and the
   * `disabled` word, all validated values. A check would cost what this path
   * exists to avoid (0.5–1.6 s and ~500 MB at 10,000 backends), and every
   * reload still checks the whole file first.
   */
  private async writeMaps(rendered: Rendered): Promise<string[] | RuntimeOutcome> {
    try {
      if (!this.mapsDirMade) await ensureDir(this.paths.mapsDir);
      this.mapsDirMade = true;
      const maps = Object.entries(rendered.maps).map(([name, text]) => [join(this.paths.mapsDir, name), text] as const);
      const written = await Promise.all(maps.map(async ([path, text]) => ((await writeIfChanged(path, text, 0o644, false)) ? [path] : [])));
      if (this.paths.certsDir && rendered.certificates) await writeCertificateFiles(this.paths.certsDir, rendered.certificates, true);
      return written.flat();
    } catch (err) {
      this.mapsDirMade = false;
      return this.unwritable(err);
    }
  }

  private async writeConfig(rendered: Rendered, maps: readonly string[]): Promise<RuntimeOutcome | null> {
    try {
      await flush(maps);
      await writeIfChanged(this.paths.config, rendered.config);
      return null;
    } catch (err) {
      return this.unwritable(err);
    }
  }

  private unwritable(err: unknown): RuntimeOutcome {
    return { ok: false, code: 'HAPROXY_FILES_UNWRITABLE', message: `cannot write ${this.paths.config} or the map files in ${this.paths.mapsDir}: ${errorMessage(err)}` };
  }

  private async send(commands: () => Array<Promise<void>>): Promise<RuntimeOutcome> {
    // Issued in one tick, so the client pipelines them on one connection, in this order.
    const results = await Promise.allSettled(commands());
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length === 0) return { ok: true, commands: results.length };
    const shown = failures.slice(0, SHOWN_PROBLEMS).map(errorMessage).join('; ');
    return { ok: false, code: runtimeCode(failures[0]), message: `${failures.length} of ${results.length} Runtime API commands failed: ${shown}` };
  }

  private commands(op: PlainOp): Array<Promise<void>> {
    switch (op.kind) {
      case 'fill-slot':
        return [this.setAddress(op), this.setReady(op)];
      case 'set-map':
        return [this.api.setMap(this.mapRef(op.map), op.key, op.value)];
      case 'free-slot':
        return [this.api.setServerState(op.backend, op.server, 'maint')];
    }
  }

  /** Reads back every map and backend the ops touched, whole, so drift made out of band shows too. */
  private async verify(ops: readonly PlainOp[], target: RuntimeTarget): Promise<RuntimeOutcome | null> {
    const maps = [...new Set(ops.flatMap((op) => (op.kind === 'set-map' ? [op.map] : [])))];
    const backends = [...new Set(ops.flatMap((op) => (op.kind === 'set-map' ? [] : [op.backend])))];
    const reads = await Promise.allSettled([
      ...maps.map(async (map) => mapDifferences(map, await this.api.showMap(this.mapRef(map)), target.rendered.maps[map] ?? '')),
      ...backends.map(async (backend) => slotDifferences(backend, await this.api.showServersState(backend), target.layout[backend] ?? [])),
    ]);
    const failed = reads.find((r) => r.status === 'rejected');
    if (failed) return { ok: false, code: runtimeCode(failed.reason), message: `reading HAProxy's state back failed: ${errorMessage(failed.reason)}` };
    const differences = reads.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
    if (differences.length === 0) return null;
    const more = differences.length > SHOWN_PROBLEMS ? ` (+${differences.length - SHOWN_PROBLEMS} more)` : '';
    return { ok: false, code: 'HAPROXY_STATE_MISMATCH', message: `after the Runtime API changes, ${differences.slice(0, SHOWN_PROBLEMS).join('; ')}${more}` };
  }

  /** HAProxy names a map by the path the config loaded it from. */
  private mapRef(file: string): string {
    return mapPath(this.paths, file);
  }
}

type PlainOp = Exclude<RuntimeOp, CertificateOp>;

function isCertificateOp(op: RuntimeOp): op is CertificateOp {
  return op.kind === 'set-cert' || op.kind === 'add-cert' || op.kind === 'del-cert';
}

function mapDifferences(map: string, live: ReadonlyMap<string, string>, text: string): string[] {
  const expected = mapEntries(text);
  const problems: string[] = [];
  for (const [key, value] of expected) {
    const got = live.get(key);
    if (got !== value) problems.push(`${map}: ${key} is ${got === undefined ? 'missing' : `"${got}"`}, expected "${value}"`);
  }
  const wanted = new Set(expected.map(([key]) => key));
  for (const key of live.keys()) if (!wanted.has(key)) problems.push(`${map}: unexpected key ${key}`);
  return problems;
}

function slotDifferences(backend: string, live: readonly ServerState[], slots: readonly Slot[]): string[] {
  const byName = new Map(live.map((s) => [s.name, s]));
  return slots.flatMap((slot) => {
    const server = byName.get(slot.name);
    const where = `${backend}/${slot.name}`;
    if (!server) return [`${where} does not exist in HAProxy`];
    if (slot.endpoint === null) return server.adminState === 'maint' ? [] : [`${where} should be free (maint) but is ${server.adminState}`];
    if (!sameEndpoint(server, slot.endpoint)) return [`${where} is ${server.addr}:${server.port}, expected ${endpointKey(slot.endpoint)}`];
    return server.adminState === 'ready' ? [] : [`${where} holds ${endpointKey(slot.endpoint)} but is ${server.adminState}`];
  });
}

function runtimeCode(err: unknown): ErrorCode {
  switch (errorCode(err)) {
    case 'HAPROXY_COMMAND_FAILED':
    case 'HAPROXY_INVALID_ARGUMENT':
      return 'HAPROXY_COMMAND_FAILED';
    default:
      return 'HAPROXY_UNREACHABLE';
  }
}
