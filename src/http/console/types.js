// @ts-check
/**
 * The shapes the console reads from the API (see src/http/vhosts.ts and
 * src/http/history.ts). Type definitions only.
 */

/** @typedef {{ name: string, address: string, status: string, check: string, up: boolean, pending: boolean }} Server */
/** @typedef {{ colour: string, name: string, service: string, port: string, healthPath: string | null, minReady: number, ready: number, up: number, servers: Server[], live: boolean }} Backend */
/** @typedef {{ code: string, source: string, message: string, host?: string }} Problem */
/** @typedef {{ source: string, serial: string, names: string[], notBefore: string, notAfter: string, chain: string[], kept: boolean }} Certificate */
/** @typedef {{ host: string, active: string | null, revision: number | null, backends: Backend[], problems: Problem[], certificate?: Certificate | null, nodes: { node: string, revision: number, active: string | null, certificateSerial?: string | null }[] }} VHost */
/** @typedef {{ node: string, revision: number, configHash: string | null, appliedAt: string | null }} NodeInfo */
/** @typedef {{ at: string, ok: boolean, mode: string | null, reason: string, durationMs: number, revision: number, code: string | null, message: string | null }} Apply */
/** @typedef {{ node: string, revision: number, vhosts: VHost[], problems: Problem[], nodes: NodeInfo[], errors: string[], applies: Apply[] }} VHostsView */
/** @typedef {{ node: string, servedAt: string | null, state: 'served' | 'late' | 'waiting' | 'missed' }} NodeServing */
/** @typedef {{ host: string, from: string, to: string, revision: number, at: string, source: 'api' | 'etcd', reason: string | null, forced: boolean, actor: string | null, timeoutMs: number, nodes: NodeServing[] }} LedgerEntry */
/** @typedef {{ host: string, entries: LedgerEntry[], unreadable: string[] }} History */

export {};
