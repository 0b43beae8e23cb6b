/**
 * Applies rendered files to HAProxy with a reload, the safe way round:
 * stage the config next to the live file, check the staged file with
 * `haproxy -c`, only then write the maps and rename the config into place,
 * and reload through the master CLI, confirmed as the HAProxy version allows
 * (its answer from 2.7, `show proc` on 2.6). A config that
 * fails the check is never applied; the last good one keeps serving.
 */
import { access, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Rendered } from '../core/model.ts';
import { errorCode, errorMessage, type ErrorCode } from '../errors.ts';
import { checkConfig, type CheckResult } from './check.ts';
import { EMPTY_SERVER_STATE, filterServerState, type KeptSlots } from '../core/server-state.ts';
import { writeCertificateFiles } from './certificates.ts';
import { ensureDefaultCertificate } from './default-certificate.ts';
import { ensureDir, keepFirstVersion, promote, stage, writeAtomic, writeIfChanged } from './files.ts';

/** What a reload returns; the master CLI client implements it. */
export interface Reloader {
  reload(): Promise<{ readonly ok: boolean; readonly durationMs: number; readonly reason: string }>;
}

export interface ApplyPaths {
  readonly binary: string;
  readonly config: string;
  readonly mapsDir: string;
  /** HAProxy's server-state file (the config's `server-state-file`); unset when the templates use none. */
  readonly serverStateFile?: string;
  /** Where the crt-list and certificates go once HTTPS is on. */
  readonly certsDir?: string;
}

/** `show servers state` of the running workers, raw. */
export type DumpServers = () => Promise<string>;

export type ReloadOutcome =
  | { readonly ok: true; readonly check: CheckResult; readonly reloadMs: number }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly details: readonly string[]; readonly check: CheckResult | null };

export interface ReloadHooks {
  onCheck?(result: CheckResult): void;
  onReload?(ok: boolean, durationMs: number): void;
  /** The config found in place before the first one haproxy-sync wrote was copied to `backup`. */
  onBackup?(config: string, backup: string): void;
}

export class ReloadApplier {
  private readonly paths: ApplyPaths;
  private readonly reloader: Reloader;
  private readonly hooks: ReloadHooks;

  private readonly dumpServers: DumpServers | null;

  constructor(paths: ApplyPaths, reloader: Reloader, hooks: ReloadHooks = {}, dumpServers: DumpServers | null = null) {
    this.paths = paths;
    this.reloader = reloader;
    this.hooks = hooks;
    this.dumpServers = dumpServers;
  }

  /** `kept`: the slots whose HAProxy state (health, DRAIN) the new workers take over. */
  async apply(rendered: Rendered, kept: KeptSlots = new Map()): Promise<ReloadOutcome> {
    let check: CheckResult;
    try {
      const staged = await this.stageFiles(rendered);
      try {
        check = await checkConfig(this.paths.binary, staged);
        this.hooks.onCheck?.(check);
        if (check.unavailable) {
          return { ok: false, code: 'HAPROXY_CHECK_UNAVAILABLE', message: `could not validate the rendered config: ${check.messages.join(' | ')}`, details: check.messages, check };
        }
        if (!check.ok) {
          return { ok: false, code: 'HAPROXY_CHECK_FAILED', message: `haproxy -c rejected the rendered config: ${check.messages.join(' | ')}`, details: check.messages, check };
        }
        for (const [name, text] of Object.entries(rendered.maps)) await writeIfChanged(join(this.paths.mapsDir, name), text);
        const backup = await keepFirstVersion(this.paths.config);
        if (backup) this.hooks.onBackup?.(this.paths.config, backup);
        await promote(staged, this.paths.config, rendered.config);
        await this.saveServerState(kept);
      } finally {
        await rm(staged, { force: true });
      }
    } catch (err) {
      const message = `cannot write ${this.paths.config} or the maps in ${this.paths.mapsDir}: ${errorMessage(err)}`;
      return { ok: false, code: 'HAPROXY_FILES_UNWRITABLE', message, details: [], check: null };
    }
    try {
      return await this.reload(check);
    } finally {
      // Read by the new workers by now: a later reload by anyone else must not apply it to slots that moved since.
      await this.clearServerState();
    }
  }

  /** Just before the reload, so the saved health is as fresh as it can be. A failed dump keeps nothing: servers then start as HAProxy starts them. */
  private async saveServerState(kept: KeptSlots): Promise<void> {
    if (!this.paths.serverStateFile) return;
    let text = EMPTY_SERVER_STATE;
    if (this.dumpServers && kept.size > 0) text = await this.dumpServers().then((dump) => filterServerState(dump, kept), () => EMPTY_SERVER_STATE);
    await writeAtomic(this.paths.serverStateFile, text);
  }

  private async clearServerState(): Promise<void> {
    if (this.paths.serverStateFile) await writeAtomic(this.paths.serverStateFile, EMPTY_SERVER_STATE).catch(() => {});
  }

  /** The config next to the live one, not yet live, with the directories and map files `haproxy -c` needs. */
  private async stageFiles(rendered: Rendered): Promise<string> {
    await ensureDir(dirname(this.paths.config));
    await ensureDir(this.paths.mapsDir);
    if (this.paths.serverStateFile) {
      await ensureDir(dirname(this.paths.serverStateFile));
      // `haproxy -c` warns about a missing state file.
      await access(this.paths.serverStateFile).catch(() => writeAtomic(this.paths.serverStateFile ?? '', EMPTY_SERVER_STATE));
    }
    await this.ensureMapsExist(rendered);
    // Certificates are validated before they get here, and `haproxy -c` reads them: written before the check.
    if (this.paths.certsDir && rendered.certificates && Object.keys(rendered.certificates).length > 0) {
      await ensureDefaultCertificate(this.paths.certsDir);
      await writeCertificateFiles(this.paths.certsDir, rendered.certificates);
    }
    return stage(this.paths.config, rendered.config);
  }

  private async reload(check: CheckResult): Promise<ReloadOutcome> {
    const started = performance.now();
    try {
      const result = await this.reloader.reload();
      this.hooks.onReload?.(result.ok, result.durationMs);
      if (result.ok) return { ok: true, check, reloadMs: result.durationMs };
      const message = result.reason || 'HAProxy did not confirm the reload';
      return { ok: false, code: 'HAPROXY_RELOAD_FAILED', message, details: [], check };
    } catch (err) {
      this.hooks.onReload?.(false, performance.now() - started);
      const code = reloadErrorCode(errorCode(err));
      return { ok: false, code, message: `reload failed: ${errorMessage(err)}`, details: [], check };
    }
  }

  /** `haproxy -c` needs the map files the config names; create empty ones on a first run. */
  private async ensureMapsExist(rendered: Rendered): Promise<void> {
    for (const name of Object.keys(rendered.maps)) {
      const path = join(this.paths.mapsDir, name);
      await access(path).catch(() => writeFile(path, '', { flag: 'wx' }).catch(() => {}));
    }
  }
}

function reloadErrorCode(code: string): ErrorCode {
  switch (code) {
    case 'HAPROXY_SOCKET_UNREACHABLE':
      return 'HAPROXY_UNREACHABLE';
    case 'HAPROXY_VERSION_UNSUPPORTED':
      return 'HAPROXY_VERSION_UNSUPPORTED';
    default:
      return 'HAPROXY_RELOAD_FAILED';
  }
}
