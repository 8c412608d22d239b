/**
 * "Wrong" secrets that are wrong for certain. A secret with its last character
 * replaced by a fixed one (`x`) is the real secret whenever that character
 * already was `x` — one run in 64 for a base64url secret — and such a test
 * fails at random. These helpers change characters to ones they were not.
 */

/** `text` with the character at `at` (negative: from the end) replaced by a different one. */
export function flip(text: string, at: number): string {
  const i = at < 0 ? text.length + at : at;
  if (i < 0 || i >= text.length) throw new RangeError(`no character ${at} in a text of ${text.length}`);
  return `${text.slice(0, i)}${text[i] === 'Z' ? 'Y' : 'Z'}${text.slice(i + 1)}`;
}

/**
 * A token naming the same session and device as `token` (`tss1_<session>.<device>.<secret>`)
 * whose secret differs from the real one in every character, at the same length.
 */
export function withWrongSecret(token: string): string {
  const dot = token.lastIndexOf('.');
  if (dot < 0) throw new TypeError('not a tss1_ token');
  const secret = token.slice(dot + 1);
  return `${token.slice(0, dot + 1)}${secret.replace(/./g, (c) => (c === 'A' ? 'B' : 'A'))}`;
}
