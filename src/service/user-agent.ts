/**
 * Browser, operating system and platform from a stored User-Agent, for
 * "my devices" pages — by Bowser (MIT), not by hand-written patterns. User
 * agents repeat across devices and reads, so answers are kept in a small LRU.
 */
import Bowser from 'bowser';
import { LRUCache } from 'lru-cache';

export interface Software {
  readonly name: string;
  readonly version?: string;
}

export interface ParsedUserAgent {
  readonly browser?: Software;
  readonly os?: Software;
  /** `desktop`, `mobile`, `tablet`, `tv` or `bot`, when recognised. */
  readonly platform?: string;
}

const parsed = new LRUCache<string, ParsedUserAgent>({ max: 2_000 });

function software(name: string | undefined, version: string | undefined): Software | undefined {
  if (!name) return undefined;
  return version ? { name, version } : { name };
}

/** What the user agent says; nothing for one the parser does not recognise (or cannot read). */
export function parseUserAgent(userAgent: string): ParsedUserAgent {
  if (userAgent.trim() === '') return {};
  let result = parsed.get(userAgent);
  if (result === undefined) {
    result = parse(userAgent);
    parsed.set(userAgent, result);
  }
  return result;
}

function parse(userAgent: string): ParsedUserAgent {
  let ua: Bowser.Parser.ParsedResult;
  try {
    ua = Bowser.parse(userAgent);
  } catch {
    return {};
  }
  const browser = software(ua.browser.name, ua.browser.version);
  // Windows reports "NT 10.0" as its version and "10" as its name for it.
  const os = software(ua.os.name, ua.os.name === 'Windows' ? (ua.os.versionName ?? ua.os.version) : ua.os.version);
  return {
    ...(browser ? { browser } : {}),
    ...(os ? { os } : {}),
    ...(ua.platform.type ? { platform: ua.platform.type } : {}),
  };
}
