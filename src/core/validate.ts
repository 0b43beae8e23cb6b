/**
 * Validators for every value that can reach haproxy.cfg from outside. Each
 * returns null when the value is fine, or a sentence saying what is wrong.
 * They are deliberately narrow: whatever passes is safe to paste into a
 * config line (no whitespace, no "#", no quotes, no newlines).
 */

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const COLOUR = /^[a-z0-9][a-z0-9-]{0,31}$/;
const K8S_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const PORT_NAME = /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;
const HTTP_PATH = /^\/[A-Za-z0-9._~%/?=&+,;:@!$()*-]{0,255}$/;

export function checkHost(host: string): string | null {
  if (host.length > 253) return 'a host name is at most 253 characters';
  const name = host.startsWith('*.') ? host.slice(2) : host;
  const labels = name.split('.');
  if (labels.length < 1 || labels.some((l) => !DNS_LABEL.test(l))) {
    return `"${printable(host)}" is not a lower-case DNS name (optionally with one leading "*.")`;
  }
  return null;
}

const CERT_FILE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** A bare file name in the certificates directory: never a path, never hidden. */
export function checkCertificateFileName(name: string): string | null {
  return CERT_FILE.test(name) && !name.includes('..') ? null : `"${printable(name)}" must be a bare file name (letters, digits, ".", "_", "-"; no "/" and no "..")`;
}

export function checkColour(colour: string): string | null {
  return COLOUR.test(colour) ? null : `colour "${printable(colour)}" must match [a-z0-9][a-z0-9-]{0,31}`;
}

export function checkServiceRef(ref: string): string | null {
  const parts = ref.split('/');
  if (parts.length === 2 && parts.every((p) => K8S_NAME.test(p))) return null;
  return `service "${printable(ref)}" must be "namespace/name" (lower-case DNS labels)`;
}

export function checkSecretRef(ref: string): string | null {
  return checkServiceRef(ref) === null ? null : `secret "${printable(ref)}" must be "namespace/name" (lower-case DNS labels)`;
}

export function checkPortRef(port: string): string | null {
  if (/^[0-9]{1,5}$/.test(port)) return checkPortNumber(Number(port));
  // As in Kubernetes, a port name holds at least one letter, so it can never be mistaken for a number.
  return PORT_NAME.test(port) && /[a-z]/.test(port) ? null : `port "${printable(port)}" must be a port name or a number 1-65535`;
}

export function checkPortNumber(port: number): string | null {
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? null : `port ${port} is not a number 1-65535`;
}

export function checkHttpPath(path: string): string | null {
  return HTTP_PATH.test(path) ? null : `health path "${printable(path)}" must start with "/" and hold no spaces, quotes or "#"`;
}

export function isIPv4(address: string): boolean {
  const parts = address.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

export function isIPv6(address: string): boolean {
  if (!/^[0-9a-fA-F:.]{2,45}$/.test(address)) return false;
  const halves = address.split('::');
  if (halves.length > 2) return false;
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0] ?? '');
  const tail = groups(halves[1] ?? '');
  const all = [...head, ...tail];
  const last = all[all.length - 1];
  const embedsV4 = last !== undefined && last.includes('.');
  // An embedded IPv4 address can only end the address: "1.2.3.4::" is not IPv6.
  if (embedsV4 && (!isIPv4(last) || !address.endsWith(last))) return false;
  const hexGroups = embedsV4 ? all.slice(0, -1) : all;
  if (!hexGroups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  const width = hexGroups.length + (embedsV4 ? 2 : 0);
  return halves.length === 2 ? width < 8 : width === 8;
}

export function checkAddress(address: string): string | null {
  return isIPv4(address) || isIPv6(address) ? null : `"${printable(address)}" is not an IPv4 or IPv6 address`;
}

/** Parses "ip:port" or "[ipv6]:port" as written in the static services file. */
export function parseHostPort(text: string): { address: string; port: number } | string {
  const bracketed = /^\[([^\]]+)\]:([0-9]{1,5})$/.exec(text);
  const m = bracketed ?? /^([^:\]]+):([0-9]{1,5})$/.exec(text);
  if (!m) return `"${printable(text)}" must be "ip:port" or "[ipv6]:port"`;
  const address = m[1] ?? '';
  const port = Number(m[2]);
  const misplaced = bracketed && !isIPv6(address) ? `"${printable(text)}": only IPv6 addresses go in brackets` : null;
  return checkAddress(address) ?? misplaced ?? checkPortNumber(port) ?? { address: address.toLowerCase(), port };
}

/** Shows a bad value in an error message without letting it break the log line. */
export function printable(value: string): string {
  const shown = value.length > 80 ? `${value.slice(0, 80)}…` : value;
  return JSON.stringify(shown).slice(1, -1);
}
