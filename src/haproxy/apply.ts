/**
 * Applies rendered files to HAProxy with a reload, the safe way round:
 * stage the config next to the live file, check the staged file with
 * `haproxy -c`, only then write the maps and rename the config into place,
 * and reload through the master CLI, confirmed by `show proc`. A config that
 * fails the check is never applied; the last good one keeps serving.
 */
import { access, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Rendered } from '../core/model.ts';
import { errorCode, errorMessage, type ErrorCode } from '../errors.ts';
import { checkConfig, type CheckResult } from './check.ts';
import { ensureDir, promote, stage, writeIfChanged } from './files.ts';

/** What a reload returns; the master CLI client implements it. */
export interface Reloader {
  reload(): Promise<{ readonly ok: boolean; readonly durationMs: number; readonly reason: string }>;
}

export interface ApplyPaths {
  readonly binary: string;
  readonly config: string;
  readonly mapsDir: string;
}

export type ReloadOutcome =
  | { readonly ok: true; readonly check: CheckResult; readonly reloadMs: number }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly details: readonly string[]; readonly check: CheckResult | null };

export interface ReloadHooks {
  onCheck?(result: CheckResult): void;
  onReload?(ok: boolean, durationMs: number): void;
}

export class ReloadApplier {
  private readonly paths: ApplyPaths;
  private readonly reloader: Reloader;
  private readonly hooks: ReloadHooks;

  constructor(paths: ApplyPaths, reloader: Reloader, hooks: ReloadHooks = {}) {
    this.paths = paths;
    this.reloader = reloader;
    this.hooks = hooks;
  }

  async apply(rendered: Rendered): Promise<ReloadOutcome> {
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
        await promote(staged, this.paths.config);
      } finally {
        await rm(staged, { force: true });
      }
    } catch (err) {
      const message = `cannot write ${this.paths.config} or the maps in ${this.paths.mapsDir}: ${errorMessage(err)}`;
      return { ok: false, code: 'HAPROXY_FILES_UNWRITABLE', message, details: [], check: null };
    }
    return this.reload(check);
  }

  /** The config next to the live one, not yet live, with the directories and map files `haproxy -c` needs. */
  private async stageFiles(rendered: Rendered): Promise<string> {
    await ensureDir(dirname(this.paths.config));
    await ensureDir(this.paths.mapsDir);
    await this.ensureMapsExist(rendered);
    return stage(this.paths.config, rendered.config);
  }


  private async reload(check: CheckResult): Promise<ReloadOutcome> {
    const started = performance.now();
    try {
      const result = await this.reloader.reload();
      this.hooks.onReload?.(result.ok, result.durationMs);
      if (result.ok) return { ok: true, check, reloadMs: result.durationMs };
      const message = `HAProxy did not confirm the reload${result.reason ? `: ${result.reason}` : ''}`;
      return { ok: false, code: 'HAPROXY_RELOAD_FAILED', message, details: [], check };
    } catch (err) {
      this.hooks.onReload?.(false, performance.now() - started);
      const code: ErrorCode = errorCode(err) === 'HAPROXY_SOCKET_UNREACHABLE' ? 'HAPROXY_UNREACHABLE' : 'HAPROXY_RELOAD_FAILED';
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
