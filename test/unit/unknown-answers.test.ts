/**
 * An answer haproxy-sync does not know is a failure carrying its text, never
 * a silent success: checked against a fake HAProxy on a UNIX socket that
 * answers some commands in words no version uses. A Runtime API failure
 * leads the reconciler to a checked reload.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import type { EtcdSnapshot, ServicesSnapshot, TemplatesSnapshot } from '../../src/core/model.ts';
import { MasterClient } from '../../src/haproxy/master.ts';
import { RuntimeClient } from '../../src/haproxy/runtime.ts';
import { RuntimeApplier } from '../../src/haproxy/runtime-apply.ts';
import { Reconciler, type SyncReport } from '../../src/reconcile/reconciler.ts';
import { SourceHealth, type Source, type SourceName } from '../../src/sources/source.ts';
import { fakeHaproxy, SHOW_PROC_30 } from '../helpers/fake-haproxy.ts';
import { tmpDir } from '../helpers/tmp.ts';

t.test('the Runtime API: an unknown answer to a typed command is a refusal quoting it', async (t) => {
  const socket = join(tmpDir(t), 'admin.sock');
  const counted: boolean[] = [];
  await fakeHaproxy(t, socket, (cmd) => (cmd.startsWith('set server') && cmd.includes(' addr ') ? 'Address updated, probably.' : cmd.startsWith('set map') ? 'OK' : ''));
  const runtime = new RuntimeClient({ socket, onCommand: (ok) => counted.push(ok) });
  await t.rejects(runtime.setServerAddr('be', 's1', '10.0.0.1', 80), { code: 'HAPROXY_COMMAND_FAILED', answer: 'Address updated, probably.', message: /set server be\/s1 addr 10\.0\.0\.1 port 80.*Address updated, probably\./ });
  await t.rejects(runtime.setMap('/m.map', 'a.example', 'be'), { code: 'HAPROXY_COMMAND_FAILED', message: /"set map \/m\.map a\.example be": OK$/ });
  await runtime.setServerState('be', 's1', 'ready');
  t.same(counted, [false, false, true], 'refusals are counted as errors');
});

t.test('the master CLI: an unknown answer to reload is a failure quoting it, not a success', async (t) => {
  const socket = join(tmpDir(t), 'master.sock');
  const seen = await fakeHaproxy(t, socket, (cmd) => (cmd === 'show proc' ? SHOW_PROC_30 : cmd === 'reload' ? 'Reload scheduled.' : 'Unknown command.'));
  const master = new MasterClient({ socket });
  await t.rejects(master.reload({ timeoutMs: 2000 }), { code: 'HAPROXY_RELOAD_FAILED', answer: 'Reload scheduled.', message: /does not know: Reload scheduled\./ });
  t.same(seen, ['show proc', 'reload'], 'asked once, not retried as if busy');
});

t.test('the master CLI: a version before 2.6 is refused before reloading', async (t) => {
  const socket = join(tmpDir(t), 'master.sock');
  // 2.4 prints show proc with a "relative PID" column this parser does not know.
  const seen = await fakeHaproxy(t, socket, (cmd) =>
    cmd === 'show version' ? '2.4.22-0+deb11u1' : cmd === 'show proc' ? '#<PID> <type> <relative PID> <reloads> <uptime> <version>\n100 master 0 0 0d00h00m10s 2.4.22' : '',
  );
  await t.rejects(new MasterClient({ socket }).reload(), { code: 'HAPROXY_VERSION_UNSUPPORTED', message: /HAProxy 2\.4\.22-0\+deb11u1; haproxy-sync needs HAProxy 2\.6 or later/ });
  t.notOk(seen.includes('reload'), 'no reload sent');
});

class Fixed<S> implements Source<S> {
  readonly name: SourceName;
  private readonly health: SourceHealth;
  value: S;
  constructor(name: SourceName, value: S) {
    this.name = name;
    this.value = value;
    this.health = new SourceHealth(name);
    this.health.synced = true;
    this.health.event();
  }
  start(): void {}
  snapshot(): S {
    return this.value;
  }
  status() {
    return this.health.status();
  }
  async stop(): Promise<void> {}
}

function templates(): TemplatesSnapshot {
  const dir = new URL('../../templates/', import.meta.url).pathname;
  return { dir, files: Object.fromEntries(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name), 'utf8')])) };
}

t.test('pod churn answered in unknown words falls back to a checked reload', async (t) => {
  const dir = tmpDir(t);
  const socket = join(dir, 'admin.sock');
  await fakeHaproxy(t, socket, (cmd) => (cmd.includes(' addr ') ? 'Server moved.' : ''));
  const spec = JSON.stringify({ backends: { blue: { service: 'shop/web', port: 'http' } } });
  const etcd = new Fixed<EtcdSnapshot>('etcd', { prefix: '/haproxy-sync/', revision: 5, entries: { 'vhosts/shop.example/spec': { value: spec, modRevision: 5 } } });
  const pods = (...ports: number[]): ServicesSnapshot => ({ services: { 'shop/web': { ports: { http: ports.map((port) => ({ address: '10.0.0.1', port })) } } }, problems: [] });
  const services = new Fixed<ServicesSnapshot>('static', pods(8080));
  const paths = { config: join(dir, 'haproxy.cfg'), mapsDir: join(dir, 'maps') };
  const runtime = new RuntimeApplier(paths, new RuntimeClient({ socket }));
  let reloads = 0;
  const reports: SyncReport[] = [];
  const reconciler = new Reconciler({
    etcd,
    services: [services],
    templates: new Fixed<TemplatesSnapshot>('templates', templates()),
    settings: { node: 'lb-1', adminSocket: socket, mapsDir: paths.mapsDir, bind: [['127.0.0.1:80']], spareSlots: 2 },
    reload: async () => {
      reloads++;
      return { ok: true as const, check: { ok: true, messages: [], durationMs: 1 }, reloadMs: 1 };
    },
    runtime: (ops, target) => runtime.apply(ops, target),
    log: pino({ level: 'silent' }),
    observer: { onSynced: (report) => reports.push(report) },
  });
  await reconciler.sync();
  t.equal(reloads, 1, 'the first sync reloads');
  services.value = pods(8080, 8081);
  await reconciler.sync();
  t.equal(reloads, 2, 'the churn was applied by a reload after all');
  t.match(reports.at(-1), { ok: true, mode: 'reload', fallback: { code: 'HAPROXY_COMMAND_FAILED', message: /Server moved\./ } });
});
